"""Rows of the feedback table from the simulated surveys and tickets."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from cxlens.model.events import TS
from cxlens.model.tables import FEEDBACK_SCHEMA
from cxlens.simulate import feedback_text as ft
from cxlens.simulate.arrowize import Lookups, join, lookup, num
from cxlens.simulate.eventlog import E


def feedback_table(log: dict[str, np.ndarray], lk: Lookups, project: str, first_event: int = 0) -> pa.Table:
    """One row per Survey Answered (nps/csat) and per Ticket Created (complaint/ticket);
    ``first_event`` is the event serial of ``log``'s first row (ids stay unique across chunks)."""
    code = log["code"]
    idx = np.flatnonzero((code == E.SURVEY_ANSWERED) | (code == E.TICKET_CREATED))
    c = {k: v[idx] for k, v in log.items()}
    n = len(idx)
    survey = c["code"] == E.SURVEY_ANSWERED
    aux = c["aux"].astype(np.int64)
    text_idx = c["aux2"].astype(np.int64)
    kind = np.where(survey, np.where(aux // 10 == 0, 0, 1),
                    np.where(aux == ft.T["delivery_late"], 2, 3))
    kinds = ["nps", "csat", "complaint", "ticket"]
    texts = pa.array([*ft.FEEDBACK_TEXTS, *ft.TICKET_TEXTS])
    langs = pa.array([*ft.FEEDBACK_LANGS, *ft.TICKET_LANGS])
    global_text = np.where(text_idx < 0, -1, np.where(survey, text_idx, text_idx + len(ft.FEEDBACK_TEXTS)))
    has_text = global_text >= 0
    safe = pa.array(np.maximum(global_text, 0))
    touch = np.where(survey, aux % 10, 1)
    score = np.where(survey, c["val"], np.nan)
    scale = np.where(survey, np.where(aux // 10 == 0, 10.0, 5.0), np.nan)
    topic = np.where(survey, -1, aux)
    props = pc_if(~survey, join('{"topic":"', lookup(list(ft.TOPICS), topic), '"}'))
    table = {
        "project": pa.array(np.full(n, project)),
        "feedback_id": join(lk.event_prefix, "fb-", num(idx + first_event)),
        "timestamp": pa.array(c["ts"], TS),
        "anonymous_id": pa.nulls(n, pa.string()),
        "user_id": lk.user_ids.take(pa.array(c["person"].astype(np.int64))),
        "kind": lookup(kinds, kind),
        "score": pa.array(score, mask=~survey),
        "scale_max": pa.array(scale, mask=~survey),
        "text": _masked(texts.take(safe), has_text),
        "language": _masked(langs.take(safe), has_text),
        "touchpoint": lookup(["delivery", "support"], touch),
        "channel": lookup(["survey", "support"], (~survey).astype(np.int64)),
        "source": pa.array(np.full(n, f"simulate:{lk.business}")),
        "properties": props,
    }
    return pa.Table.from_arrays([table[f.name].cast(f.type) for f in FEEDBACK_SCHEMA],
                                schema=FEEDBACK_SCHEMA)


def _masked(arr: pa.Array, keep: np.ndarray) -> pa.Array:
    import pyarrow.compute as pc

    return pc.if_else(pa.array(keep), arr, pa.nulls(len(arr), arr.type))


def pc_if(mask: np.ndarray, arr: pa.Array) -> pa.Array:
    return _masked(arr, mask)
