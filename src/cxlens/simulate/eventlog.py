"""The simulator's event log: events as parallel NumPy columns, not as objects.

Generating a million customers means tens of millions of events; a Python object per
event would take minutes. Every generator appends whole blocks of columns here, and
only the final, time-sorted log is turned into Arrow strings (see ``arrowize``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

import numpy as np
import numpy.typing as npt

I8 = npt.NDArray[np.int8]
I16 = npt.NDArray[np.int16]
I32 = npt.NDArray[np.int32]
I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]
B = npt.NDArray[np.bool_]

#: (type, event name) per event code; page/identify/group carry no event name.
EVENTS: Final[tuple[tuple[str, str | None], ...]] = (
    ("page", None),  # 0
    ("identify", None),  # 1
    ("group", None),  # 2
    ("track", "Product Viewed"),  # 3
    ("track", "Product Added"),  # 4
    ("track", "Checkout Started"),  # 5
    ("track", "Checkout Step Viewed"),  # 6
    ("track", "Order Completed"),  # 7
    ("track", "Order Shipped"),  # 8
    ("track", "Order Delivered"),  # 9
    ("track", "Ticket Created"),  # 10
    ("track", "Ticket Resolved"),  # 11
    ("track", "Survey Shown"),  # 12
    ("track", "Survey Answered"),  # 13
    ("track", "Newsletter Sent"),  # 14
    ("track", "Newsletter Opened"),  # 15
    ("track", "Newsletter Clicked"),  # 16
    ("track", "Demo Requested"),  # 17
    ("track", "Sales Call"),  # 18
    ("track", "Quote Sent"),  # 19
    ("track", "Contract Signed"),  # 20
    ("track", "Contract Renewed"),  # 21
    ("track", "Contract Cancelled"),  # 22
    ("track", "Whitepaper Downloaded"),  # 23
)


class E:
    """Event codes (indexes into EVENTS)."""

    PAGE = 0
    IDENTIFY = 1
    GROUP = 2
    PRODUCT_VIEWED = 3
    PRODUCT_ADDED = 4
    CHECKOUT_STARTED = 5
    CHECKOUT_STEP = 6
    ORDER_COMPLETED = 7
    ORDER_SHIPPED = 8
    ORDER_DELIVERED = 9
    TICKET_CREATED = 10
    TICKET_RESOLVED = 11
    SURVEY_SHOWN = 12
    SURVEY_ANSWERED = 13
    NEWSLETTER_SENT = 14
    NEWSLETTER_OPENED = 15
    NEWSLETTER_CLICKED = 16
    DEMO_REQUESTED = 17
    SALES_CALL = 18
    QUOTE_SENT = 19
    CONTRACT_SIGNED = 20
    CONTRACT_RENEWED = 21
    CONTRACT_CANCELLED = 22
    WHITEPAPER = 23


#: Column name -> (dtype, fill value for blocks that do not set it).
COLUMNS: Final[dict[str, tuple[type, float | int | bool]]] = {
    "person": (np.int32, 0),
    "ts": (np.int64, 0),  # microseconds since the epoch, UTC
    "code": (np.int16, 0),
    "dev": (np.int8, -1),  # device slot of the person (its anonymous id); -1: server side
    "ident": (np.bool_, False),  # carries the user id
    "chan": (np.int8, -1),  # index into site.CHANNELS; -1: left to the classifier
    "camp": (np.int16, -1),  # landing campaign template (site.CAMPAIGNS); -1: none
    "sess": (np.int64, -1),  # session serial
    "page": (np.int16, -1),  # index into site pages/urls
    "ref": (np.int16, -1),  # referrer: index into site pages/urls
    "item": (np.int32, -1),  # product index
    "oid": (np.int64, -1),  # order / ticket / survey / quote / contract serial
    "val": (np.float64, np.nan),  # price, revenue or score
    "aux": (np.int32, -1),  # per-code detail: checkout step, late days, topic, ...
    "aux2": (np.int32, -1),  # per-code detail: text variant, quantity, ...
    "acct": (np.int32, -1),  # account index (B2B)
}


@dataclass(slots=True)
class EventLog:
    """Blocks of event columns; ``freeze`` concatenates them once at the end."""

    blocks: list[dict[str, np.ndarray]] = field(default_factory=list)

    def add(self, person: npt.ArrayLike, ts: npt.ArrayLike, code: int | npt.ArrayLike,
            **cols: npt.ArrayLike) -> None:
        person_arr = np.asarray(person, dtype=np.int32)
        n = len(person_arr)
        if n == 0:
            return
        block: dict[str, np.ndarray] = {
            "person": person_arr,
            "ts": np.asarray(ts, dtype=np.int64),
            "code": np.broadcast_to(np.asarray(code, dtype=np.int16), (n,)).copy(),
        }
        for name, value in cols.items():
            dtype = COLUMNS[name][0]
            block[name] = np.broadcast_to(np.asarray(value, dtype=dtype), (n,)).copy()
        self.blocks.append(block)

    def freeze(self, end_us: int) -> dict[str, np.ndarray]:
        """All events before ``end_us``, sorted by (timestamp, person, code) — a stable,
        seed-determined order, so event ids derived from positions are reproducible."""
        out: dict[str, np.ndarray] = {}
        total = sum(len(b["person"]) for b in self.blocks)
        for name, (dtype, fill) in COLUMNS.items():
            col: np.ndarray = np.empty(total, dtype=dtype)
            pos = 0
            for b in self.blocks:
                n = len(b["person"])
                col[pos:pos + n] = b.get(name, fill)
                pos += n
            out[name] = col
        self.blocks.clear()
        keep = out["ts"] < end_us
        order = np.lexsort((out["code"][keep], out["person"][keep], out["ts"][keep]))
        idx = np.flatnonzero(keep)[order]
        return {name: col[idx] for name, col in out.items()}


def group_ordinal(counts: npt.NDArray[np.integer]) -> tuple[I64, I64]:
    """For groups of the given sizes: (group index, position within group) per element."""
    counts = np.asarray(counts, dtype=np.int64)
    grp = np.repeat(np.arange(len(counts), dtype=np.int64), counts)
    starts = np.cumsum(counts) - counts
    return grp, np.arange(len(grp), dtype=np.int64) - starts[grp]


def choice(rng: np.random.Generator, probs: npt.NDArray[np.float64], rows: npt.ArrayLike) -> I64:
    """Vectorised categorical draw: row ``r`` of ``probs`` gives the distribution of
    each element whose row index is in ``rows``."""
    rows_arr = np.asarray(rows, dtype=np.int64)
    cum = np.cumsum(probs, axis=1)
    cum /= cum[:, -1:]
    u = rng.random(len(rows_arr))
    out: I64 = (u[:, None] > cum[rows_arr]).sum(axis=1)
    drawn: I64 = np.minimum(out, probs.shape[1] - 1).astype(np.int64)
    return drawn
