"""Apache Spark access to a workspace: the engine for data that outgrows one machine.

The workspace's files are plain Hive-partitioned Parquet, so Spark reads them without
any conversion. ``read_events`` reads the catalog's snapshot of live files (the same
snapshot DuckDB readers use); ``spark.read.parquet(<ws>/events)`` works too whenever
no writer is committing at that moment and no cxlens reader keeps files a merge retired
(store/retired.py).
"""

from __future__ import annotations

import os
import shutil
from typing import TYPE_CHECKING, Any

from cxlens.errors import CxError, require
from cxlens.model.events import EVENTS_SCHEMA

if TYPE_CHECKING:
    from cxlens.store.workspace import Workspace


def java_available() -> bool:
    home = os.environ.get("JAVA_HOME")
    if home and os.path.exists(os.path.join(home, "bin", "java")):
        return True
    return shutil.which("java") is not None


def spark_session(app_name: str = "cxlens", *, master: str = "local[2]", **conf: str) -> Any:
    """A local (or configured) SparkSession with UTC time and cxlens-friendly settings."""
    require("pyspark", "spark")
    if not java_available():
        raise CxError(
            "Spark needs a Java runtime (17 or 21) and none was found; install one, e.g. "
            "'apt-get install openjdk-17-jre-headless', or set JAVA_HOME"
        )
    use_this_python_for_workers()
    from pyspark.sql import SparkSession

    builder = (
        SparkSession.builder.appName(app_name)
        .master(master)
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "4")
        .config("spark.driver.memory", "2g")
        .config("spark.sql.parquet.int96RebaseModeInRead", "CORRECTED")
    )
    for key, value in conf.items():
        builder = builder.config(key, value)
    session = builder.getOrCreate()
    session.sparkContext.setLogLevel("ERROR")
    return session


def read_events(spark: Any, ws: Workspace, project: str | None = None) -> Any:
    """The workspace's events as a Spark DataFrame, columns as in EVENTS_SCHEMA."""
    files = [str(ws.root / f.path) for f in ws.event_files(project)]
    if not files:
        from pyspark.sql.types import StructType

        return spark.createDataFrame([], StructType([]))
    df = (
        spark.read.option("basePath", str(ws.root / "events"))
        .option("mergeSchema", "false")
        .parquet(*files)
    )
    return df.select(*EVENTS_SCHEMA.names)


class SparkEngine:
    """Runs analyses with Spark: the same prepared columns (compiled to Spark Columns),
    ``repartition(person)`` + ``sortWithinPartitions`` and the same kernel per partition
    through ``mapInArrow``; the partitions' outputs are concatenated on the driver."""

    name = "spark"

    def __init__(self, spark: Any, ws: Workspace, project: str | None = None,
                 partitions: int | None = None) -> None:
        self.spark = spark
        self.ws = ws
        self.project = project
        self.partitions = partitions

    def _events(self) -> Any:
        return analysable_events(self.spark, self.ws, self.project)

    def prepared_frame(self, prep: Any) -> Any:
        from pyspark.sql import functions as F

        from cxlens.engines.expr import to_spark
        from cxlens.journeys.persons import PERSON_KEY

        df = self._events()
        if not df.columns:
            return None
        person = to_spark(PERSON_KEY)
        cols = [person.alias("person"), F.unix_micros(F.col("timestamp")).alias("ts")]
        if prep.flags:
            mask = F.lit(0).cast("bigint")
            for i, cond in enumerate(prep.flags):
                mask = mask + F.when(to_spark(cond), F.lit(1 << i)).otherwise(F.lit(0))
            cols.append(mask.cast("bigint").alias("mask"))
        for name, expr in prep.strings:
            cols.append(to_spark(expr).cast("string").alias(name))
        cols += [F.coalesce(F.col("event"), F.lit("")).alias("_tie"), F.col("event_id")]
        if prep.attributes():
            df = self._with_attributes(df, prep.attributes())
        filtered = df.where(person.isNotNull())
        cond = prep.row_filter()
        if cond is not None:
            filtered = filtered.where(to_spark(cond))
        return filtered.select(*cols)

    def _with_attributes(self, df: Any, attrs: Any) -> Any:
        """Person attributes (persona, account, traits): the table DuckDBEngine joins,
        built the same way, broadcast-joined by person."""
        from cxlens.engines.local import analysable_events as duck_events
        from cxlens.journeys.attributes import attribute_table, spark_join

        table = attribute_table(self.ws, self.project, attrs, duck_events(self.ws, self.project))
        return spark_join(self.spark, df, table, attrs)

    def run(self, prep: Any, kernel: Any, out_schema: Any) -> Any:
        import pyarrow as pa

        frame = self.prepared_frame(prep)
        if frame is None:
            return out_schema.empty_table()
        n = self.partitions or int(self.spark.conf.get("spark.sql.shuffle.partitions"))
        names = prep.schema().names
        in_schema = prep.schema()

        def per_partition(batches: Any) -> Any:
            batches = list(batches)
            if not batches:  # a partition no person hashed to
                return
            table = pa.Table.from_batches(batches)
            if table.num_rows == 0:
                return
            out = kernel(table.select(names).cast(in_schema))
            yield from out.cast(out_schema).to_batches()

        ordered = frame.repartition(n, "person").sortWithinPartitions("person", "ts", "_tie", "event_id")
        result = ordered.mapInArrow(per_partition, _spark_schema(out_schema)).toArrow()
        return result.cast(out_schema) if result.num_rows else out_schema.empty_table()

    def distinct(self, expr: Any, limit: int = 10_000) -> list[str]:
        from cxlens.engines.expr import to_spark

        df = self._events()
        if not df.columns:
            return []
        rows = (df.select(to_spark(expr).cast("string").alias("v")).where("v IS NOT NULL")
                .distinct().limit(limit).collect())
        return sorted(str(r["v"]) for r in rows)


