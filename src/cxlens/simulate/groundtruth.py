"""Ground truth: who every simulated person really is, and what was planted.

Everything here is computed from the final (time-filtered) event log, so the files
agree with the events by construction. Files are written atomically (temp file, fsync,
rename) under ``<ws>/ground_truth/<project>/``; docs/simulator.md describes them.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pyarrow as pa
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


def payment_loss(log: dict[str, np.ndarray], dev_profile: np.ndarray) -> dict[str, float]:
    """Share of visits that viewed the payment step and did not complete the order."""
    code, sess = log["code"], log["sess"]
    pay = (code == E.CHECKOUT_STEP) & (log["aux"] == 3)
    done = np.unique(sess[code == E.ORDER_COMPLETED])
    lost = ~np.isin(sess[pay], done)
    prof = dev_profile[log["person"][pay], np.maximum(log["dev"][pay], 0)]
    mobile = np.isin(prof, (2, 3))
    out: dict[str, float] = {}
    for name, m in (("mobile", mobile), ("desktop_tablet", ~mobile)):
        out[f"{name}_payment_views"] = float(m.sum())
        out[f"{name}_loss"] = float(lost[m].mean()) if m.any() else float("nan")
    if out["desktop_tablet_loss"] > 0:
        out["ratio"] = out["mobile_loss"] / out["desktop_tablet_loss"]
    return out


def loops(log: dict[str, np.ndarray], help_page: int) -> dict[str, float]:
    code, sess, page = log["code"], log["sess"], log["page"]
    hv = (code == E.PAGE) & (page == help_page)
    s, counts = np.unique(sess[hv], return_counts=True)
    loop_sessions = s[counts >= jr.LOOP_MIN_HELP_VIEWS]
    single = s[counts == 1]
    started = np.unique(sess[code == E.CHECKOUT_STARTED])
    return {
        "loop_sessions": float(len(loop_sessions)),
        "loop_sessions_with_checkout": float(np.isin(loop_sessions, started).sum()),
        "single_view_sessions": float(len(single)),
        "single_view_checkout_rate": float(np.isin(single, started).mean()) if len(single) else 0.0,
    }


def summary(log: dict[str, np.ndarray], personas: tuple[Persona, ...], persona: np.ndarray,
            stage: np.ndarray, business: str, feedback_rows: int) -> dict[str, Any]:
    code, person = log["code"], log["person"]
    n = len(persona)
    orders = code == E.ORDER_COMPLETED
    money = np.isin(code, (E.ORDER_COMPLETED, E.CONTRACT_SIGNED, E.CONTRACT_RENEWED))
    ev_persona = persona[person]
    per_persona = {}
    for k, p in enumerate(personas):
        m = ev_persona == k
        per_persona[p.key] = {
            "persons": int((persona == k).sum()),
            "events": int(m.sum()),
            "orders": int((orders & m).sum()),
            "revenue": round(float(log["val"][money & m].sum()), 2),
            "stages": {s: int(((persona == k) & (stage >= i)).sum()) for i, s in enumerate(STAGES)},
        }
    names = [nm or t for t, nm in EVENTS]
    by_event = np.bincount(code, minlength=len(EVENTS))
    return {
        "business": business,
        "persons": n,
        "events": len(code),
        "orders": int(orders.sum()),
        "revenue": round(float(log["val"][money].sum()), 2),
        "order_revenue": round(float(log["val"][orders].sum()), 2),
        "feedback": feedback_rows,
        "by_event": {names[i]: int(c) for i, c in enumerate(by_event) if c},
        "per_persona": per_persona,
        "stages_reached": {s: int((stage >= i).sum()) for i, s in enumerate(STAGES)},
    }


def persons_table(log: dict[str, np.ndarray], persona: np.ndarray, personas: tuple[Persona, ...],
                  anon_ids: list[str], user_ids: list[str], emails: list[str],
                  dev_profile: np.ndarray, locale: np.ndarray, facts: dict[str, np.ndarray],
                  stage: np.ndarray, account_ids: list[str], acct: np.ndarray,
                  role: np.ndarray, roles: tuple[str, ...]) -> pa.Table:
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
    anon_list = [[anon_ids[i * 3 + k] for k in range(3) if used[i, k]] for i in range(n)]
    anon_ided = [[anon_ids[i * 3 + k] for k in range(3) if ided[i, k]] for i in range(n)]
    devices = [[dtypes[dev_profile[i, k]] for k in range(3) if used[i, k]] for i in range(n)]
    cols: dict[str, Any] = {
        "person_id": [f"person-{i:07d}" for i in range(n)],
        "persona": [personas[k].key for k in persona],
        "anonymous_ids": anon_list,
        "identified_anonymous_ids": anon_ided,
        "user_id": pa.array(user_ids, mask=~has_user),
        "email": pa.array(emails, mask=~has_user),
        "account_id": pa.array([account_ids[a] if a >= 0 else "" for a in acct], mask=acct < 0),
        "role": pa.array([roles[r] if r >= 0 else "" for r in role], mask=role < 0),
        "locale": [LOCALES[k] for k in locale],
        "devices": devices,
        "events": events,
        "orders": orders,
        "revenue": np.round(revenue, 2),
        "stage_reached": [STAGES[s] for s in stage],
    }
    for name, arr in facts.items():
        cols[name] = arr
    return pa.table(cols)
