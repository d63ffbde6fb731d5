"""Rows an import could not take, and the file that tells the user why.

A rejects file is CSV (row, line, column, reason, raw) so that it opens in a
spreadsheet; it is written under ``<workspace>/rejects/`` next to the import history
entry that names it, and it is written whole or not at all.
"""

from __future__ import annotations

import csv
import os
import re
import time
import unicodedata
import uuid
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Final

REJECT_COLUMNS = ("row", "line", "column", "reason", "raw")
#: raw records longer than this are cut in the rejects file (a broken quote can
#: swallow the rest of a file into one "line")
MAX_RAW = 10_000


@dataclass(frozen=True, slots=True)
class Reject:
    #: 1-based number of the data record (header lines not counted)
    row: int
    #: 1-based line in the file, where the format has lines
    line: int | None
    column: str
    reason: str
    raw: str

    def to_dict(self) -> dict[str, object]:
        return asdict(self)

    def describe(self) -> str:
        where = f"line {self.line}" if self.line is not None else f"row {self.row}"
        return f"{where}, column {self.column}: {self.reason}"


_GERMAN: Final = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "Ä": "Ae", "Ö": "Oe",
                                 "Ü": "Ue", "ß": "ss"})


def ascii_name(name: str) -> str:
    """A file name in ASCII letters, digits and ._- (for a source name or a file name):
    umlauts as German writes them without (März -> Maerz), accents dropped (café -> cafe),
    anything else '_'."""
    text = unicodedata.normalize("NFKD", name.translate(_GERMAN))
    text = "".join(c for c in text if not unicodedata.combining(c))
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text)


def rejects_name(file: Path) -> str:
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime())
    safe = ascii_name(file.name)[:80]
    return f"{stamp}-{uuid.uuid4().hex[:6]}-{safe}.rejects.csv"


def write_rejects(rejects: Iterable[Reject], dest: Path) -> tuple[Path, int]:
    """Write atomically (temp file + rename) so a crash never leaves half a file.

    Returns the path and how many rejects were written."""
    n = 0
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(dest.name + ".tmp")
    with tmp.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(REJECT_COLUMNS)
        for r in rejects:
            raw = r.raw if len(r.raw) <= MAX_RAW else r.raw[:MAX_RAW] + "…"
            writer.writerow([r.row, "" if r.line is None else r.line, r.column, r.reason, raw])
            n += 1
        fh.flush()
        os.fsync(fh.fileno())
    tmp.replace(dest)
    return dest, n


def summarize(rejects: list[Reject], limit: int = 5) -> str:
    shown = "; ".join(r.describe() for r in rejects[:limit])
    more = f" (and {len(rejects) - limit} more)" if len(rejects) > limit else ""
    return shown + more
