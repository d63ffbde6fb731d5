from __future__ import annotations

from pathlib import Path

import pytest

from cxlens.engines.spark import read_events
from cxlens.store.workspace import Workspace
from support import journeys, numbered_events

pytestmark = [pytest.mark.spark, pytest.mark.xdist_group("spark")]


def _duck_counts(ws: Workspace) -> dict[tuple[str, str, str], int]:
    rows = ws.events().aggregate("project, date::VARCHAR AS d, coalesce(channel, '-') AS c, count(*)").fetchall()
    return {(p, d, c): n for p, d, c, n in rows}


def _spark_counts(df) -> dict[tuple[str, str, str], int]:  # type: ignore[no-untyped-def]
    from pyspark.sql import functions as F

    rows = (
        df.groupBy("project", F.col("date").cast("string").alias("d"), F.coalesce("channel", F.lit("-")).alias("c"))
        .count()
        .collect()
    )
    return {(r["project"], r["d"], r["c"]): r["count"] for r in rows}


def test_spark_reads_the_workspace_files_unchanged_with_the_same_counts(tmp_path: Path, spark) -> None:  # type: ignore[no-untyped-def]
    ws = Workspace.init(tmp_path / "ws")  # default settings: no reader holds a lease, so
    # compaction deletes the files it replaced at once and a plain directory read is exact
    ws.append(numbered_events(3_000, day_mod=5), source="test", project="shop")
    ws.append(
        journeys({"ann": [
            {"at": "2024-05-02 10:00", "type": "page", "page": "https://shop.de/", "referrer": "https://www.google.de/"},
            {"at": "2024-05-02 10:01", "type": "page", "page": "https://shop.de/?utm_source=newsletter&x=1",
             "utm": {"source": "newsletter", "medium": "email"}},
        ]}),
        source="test", project="b2b",
    )
    ws.compact(project="shop")
    expected = _duck_counts(ws)
    assert sum(expected.values()) == 3_002

    # plain Spark, reading the directory as any Hive-partitioned Parquet dataset
    plain = spark.read.parquet(str(ws.root / "events"))
    assert _spark_counts(plain) == expected
    # through the catalog snapshot
    df = read_events(spark, ws)
    assert _spark_counts(df) == expected
    assert df.columns == ws.events().columns
    first = df.filter("event_id = 'e0'").select("timestamp", "anonymous_id").collect()[0]
    duck = ws.events().filter("event_id = 'e0'").select("timestamp, anonymous_id").fetchall()[0]
    assert (first["timestamp"].replace(tzinfo=None), first["anonymous_id"]) == (
        duck[0].replace(tzinfo=None), duck[1])
