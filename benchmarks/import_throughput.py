"""Import throughput: simulated events imported from Parquet and from CSV.

    python benchmarks/import_throughput.py --events 10000000

1. Simulates a shop (``cxlens simulate``) until it has at least ``--events`` events and
   exports them once as flat Parquet and CSV files (cached in ``benchmarks/.work``).
2. Imports each file into a fresh workspace with ``cxlens import`` in a child process and
   reports wall time, events/s, the child's CPU time (user + system) and peak memory
   (max RSS), with the load average before and after.
3. As a reference (``--reference``, on by default), measures in the same run a bare
   DuckDB ``COPY`` of the same Parquet file into date partitions, without any
   normalisation, checks or catalog: the floor an import cannot go below on this
   machine with DuckDB.

Prints one JSON document; the figures in benchmarks/RESULTS.md come from it.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
MAPPING = HERE / "mappings" / "flat_events.toml"

EXPORT_SQL = """
SELECT event_id, timestamp, type, coalesce(event, json_extract_string(properties, '$.name')) AS event,
       anonymous_id, user_id, channel,
       json_extract_string(context, '$.page.url') AS page_url,
       json_extract_string(context, '$.page.referrer') AS referrer,
       json_extract_string(context, '$.campaign.source') AS utm_source,
       json_extract_string(context, '$.campaign.medium') AS utm_medium,
       json_extract_string(context, '$.campaign.name') AS utm_campaign,
       json_extract_string(context, '$.device.type') AS device_type,
       json_extract_string(properties, '$.product_id') AS product_id,
       json_extract_string(properties, '$.category') AS category,
       TRY_CAST(json_extract_string(properties, '$.price') AS DOUBLE) AS price,
       json_extract_string(properties, '$.order_id') AS order_id,
       revenue, currency
FROM events ORDER BY timestamp LIMIT ?
"""


def prepare(work: Path, events: int, seed: int) -> tuple[Path, Path]:
    parquet, csv = work / f"events-{events}.parquet", work / f"events-{events}.csv"
    if parquet.exists() and csv.exists():
        return parquet, csv
    import cxlens
    from cxlens.simulate import simulate

    sim = work / "simulated"
    shutil.rmtree(sim, ignore_errors=True)
    ws = cxlens.Workspace.init(sim, project="shop")
    customers = max(1000, events // 38)
    total = 0
    t0 = time.time()
    round_ = 0
    while total < events:
        report = simulate(ws, business="shop", customers=customers, seed=seed + round_,
                          project=f"shop{round_}")
        total += report.events
        round_ += 1
        print(f"simulated {total:,} events ({time.time() - t0:.0f} s)", file=sys.stderr)
    rel = ws.events()
    rel.create_view("events", replace=True)
    for path, fmt in ((parquet, "PARQUET"), (csv, "CSV")):
        tmp = path.with_suffix(".tmp")
        ws.con.execute(f"COPY ({EXPORT_SQL}) TO '{tmp}' (FORMAT {fmt})", [events]).fetchall()
        tmp.rename(path)
    ws.close()
    shutil.rmtree(sim, ignore_errors=True)
    return parquet, csv


BARE_COPY = """
import sys, duckdb
con = duckdb.connect()
con.execute("SET enable_progress_bar = false")
con.execute("SET memory_limit = '2GB'")
con.execute(f"SET temp_directory = '{sys.argv[2]}/duckdb-tmp'")
src, out = sys.argv[1], sys.argv[2] + "/bare"
con.execute(
    f"COPY (SELECT *, CAST(timestamp AS DATE) AS date FROM read_parquet('{src}')) TO '{out}' "
    "(FORMAT parquet, COMPRESSION snappy, PARTITION_BY (date), WRITE_PARTITION_COLUMNS false)"
).fetchall()
print(con.execute(f"SELECT count(*) FROM read_parquet('{out}/*/*.parquet')").fetchall()[0][0])
"""


def _usage(usage: resource.struct_rusage) -> dict[str, object]:
    return {"cpu_seconds": round(usage.ru_utime + usage.ru_stime, 1),
            "peak_rss_mb": round(usage.ru_maxrss / 1024)}


def run_reference(work: Path, path: Path) -> dict[str, object]:
    """The floor: DuckDB alone copying the file into date partitions."""
    target = work / "bare-copy"
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    load = os.getloadavg()[0]
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-c", BARE_COPY, str(path), str(target)],
                            stdout=subprocess.PIPE, text=True)
    out = proc.stdout.read() if proc.stdout else ""
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - t0
    shutil.rmtree(target, ignore_errors=True)
    if status != 0:
        raise SystemExit("the reference COPY failed")
    rows = int(out.strip())
    return {"format": "reference: bare DuckDB partitioned COPY of the Parquet file",
            "events": rows, "seconds": round(seconds, 2),
            "events_per_second": round(rows / seconds), **_usage(usage),
            "load_before": round(load, 1), "load_after": round(os.getloadavg()[0], 1)}


def run_import(work: Path, path: Path, fmt: str) -> dict[str, object]:
    target = work / f"ws-{fmt}"
    shutil.rmtree(target, ignore_errors=True)
    cxlens_cmd = [sys.executable, "-c", "from cxlens.cli import main; main()"]
    subprocess.run([*cxlens_cmd, "init", str(target)], check=True, capture_output=True)
    load = os.getloadavg()[0]
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        [*cxlens_cmd, "-w", str(target), "import", str(path), "--format", fmt,
         "--mapping", str(MAPPING), "--json"],
        stdout=subprocess.PIPE, text=True,
    )
    out = proc.stdout.read() if proc.stdout else ""
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - t0
    if status != 0:
        raise SystemExit(f"import of {path} failed with status {status}")
    report = json.loads(out)
    return {
        "format": fmt,
        "events": report["inserted"],
        "seconds": round(seconds, 2),
        "events_per_second": round(report["inserted"] / seconds),
        **_usage(usage),
        "check_seconds": report.get("check_seconds"),
        "append_seconds": report.get("append_seconds"),
        "rejected": report["rejected"],
        "load_before": round(load, 1),
        "load_after": round(os.getloadavg()[0], 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--work", type=Path, default=HERE / ".work")
    parser.add_argument("--formats", default="parquet,csv")
    parser.add_argument("--no-reference", dest="reference", action="store_false",
                        help="skip the bare DuckDB COPY reference line")
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    parquet, csv = prepare(args.work, args.events, args.seed)
    files = {"parquet": parquet, "csv": csv}
    results = [run_import(args.work, files[f], f) for f in args.formats.split(",")]
    if args.reference:
        results.append(run_reference(args.work, parquet))
    print(json.dumps({
        "machine": {"cores": os.cpu_count(), "python": platform.python_version(),
                    "platform": platform.platform()},
        "file_sizes_mb": {k: round(v.stat().st_size / 1e6) for k, v in files.items()},
        "results": results,
    }, indent=2))


if __name__ == "__main__":
    main()
