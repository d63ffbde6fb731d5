"""Journey analytics benchmark: funnel, DFG, paths and retention kernels on synthetic data.

    python benchmarks/journeys_bench.py                 # 10M events
    python benchmarks/journeys_bench.py --events 100000000 --only funnel,chdb

Data is generated directly with NumPy, already sorted by (person, timestamp) (the
simulator is slower): 20 event names, ~25 events per person, Zipf-like popularity.
Each analysis is timed as its per-partition function (the same function the DuckDB and
Spark engines call) on an Arrow table of prepared columns, plus the driver-side summary.
Separately, ``--e2e`` times the full DuckDBEngine-style preparation (one DuckDB query
over a Parquet file: step masks, filter, sort, export to Arrow) for the funnel.

Comparators: chdb's windowFunnel on the same Parquet file, and pm4py.discover_dfg on the
same events as a pandas DataFrame. pm4py is AGPL: it is never a cxlens dependency; this
script installs it ad hoc into a separate directory (``--pm4py-dir``) and imports it in
a child process from there.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

NAMES = ["Page Viewed", "Product Viewed", "Product Added", "Checkout Started",
         "Checkout Step Viewed", "Order Completed", "Order Shipped", "Order Delivered",
         "Newsletter Sent", "Newsletter Opened", "Newsletter Clicked", "Ticket Created",
         "Ticket Resolved", "Survey Shown", "Survey Answered", "Search", "Wishlist Added",
         "Coupon Applied", "Account Created", "Logged In"]
START = 1_735_689_600_000_000  # 2025-01-01 UTC in µs


def sequences(n: int, seed: int = 1) -> tuple[np.random.Generator, np.ndarray, np.ndarray,
                                              np.ndarray]:
    """(rng, person, ts µs, event code) of ``n`` events sorted by person and time; the
    generator is returned so callers can draw more from the same stream."""
    rng = np.random.default_rng(seed)
    persons = max(n // 25, 1)
    person = np.sort(rng.integers(0, persons, n, dtype=np.int64))
    # within a person: events ~90 s apart, and every 7th gap or so a return days later
    gaps = rng.exponential(90.0, n)
    later = rng.random(n) < 0.15
    gaps[later] = rng.exponential(3 * 86400.0, int(later.sum()))
    cum = np.cumsum((gaps * 1e6).astype(np.int64))
    first = np.concatenate(([0], np.flatnonzero(np.diff(person)) + 1))
    sizes = np.diff(np.append(first, n))
    offset = rng.integers(0, 180 * 86400 * 10**6, len(first))
    ts = START + np.repeat(offset - cum[first], sizes) + cum
    p = 1.0 / np.arange(1, len(NAMES) + 1) ** 0.8
    codes = rng.choice(len(NAMES), n, p=p / p.sum()).astype(np.int8)
    return rng, person, ts, codes


def generate(n: int, seed: int = 1) -> pa.Table:
    """person (string), ts (µs), event (dictionary-encoded string), sorted by person, ts."""
    _, person, ts, codes = sequences(n, seed)
    codes = codes.astype(np.int32)
    event = pa.DictionaryArray.from_arrays(pa.array(codes), pa.array(NAMES))
    return pa.table({"person": pa.array(person).cast(pa.string()), "ts": ts, "event": event})


def timed(fn: Callable[[], Any], repeat: int = 3) -> tuple[float, Any]:
    best, out = float("inf"), None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    return best, out


def bench_funnel(data: pa.Table) -> dict[str, Any]:
    from cxlens.journeys.funnels import FunnelSpec, Step, kernel, summarize
    from cxlens.journeys.steps import Match

    steps = ["Product Viewed", "Product Added", "Checkout Started", "Checkout Step Viewed",
             "Order Completed"]
    spec = FunnelSpec(tuple(Step(Match(s)) for s in steps), window_seconds=86400)
    codes = np.asarray(data.column("event").combine_chunks().indices)
    mask = np.zeros(len(codes), dtype=np.int64)
    for i, s in enumerate(steps):
        mask |= (codes == NAMES.index(s)).astype(np.int64) << i
    keep = mask != 0  # the engine's WHERE: only rows matching a step
    table = pa.table({"person": data.column("person").filter(pa.array(keep)),
                      "ts": data.column("ts").filter(pa.array(keep)), "mask": mask[keep]})
    run = kernel(spec)
    run(table.slice(0, 1000))  # compile / load the numba cache outside the timing
    seconds, persons = timed(lambda: run(table))
    sum_s, result = timed(lambda: summarize(spec, persons), repeat=1)
    return {"rows_after_filter": table.num_rows, "kernel_s": seconds, "summary_s": sum_s,
            "converted": result.time_to_convert.converted,
            "persons_per_level": {int(k): int(v) for k, v in zip(*np.unique(
                persons.column("level").to_numpy(), return_counts=True), strict=True)},
            "levels": [s.persons for s in result.steps], "spec": spec}


STEPS = ["Product Viewed", "Product Added", "Checkout Started", "Checkout Step Viewed",
         "Order Completed"]


def load_average() -> float:
    return round(os.getloadavg()[0], 1)


def timed_cpu(fn: Callable[[], Any], repeat: int = 3) -> tuple[float, float, Any]:
    """Best wall time of ``repeat`` runs, the CPU seconds of that run (all threads of this
    process: on a shared box the wall time also counts other processes' turns)."""
    best, cpu, out = float("inf"), 0.0, None
    for _ in range(repeat):
        t, c = time.perf_counter(), time.process_time()
        out = fn()
        wall = time.perf_counter() - t
        if wall < best:
            best, cpu = wall, time.process_time() - c
    return best, cpu, out


def bench_workspace(root: Path, events: int, cold: bool, pm4py_dir: Path | None,
                    chdb_too: bool, names: set[str], rebuild: bool) -> dict[str, Any]:
    """End to end: the user's query against a workspace, through the public analysis API
    (``funnels.funnel(DuckDBEngine(ws, project), spec)`` etc., event names checked,
    persons resolved through the identity map), warm (sequence cache current) and cold
    (SQL path), plus the cache's build time and the comparators on the same workspace."""
    from journeys_workspace import PROJECT, build

    from cxlens.engines import sequences
    from cxlens.engines.local import DuckDBEngine
    from cxlens.journeys import funnels, graph, paths, retention
    from cxlens.journeys.steps import Match
    from cxlens.store.workspace import Workspace

    out: dict[str, Any] = {}
    if not (root / "catalog.sqlite").exists():
        out["workspace_build"] = build(root, events)
        print("workspace", out["workspace_build"], flush=True)
    ws = Workspace.open(root)
    out["workspace_events"] = sum(f.rows for f in ws.event_files(PROJECT))
    analyses: dict[str, Callable[[DuckDBEngine], Any]] = {
        "funnel": lambda e: funnels.funnel(e, funnels.FunnelSpec(
            tuple(funnels.Step(Match(s)) for s in STEPS), window_seconds=86400)),
        "dfg": lambda e: graph.graph(e, graph.GraphSpec(variants=False)),
        "paths": lambda e: paths.paths(e, paths.PathsSpec(start=Match("Product Viewed"),
                                                          max_steps=5)),
        "retention": lambda e: retention.retention(e, retention.RetentionSpec(
            period="week", periods=8)),
    }
    analyses = {k: v for k, v in analyses.items() if k in names}
    if rebuild:
        sequences.clear(ws)
    load = load_average()
    seconds, cpu, info = timed_cpu(lambda: sequences.build(ws, PROJECT), repeat=1)
    out["cache_build"] = {**info, "seconds": seconds, "cpu_seconds": cpu, "load_before": load,
                          "load_after": load_average()}
    print("cache build", out["cache_build"], flush=True)
    results: dict[str, Any] = {}
    for name, fn in analyses.items():
        load = load_average()
        fn(DuckDBEngine(ws, PROJECT))  # numba's on-disk cache loaded outside the timing
        seconds, cpu, res = timed_cpu(lambda fn=fn: fn(DuckDBEngine(ws, PROJECT)))
        results[name] = res
        out[f"{name}_warm"] = {"seconds": seconds, "cpu_seconds": cpu, "load_before": load,
                               "load_after": load_average()}
        print(name, "warm", out[f"{name}_warm"], flush=True)
    if "funnel" in results:
        lv = results["funnel"].persons.column("level").to_numpy()
        out["funnel_persons_per_level"] = {int(k): int(v) for k, v in zip(
            *np.unique(lv, return_counts=True), strict=True)}
    dfg = results["dfg"].dfg() if "dfg" in results else None
    if cold:
        for name, fn in analyses.items():
            load = load_average()
            seconds, cpu, res = timed_cpu(
                lambda fn=fn: fn(DuckDBEngine(ws, PROJECT, sequences=False)), repeat=1)
            same = (res.dfg() == dfg) if name == "dfg" else (
                res.to_dict() == results[name].to_dict())
            out[f"{name}_cold"] = {"seconds": seconds, "cpu_seconds": cpu, "same_as_warm": same,
                                   "load_before": load, "load_after": load_average()}
            print(name, "cold (SQL path)", out[f"{name}_cold"], flush=True)
    if chdb_too and "funnel" in results:
        load = load_average()
        out["chdb"] = bench_chdb_workspace(ws, PROJECT)
        out["chdb"]["load_before"] = load
        out["chdb_same_levels"] = out["chdb"]["persons_per_level"] == out[
            "funnel_persons_per_level"]
        print("chdb", out["chdb"], "same levels:", out["chdb_same_levels"], flush=True)
    if pm4py_dir is not None and dfg is not None:
        frame = Path(tempfile.mkdtemp(dir=root)) / "log.parquet"
        DuckDBEngine(ws, PROJECT, sequences=False)._with_view(
            lambda v: ws.con.sql(f"COPY (SELECT person_id AS person, epoch_us(timestamp) AS ts, "
                                 f"event FROM {v} ORDER BY person_id, ts, event, event_id) "
                                 f"TO '{frame}' (FORMAT parquet)").fetchall())
        load = load_average()
        out["pm4py"] = bench_pm4py(frame, pm4py_dir)
        out["pm4py"]["load_before"] = load
        out["pm4py_same_dfg"] = {tuple(k.split("->")): v for k, v in
                                 out["pm4py"].pop("dfg").items()} == dfg
        out["dfg_speedup_vs_pm4py"] = out["pm4py"]["seconds"] / out["dfg_warm"]["seconds"]
        print("pm4py", out["pm4py"], "same DFG:", out["pm4py_same_dfg"], flush=True)
        frame.unlink()
        frame.parent.rmdir()
    ws.close()
    return out


def bench_chdb_workspace(ws: Any, project: str) -> dict[str, Any]:
    """windowFunnel over the workspace's event files, persons resolved through the same
    identity map (ClickHouse SQL doing what cxlens' with_person does)."""
    import chdb

    from cxlens.identity.resolve import MAP

    files = f"{ws.root}/events/project={project}/*/*.parquet"
    maps = [str(ws.root / f.path) for f in ws.catalog.live_files(MAP, project)]
    idmap = f"file('{maps[0]}', Parquet)" if len(maps) == 1 else None
    if idmap is None:
        raise SystemExit("the benchmark workspace must have one identity map file")
    conds = ", ".join(f"event = '{s}'" for s in STEPS)
    q = (f"SELECT level, count() FROM (SELECT person, windowFunnel(86400000000)("
         f"toUInt64(toUnixTimestamp64Micro(timestamp)), {conds}) AS level FROM ("
         f"SELECT coalesce(mu.person_id, ma.person_id, e.user_id, e.anonymous_id) AS person, "
         f"e.timestamp AS timestamp, e.event AS event FROM file('{files}', Parquet) e "
         f"LEFT JOIN (SELECT id, person_id FROM {idmap} WHERE id_type = 'user_id') mu "
         f"ON mu.id = e.user_id "
         f"LEFT JOIN (SELECT id, person_id FROM {idmap} WHERE id_type = 'anonymous_id') ma "
         f"ON ma.id = e.anonymous_id) GROUP BY person) GROUP BY level ORDER BY level "
         "SETTINGS join_use_nulls = 1")
    seconds, cpu, res = timed_cpu(lambda: chdb.query(q, "CSV").data(), repeat=2)
    levels = {int(a): int(b) for a, b in (line.split(",") for line in res.strip().splitlines())}
    return {"seconds": seconds, "cpu_seconds": cpu,
            "persons_per_level": {k: v for k, v in levels.items() if k}}


def bench_chdb(path: Path) -> dict[str, Any]:
    import chdb

    q = (f"SELECT level, count() FROM (SELECT person, windowFunnel(86400000000)(toUInt64(ts), "
         "event = 'Product Viewed', event = 'Product Added', event = 'Checkout Started', "
         "event = 'Checkout Step Viewed', event = 'Order Completed') AS level "
         f"FROM file('{path}', Parquet) GROUP BY person) GROUP BY level ORDER BY level")
    seconds, res = timed(lambda: chdb.query(q, "CSV").data())
    levels = {int(a): int(b) for a, b in (line.split(",") for line in res.strip().splitlines())}
    return {"seconds": seconds, "persons_per_level": {k: v for k, v in levels.items() if k}}


def bench_dfg(data: pa.Table, variants: bool = False) -> dict[str, Any]:
    """DFG alone (what pm4py.discover_dfg computes), or with variants as well."""
    from cxlens.journeys.graph import GraphSpec, kernel, summarize

    spec = GraphSpec(variants=variants)
    table = pa.table({"person": data.column("person"), "ts": data.column("ts"),
                      "item": data.column("event")})
    run = kernel(spec)
    run(table.slice(0, 1000))
    seconds, out = timed(lambda: run(table))
    sum_s, result = timed(lambda: summarize(spec, out), repeat=1)
    return {"kernel_s": seconds, "summary_s": sum_s, "edges": len(result.edges),
            "variants": len(result.variant_counts),
            "dfg": {f"{a}->{b}": c for (a, b), c in result.dfg().items()}}


def bench_paths(data: pa.Table) -> dict[str, Any]:
    from cxlens.journeys.paths import PathsSpec, kernel, summarize
    from cxlens.journeys.steps import Match

    spec = PathsSpec(start=Match("Product Viewed"), max_steps=5)
    codes = np.asarray(data.column("event").combine_chunks().indices)
    mask = ((codes == NAMES.index("Product Viewed")).astype(np.int64)) | 2
    table = pa.table({"person": data.column("person"), "ts": data.column("ts"), "mask": mask,
                      "item": data.column("event")})
    run = kernel(spec)
    run(table.slice(0, 1000))
    seconds, out = timed(lambda: run(table))
    sum_s, result = timed(lambda: summarize(spec, out), repeat=1)
    return {"kernel_s": seconds, "summary_s": sum_s, "paths": result.paths,
            "persons": result.persons}


def bench_retention(data: pa.Table) -> dict[str, Any]:
    from cxlens.journeys.retention import RetentionSpec, kernel, summarize

    spec = RetentionSpec(period="week", periods=8)
    codes = np.asarray(data.column("event").combine_chunks().indices)
    mask = 3 | ((codes == NAMES.index("Order Completed")).astype(np.int64) << 2)
    table = pa.table({"person": data.column("person"), "ts": data.column("ts"), "mask": mask})
    run = kernel(spec)
    run(table.slice(0, 1000))
    seconds, out = timed(lambda: run(table))
    sum_s, result = timed(lambda: summarize(spec, out), repeat=1)
    return {"kernel_s": seconds, "summary_s": sum_s, "cohorts": len(result.cohorts)}


PM4PY_CHILD = r"""
import sys, time, json
sys.path.append(sys.argv[1])
import pandas as pd, pyarrow.parquet as pq
import pm4py
t = pq.read_table(sys.argv[2])
df = pd.DataFrame({"case:concept:name": t.column("person").to_numpy().astype(str),
                   "concept:name": t.column("event").to_pandas().astype(str),
                   "time:timestamp": pd.to_datetime(t.column("ts").to_numpy(), unit="us", utc=True)})
s, c = time.perf_counter(), time.process_time()
dfg, starts, ends = pm4py.discover_dfg(df)
sec, cpu = time.perf_counter() - s, time.process_time() - c
print(json.dumps({"seconds": sec, "cpu_seconds": cpu, "version": pm4py.__version__,
                  "dfg": {f"{a}->{b}": int(c) for (a, b), c in dfg.items()}}))
"""


def bench_pm4py(path: Path, target: Path) -> dict[str, Any]:
    if not (target / "pm4py").exists():
        subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--target",
                        str(target), "pm4py"], check=True)
    out = subprocess.run([sys.executable, "-c", PM4PY_CHILD, str(target), str(path)],
                         check=True, capture_output=True, text=True)
    doc: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return doc


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=10_000_000)
    ap.add_argument("--only", default="funnel,chdb,dfg,pm4py,paths,retention",
                    help="kernel benchmarks (funnel, chdb, dfg, pm4py, paths, retention); "
                         "'none' for only --workspace")
    ap.add_argument("--workspace", type=Path,
                    help="end to end through the public API on this workspace (built with "
                         "journeys_workspace.py from --events if it does not exist)")
    ap.add_argument("--cold", action="store_true",
                    help="with --workspace: also time each analysis without the cache")
    ap.add_argument("--comparators", default="chdb,pm4py",
                    help="with --workspace: which comparators to run ('none' for none)")
    ap.add_argument("--analyses", default="funnel,dfg,paths,retention",
                    help="with --workspace: which analyses to time")
    ap.add_argument("--keep-cache", action="store_true",
                    help="with --workspace: do not rebuild a current sequence cache")
    ap.add_argument("--pm4py-dir", type=Path, default=Path(tempfile.gettempdir()) / "cxlens-pm4py")
    args = ap.parse_args()
    report: dict[str, Any] = {"load_average_start": list(os.getloadavg())}
    if args.workspace is not None:
        comparators = set(args.comparators.split(","))
        report["workspace"] = bench_workspace(
            args.workspace, args.events, args.cold,
            args.pm4py_dir if "pm4py" in comparators else None, "chdb" in comparators,
            set(args.analyses.split(",")), not args.keep_cache)
    only = set(args.only.split(",")) - {"none"}
    if only:
        report.update(bench_kernels(args, only))
    report["load_average_end"] = list(os.getloadavg())
    print(json.dumps(report, indent=1, default=str))