def _spark_schema(schema: Any) -> str:
    import pyarrow as pa

    def spark_type(t: Any) -> str:
        if pa.types.is_string(t) or pa.types.is_large_string(t):
            return "string"
        if pa.types.is_int64(t):
            return "bigint"
        if pa.types.is_int32(t):
            return "int"
        if pa.types.is_float64(t):
            return "double"
        if pa.types.is_boolean(t):
            return "boolean"
        if pa.types.is_list(t):
            return f"array<{spark_type(t.value_type)}>"
        raise TypeError(f"no Spark type for {t}")

    return ", ".join(f"`{f.name}` {spark_type(f.type)}" for f in schema)


def with_person(spark: Any, ws: Workspace, df: Any, project: str | None = None) -> Any:
    """``df`` plus ``person_id`` by the rule of ``cxlens.identity.with_person``: the user
    id's person first, then the anonymous id's, else the id itself."""
    from pyspark.sql import functions as F

    from cxlens.identity.idmap import DELTA, MAP

    if not df.columns:
        return df
    project = project or ws.default_project
    base = [str(ws.root / f.path) for f in ws.catalog.live_files(MAP, project)]
    deltas = [str(ws.root / f.path) for f in ws.catalog.live_files(DELTA, project)]
    fallback = F.coalesce(F.col("user_id"), F.col("anonymous_id"))
    if not base and not deltas:
        return df.withColumn("person_id", fallback)
    ids = current_id_map(spark, base, deltas)
    by_user = ids.where(F.col("id_type") == "user_id").select(
        F.col("id").alias("_mu_id"), F.col("person_id").alias("_mu_person"))
    by_anon = ids.where(F.col("id_type") == "anonymous_id").select(
        F.col("id").alias("_ma_id"), F.col("person_id").alias("_ma_person"))
    joined = (
        df.join(by_user, df["user_id"] == by_user["_mu_id"], "left")
        .join(by_anon, df["anonymous_id"] == by_anon["_ma_id"], "left")
    )
    person = F.coalesce(F.col("_mu_person"), F.col("_ma_person"), fallback)
    return joined.withColumn("person_id", person).drop(
        "_mu_id", "_mu_person", "_ma_id", "_ma_person")


def current_id_map(spark: Any, base: list[str], deltas: list[str]) -> Any:
    """The id map as ``cxlens.identity.idmap.source`` reads it: per id the row of the
    newest delta generation, else the base file's row."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    cols = ("id_type", "id", "person_id")
    if not deltas:
        return spark.read.parquet(*base).select(*cols)
    newest = Window.partitionBy("id_type", "id").orderBy(F.col("gen").desc())
    latest = (spark.read.parquet(*deltas).withColumn("_rank", F.row_number().over(newest))
              .where(F.col("_rank") == 1).select(*cols))
    if not base:
        return latest
    kept = spark.read.parquet(*base).select(*cols).join(
        latest.select("id_type", "id"), ["id_type", "id"], "left_anti")
    return kept.unionByName(latest)


def honour_consent(df: Any, purpose: str = "analytics") -> Any:
    """``df`` (events with ``person_id``) without all events of persons whose latest
    ``purpose`` decision is denied: the rule of ``cxlens.privacy.consent.honour_consent``
    (the latest ``Consent Updated`` event that names the purpose decides; at equal times
    'denied' wins; no decision counts as allowed), on Spark."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    from cxlens.privacy.consent import CONSENT_EVENT, PURPOSES

    if purpose not in PURPOSES:
        raise CxError(f"unknown consent purpose {purpose!r}; use one of {list(PURPOSES)}")
    if not df.columns:
        return df
    state = F.lower(F.get_json_object(F.col("properties"), f"$.{purpose}"))
    decisions = (df.where((F.col("event") == F.lit(CONSENT_EVENT))
                          & F.col("properties").isNotNull())
                 .select("person_id", "timestamp", state.alias("_state"))
                 .where(F.col("_state").isNotNull()))
    latest = Window.partitionBy("person_id").orderBy(F.col("timestamp").desc(),
                                                     F.col("_state").asc())
    gone = (decisions.withColumn("_n", F.row_number().over(latest))
            .where((F.col("_n") == 1) & (F.col("_state") == F.lit("denied")))
            .select(F.col("person_id").alias("_gone")))
    return df.join(F.broadcast(gone), df["person_id"] == gone["_gone"], "left_anti")


def analysable_events(spark: Any, ws: Workspace, project: str | None = None) -> Any:
    """The Spark twin of ``cxlens.engines.local.analysable_events``: the project's events
    with ``person_id``, persons who denied analytics consent left out."""
    return honour_consent(with_person(spark, ws, read_events(spark, ws, project), project))


def use_this_python_for_workers() -> None:
    """Spark's Python workers must run this interpreter (it has pyarrow, numba, cxlens);
    without it they start the first ``python3`` on PATH. Call before the session starts."""
    import sys

    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
