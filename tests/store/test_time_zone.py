"""Dates and times are UTC whatever the machine's time zone (docs/data-model.md)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from cxlens.store.workspace import Workspace
from support import journeys

REPO = Path(__file__).resolve().parents[2]

READ = """
import json, sys
from cxlens.store.workspace import Workspace
from cxlens.web import queries
ws = Workspace.open(sys.argv[1])
day = ws.query(lambda r: r.aggregate("min(CAST(timestamp AS DATE))::VARCHAR").fetchall()[0][0])
trunc = ws.query(lambda r: r.aggregate("min(date_trunc('day', timestamp))::VARCHAR").fetchall()[0][0])
cursor_day = ws.cursor().execute("SELECT CAST(TIMESTAMPTZ '2024-05-01 23:30:00+00' AS DATE)::VARCHAR").fetchall()[0][0]
page = queries.connect(ws, "default")
page_day = page.execute("SELECT min(CAST(timestamp AS DATE))::VARCHAR FROM ev").fetchall()[0][0]
print(json.dumps({"day": day, "trunc": trunc, "cursor": cursor_day, "page": page_day}))
"""


@pytest.mark.parametrize("zone", ["Europe/Berlin", "America/Los_Angeles", "Asia/Tokyo"])
def test_an_event_late_in_the_utc_day_counts_for_that_day_on_a_machine_in_another_zone(
        tmp_path: Path, zone: str) -> None:
    ws = Workspace.init(tmp_path / "ws")
    ws.append(journeys({"ann": [{"at": "2024-05-01 23:30", "event": "Home"}]}), source="test")
    env = {**os.environ, "TZ": zone, "PYTHONPATH": os.pathsep.join([str(REPO / "src"), str(REPO / "tests")])}
    out = subprocess.run([sys.executable, "-c", READ, str(ws.root)], env=env, capture_output=True,
                         text=True, timeout=120, check=True).stdout
    got = json.loads(out.strip().splitlines()[-1])
    assert got == {"day": "2024-05-01", "trunc": "2024-05-01 00:00:00+00", "cursor": "2024-05-01",
                   "page": "2024-05-01"}