def bench_kernels(args: argparse.Namespace, only: set[str]) -> dict[str, Any]:
    t = time.perf_counter()
    data = generate(args.events)
    print(f"generated {data.num_rows:,} events of "
          f"{len(np.unique(data.column('person').to_numpy())):,} persons in "
          f"{time.perf_counter() - t:.1f} s", flush=True)
    report: dict[str, Any] = {"events": data.num_rows}
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "events.parquet"
        if only & {"chdb", "pm4py"}:
            pq.write_table(data, path)
        if "funnel" in only:
            report["funnel"] = bench_funnel(data)
            report["funnel"].pop("spec")
            print("funnel", report["funnel"], flush=True)
        if "chdb" in only:
            report["chdb_windowFunnel"] = bench_chdb(path)
            print("chdb", report["chdb_windowFunnel"], flush=True)
            if "funnel" in report:
                report["chdb_same_levels"] = (report["funnel"]["persons_per_level"]
                                              == report["chdb_windowFunnel"]["persons_per_level"])
                print("same levels as chdb:", report["chdb_same_levels"], flush=True)
        if "dfg" in only:
            report["dfg"] = bench_dfg(data)
            print("dfg", {k: v for k, v in report["dfg"].items() if k != "dfg"}, flush=True)
            report["dfg_with_variants"] = bench_dfg(data, variants=True)
            report["dfg_with_variants"].pop("dfg")
            print("dfg + variants", report["dfg_with_variants"], flush=True)
        if "pm4py" in only:
            report["pm4py"] = bench_pm4py(path, args.pm4py_dir)
            same = report.get("dfg", {}).get("dfg") == report["pm4py"]["dfg"]
            print("pm4py", report["pm4py"]["seconds"], "same DFG:", same, flush=True)
            report["pm4py_same_dfg"] = same
        if "paths" in only:
            report["paths"] = bench_paths(data)
            print("paths", report["paths"], flush=True)
        if "retention" in only:
            report["retention"] = bench_retention(data)
            print("retention", report["retention"], flush=True)
    for key in ("dfg", "pm4py"):
        if key in report:
            report[key].pop("dfg", None)
    return report


if __name__ == "__main__":
    main()
