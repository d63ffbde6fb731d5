"""Ground truth: who every simulated person really is, and what was planted.

Everything here is computed from the final (time-filtered) event log, so the files
agree with the events by construction. Files are written atomically (temp file, fsync,
rename) under ``<ws>/ground_truth/<project>/``; docs/simulator.md describes them.
The simulation runs in chunks of persons: per-chunk tables are appended to a
``ParquetSink`` and per-chunk counts are added up, so no step needs all events at once.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from cxlens.simulate import journeys as jr
from cxlens.simulate.eventlog import EVENTS, E
from cxlens.simulate.personas import Persona
from cxlens.simulate.site import DEVICE_PROFILES, LOCALES

STAGES = ("awareness", "consideration", "decision", "fulfillment", "renewal")


def _fsync_replace(tmp: Path, dest: Path) -> None:
    fd = os.open(tmp, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    tmp.replace(dest)


def write_json(path: Path, doc: Any) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(orjson.dumps(doc, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS))
    _fsync_replace(tmp, path)


def write_parquet(path: Path, table: pa.Table) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    pq.write_table(table, tmp, compression="zstd")
    _fsync_replace(tmp, path)


def stage_reached(log: dict[str, np.ndarray], n: int, business: str) -> np.ndarray:
    """Index into STAGES of the furthest stage each person reached."""
    code, person = log["code"], log["person"]

    def has(*codes: int, at_least: int = 1) -> np.ndarray:
        return np.bincount(person[np.isin(code, codes)], minlength=n) >= at_least

    stage = np.zeros(n, np.int64)
    stage = np.where(has(E.PRODUCT_VIEWED, E.WHITEPAPER, E.DEMO_REQUESTED), 1, stage)
    decided = has(E.ORDER_COMPLETED, E.CONTRACT_SIGNED)
    stage = np.where(decided, 2, stage)
    stage = np.where(decided & has(E.ORDER_DELIVERED), 3, stage)
    renewed = has(E.ORDER_COMPLETED, at_least=2) | has(E.CONTRACT_RENEWED)
    return np.where(decided & renewed, 4, stage)


Counts = dict[str, np.ndarray]


def chunk_counts(log: dict[str, np.ndarray], persona: np.ndarray, n_personas: int, stage: np.ndarray,
                 dev_profile: np.ndarray, help_page: int, persons: pa.Table) -> Counts:
    """Additive counts of one chunk; ``add_counts`` sums chunks, ``summary`` and
    ``measured_pain_points`` turn the totals into the ground-truth documents. Sessions
    never span chunks, so per-session measures add up exactly."""
    code, person, val = log["code"], log["person"], log["val"]
    ev_persona = persona[person].astype(np.int64)
    orders = code == E.ORDER_COMPLETED
    money = np.isin(code, (E.ORDER_COMPLETED, E.CONTRACT_SIGNED, E.CONTRACT_RENEWED))
    k = n_personas
    stages = np.stack([np.bincount(persona[stage >= i].astype(np.int64), minlength=k)
                       for i in range(len(STAGES))], axis=1)
    # (a) payment step: views and losses, mobile vs desktop/tablet
    sess = log["sess"]
    pay = (code == E.CHECKOUT_STEP) & (log["aux"] == 3)
    lost = ~np.isin(sess[pay], sess[orders])
    mobile = np.isin(dev_profile[person[pay], np.maximum(log["dev"][pay], 0)], (2, 3))
    # (c) loops on the help page
    hv = (code == E.PAGE) & (log["page"] == help_page)
    s, per_sess = np.unique(sess[hv], return_counts=True)
    started = sess[code == E.CHECKOUT_STARTED]
    loop_s, single_s = s[per_sess >= jr.LOOP_MIN_HELP_VIEWS], s[per_sess == 1]
    # (b) late deliveries: churn, tickets and NPS of persons with and without one
    late = persons.column("late_delivery").to_numpy(zero_copy_only=False)
    churned = persons.column("churned").to_numpy(zero_copy_only=False)
    buyers = persons.column("orders").to_numpy() > 0
    tickets = np.bincount(person[code == E.TICKET_CREATED], minlength=len(persona)) > 0
    nps_m = (code == E.SURVEY_ANSWERED) & (log["aux"] // 10 == 0)
    nps, nps_late = val[nps_m], late[person[nps_m]]
    return {
        "by_event": np.bincount(code, minlength=len(EVENTS)),
        "persons": np.bincount(persona.astype(np.int64), minlength=k),
        "events": np.bincount(ev_persona, minlength=k),
        "orders": np.bincount(ev_persona[orders], minlength=k),
        "revenue": np.bincount(ev_persona[money], weights=val[money], minlength=k),
        "order_revenue": np.array([val[orders].sum()]),
        "stages": stages,
        "payment": np.array([mobile.sum(), lost[mobile].sum(), (~mobile).sum(), lost[~mobile].sum()]),
        "loops": np.array([len(loop_s), np.isin(loop_s, started).sum(), len(single_s),
                           np.isin(single_s, started).sum()]),
        "late": np.array([
            late.sum(),
            churned[late & buyers].sum(), (late & buyers).sum(),
            churned[~late & buyers].sum(), (~late & buyers).sum(),
            tickets[late].sum(), late.sum(), tickets[~late & buyers].sum(), (~late & buyers).sum(),
            nps[nps_late].sum(), nps_late.sum(), nps[~nps_late].sum(), (~nps_late).sum(),
        ], dtype=np.float64),
    }


def add_counts(total: Counts | None, more: Counts) -> Counts:
    return dict(more) if total is None else {k: total[k] + more[k] for k in total}


def _ratio(num: float, den: float) -> float | None:
    return float(num / den) if den else None


def summary(c: Counts, personas: tuple[Persona, ...], business: str, feedback_rows: int) -> dict[str, Any]:
    per_persona = {
        p.key: {
            "persons": int(c["persons"][k]),
            "events": int(c["events"][k]),
            "orders": int(c["orders"][k]),
            "revenue": round(float(c["revenue"][k]), 2),
            "stages": {s: int(c["stages"][k, i]) for i, s in enumerate(STAGES)},
        }
        for k, p in enumerate(personas)
    }
    names = [nm or t for t, nm in EVENTS]
    return {
        "business": business,
        "persons": int(c["persons"].sum()),
        "events": int(c["by_event"].sum()),
        "orders": int(c["orders"].sum()),
        "revenue": round(float(c["revenue"].sum()), 2),
        "order_revenue": round(float(c["order_revenue"][0]), 2),
        "feedback": feedback_rows,
        "by_event": {names[i]: int(n) for i, n in enumerate(c["by_event"]) if n},
        "per_persona": per_persona,
        "stages_reached": {s: int(c["stages"][:, i].sum()) for i, s in enumerate(STAGES)},
    }


def payment_loss(c: Counts) -> dict[str, float]:
    """Share of visits that viewed the payment step and did not complete the order."""
    mv, ml, dv, dl = (float(x) for x in c["payment"])
    out = {"mobile_payment_views": mv, "mobile_loss": ml / mv if mv else float("nan"),
           "desktop_tablet_payment_views": dv, "desktop_tablet_loss": dl / dv if dv else float("nan")}
    if out["desktop_tablet_loss"] > 0:
        out["ratio"] = out["mobile_loss"] / out["desktop_tablet_loss"]
    return out


def loops(c: Counts) -> dict[str, float]:
    ls, lc, ss, sc = (float(x) for x in c["loops"])
    return {"loop_sessions": ls, "loop_sessions_with_checkout": lc, "single_view_sessions": ss,
            "single_view_checkout_rate": sc / ss if ss else 0.0}


def late_delivery(c: Counts) -> dict[str, float | int | None]:
    (n_late, cl, cld, co, cod, tl, tld, to, tod, nl, nld, no, nod) = (float(x) for x in c["late"])
    return {
        "persons_with_late_delivery": int(n_late),
        "churn_rate_late": _ratio(cl, cld),
        "churn_rate_on_time": _ratio(co, cod),
        "ticket_rate_late": _ratio(tl, tld),
        "ticket_rate_on_time": _ratio(to, tod),
        "mean_nps_late": _ratio(nl, nld),
        "mean_nps_on_time": _ratio(no, nod),
    }


def persons_table(log: dict[str, np.ndarray], persona: np.ndarray, personas: tuple[Persona, ...],
                  anon_ids: pa.Array, user_ids: pa.Array, emails: pa.Array,
                  dev_profile: np.ndarray, locale: np.ndarray, facts: dict[str, np.ndarray],
                  stage: np.ndarray, account_ids: pa.Array, acct: np.ndarray,
                  role: np.ndarray, roles: tuple[str, ...], first_person: int = 0) -> pa.Table:
    """One row per person of a chunk; built from whole columns (no loop per person), so a
    million persons take seconds. ``first_person`` numbers the chunk's persons globally."""
    n = len(persona)
    person, dev, code = log["person"], log["dev"], log["code"]
    used = np.stack([np.bincount(person[dev == k], minlength=n) > 0 for k in range(3)], axis=1)
    idm = code == E.IDENTIFY
    ided = np.stack([np.bincount(person[idm & (dev == k)], minlength=n) > 0 for k in range(3)], axis=1)
    has_user = np.bincount(person[log["ident"]], minlength=n) > 0
    orders = np.bincount(person[code == E.ORDER_COMPLETED], minlength=n)
    money = np.isin(code, (E.ORDER_COMPLETED, E.CONTRACT_SIGNED, E.CONTRACT_RENEWED))
    revenue = np.bincount(person[money], weights=log["val"][money], minlength=n)
    events = np.bincount(person, minlength=n)
    dtypes = [t for t, *_ in DEVICE_PROFILES]
    slots = np.arange(n * 3, dtype=np.int64).reshape(n, 3)
    prof = dev_profile.astype(np.int64)
    no_user = pa.array(~has_user)
    null_str = pa.nulls(n, pa.string())
    has_acct = acct >= 0
    cols: dict[str, Any] = {
        "person_id": pc.binary_join_element_wise(
            "person-", pc.utf8_lpad(pc.cast(pa.array(np.arange(n) + first_person), pa.string()), 7, "0"), ""),
        "persona": _lookup([p.key for p in personas], persona),
        "anonymous_ids": _lists(anon_ids, slots, used),
        "identified_anonymous_ids": _lists(anon_ids, slots, ided),
        "user_id": pc.if_else(no_user, null_str, user_ids),
        "email": pc.if_else(no_user, null_str, emails),
        "account_id": pc.if_else(pa.array(has_acct), account_ids.take(pa.array(np.maximum(acct, 0)))
                                 if len(account_ids) else null_str, null_str),
        "role": pc.if_else(pa.array(role >= 0), _lookup(list(roles), np.maximum(role, 0)), null_str),
        "locale": _lookup(list(LOCALES), locale),
        "devices": _lists(pa.array(dtypes), prof, used),
        "events": events,
        "orders": orders,
        "revenue": np.round(revenue, 2),
        "stage_reached": _lookup(list(STAGES), stage),
    }
    for name, arr in facts.items():
        cols[name] = arr
    return pa.table(cols)


