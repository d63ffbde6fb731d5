"""Journey graph: directly-follows counts and times, variants, conformance, export."""

from __future__ import annotations

import csv
import gzip
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from lxml import etree

from cxlens.engines.local import DuckDBEngine
from cxlens.journeys.graph import (
    GraphSpec,
    conformance,
    event_log,
    graph,
    spec_from_dict,
    write_csv,
    write_xes,
)
from cxlens.journeys.steps import Filter
from cxlens.store.workspace import Workspace
from support import REPO, SHARED_DATA, journeys


def ev(at: str, event: str, **kw: Any) -> dict[str, Any]:
    return {"at": at, "event": event, **kw}


PEOPLE = {
    "ada": [ev("2024-05-01 10:00", "Home"), ev("2024-05-01 10:02", "Product Viewed"),
            ev("2024-05-01 10:03", "Product Added"), ev("2024-05-01 10:13", "Order Completed")],
    "bo": [ev("2024-05-01 10:00", "Home"), ev("2024-05-01 10:01", "Product Viewed"),
           ev("2024-05-01 10:02", "Product Added"), ev("2024-05-01 10:04", "Order Completed")],
    "cy": [ev("2024-05-01 10:00", "Home", channel="email"), ev("2024-05-01 10:04", "Product Added"),
           ev("2024-05-01 10:05", "Product Viewed")],
}


def test_dfg_counts_pairs_with_median_and_p90_times(ws: Workspace) -> None:
    ws.append(journeys(PEOPLE), source="test")
    r = graph(DuckDBEngine(ws), GraphSpec())
    assert r.dfg() == {("Home", "Product Viewed"): 2, ("Product Viewed", "Product Added"): 2,
                       ("Product Added", "Order Completed"): 2, ("Home", "Product Added"): 1,
                       ("Product Added", "Product Viewed"): 1}
    edge = next(e for e in r.edges if (e.source, e.target) == ("Home", "Product Viewed"))
    assert edge.persons == 2 and edge.median_seconds == 90 and edge.p90_seconds == pytest.approx(114)
    assert r.start_items == {"Home": 3} and r.end_items == {"Order Completed": 2,
                                                             "Product Viewed": 1}
    assert r.variants[0].count == 2 and r.variants[0].steps[0] == "Home"


def test_dfg_filtered_by_segment_keeps_only_matching_events(ws: Workspace) -> None:
    ws.append(journeys(PEOPLE), source="test")
    r = graph(DuckDBEngine(ws), GraphSpec(where=(Filter("event", "!=", "Home"),)))
    assert ("Home", "Product Viewed") not in r.dfg()
    assert r.dfg()[("Product Viewed", "Product Added")] == 2


def test_conformance_reports_share_and_first_deviation(ws: Workspace) -> None:
    ws.append(journeys(PEOPLE), source="test")
    r = graph(DuckDBEngine(ws), GraphSpec())
    c = conformance(r, ["Home", "Product Viewed", "Product Added", "Order Completed"])
    assert (c.traces, c.conforming) == (3, 2)
    assert [(d.kind, d.at, d.traces) for d in c.deviations] == [("skipped", "Product Viewed", 1)]


def test_exports_open_as_event_logs(ws: Workspace, tmp_path: Path) -> None:
    ws.append(journeys(PEOPLE), source="test")
    log = event_log(DuckDBEngine(ws), GraphSpec())
    write_csv(log, tmp_path / "log.csv")
    with (tmp_path / "log.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 11 and rows[0]["case:concept:name"] == "ada"
    write_xes(log, tmp_path / "log.xes.gz")
    with gzip.open(tmp_path / "log.xes.gz") as fh:
        root = etree.parse(fh).getroot()
    ns = {"x": "http://www.xes-standard.org/"}
    assert len(root.findall("x:trace", ns)) == 3
    assert len(root.findall("x:trace/x:event", ns)) == 11


def test_bad_graph_spec_names_the_field() -> None:
    from cxlens.errors import SpecError

    with pytest.raises(SpecError) as err:
        spec_from_dict({"where": ["bad key=1"]})
    assert err.value.field == "property"


BPIC = SHARED_DATA / "journeys" / "bpic2012.xes.gz"


def independent_dfg(path: Path) -> Counter[tuple[str, str]]:
    """DFG from the XES file itself: lxml, traces sorted by (timestamp, activity)."""
    with gzip.open(path) as fh:
        return _dfg_of(fh)


def _dfg_of(fh: Any) -> Counter[tuple[str, str]]:
    dfg: Counter[tuple[str, str]] = Counter()
    for _, trace in etree.iterparse(fh, tag="{*}trace"):
        events = []
        for e in trace.iterfind("{*}event"):
            attrs = {a.get("key"): a.get("value") for a in e}
            events.append((datetime.fromisoformat(attrs["time:timestamp"]), attrs["concept:name"]))
        events.sort()
        dfg.update(zip((n for _, n in events), (n for _, n in events[1:]), strict=False))
        trace.clear()
    return dfg


@pytest.mark.slow
@pytest.mark.shared_data
@pytest.mark.skipif(not BPIC.exists(), reason=f"BPIC 2012 log not found at {BPIC}")
def test_bpic2012_dfg_equals_an_independent_computation(ws: Workspace) -> None:
    from cxlens.ingest.importers import import_file

    import_file(ws, BPIC, mapping=REPO / "examples" / "mappings" / "bpic2012.toml",
                project="loans")
    r = graph(DuckDBEngine(ws, "loans"), GraphSpec())
    assert r.traces == 13_087
    assert r.dfg() == dict(independent_dfg(BPIC))