def _lookup(table: list[str], idx: np.ndarray) -> pa.Array:
    return pa.array(table, pa.string()).take(pa.array(np.asarray(idx, np.int64)))


def _lists(values: pa.Array, idx: np.ndarray, keep: np.ndarray) -> pa.Array:
    """Per row, the ``values[idx[row, k]]`` whose ``keep[row, k]`` is set, as a list column."""
    offsets = np.r_[0, np.cumsum(keep.sum(axis=1))].astype(np.int32)
    flat = values.take(pa.array(idx[keep].astype(np.int64)))
    return pa.ListArray.from_arrays(pa.array(offsets), flat)


class ParquetSink:
    """A Parquet file written in pieces (one row group per chunk), installed atomically
    on ``close``: readers see either the old file or the complete new one."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.tmp = path.with_name(path.name + ".tmp")
        self.writer: pq.ParquetWriter | None = None
        self.rows = 0

    def write(self, table: pa.Table) -> None:
        if self.writer is None:
            self.writer = pq.ParquetWriter(self.tmp, table.schema, compression="zstd")
        self.writer.write_table(table)
        self.rows += table.num_rows

    def close(self, empty_schema: pa.Schema | None = None) -> None:
        if self.writer is None:
            if empty_schema is None:
                return
            self.writer = pq.ParquetWriter(self.tmp, empty_schema, compression="zstd")
        self.writer.close()
        self.writer = None
        _fsync_replace(self.tmp, self.path)

    def abort(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None
        self.tmp.unlink(missing_ok=True)
