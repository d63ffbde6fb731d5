"""Apache Spark access to a workspace: the engine for data that outgrows one machine.

The workspace's files are plain Hive-partitioned Parquet, so Spark reads them without
any conversion. ``read_events`` reads the catalog's snapshot of live files (the same
snapshot DuckDB readers use); ``spark.read.parquet(<ws>/events)`` works too whenever
no writer is committing at that moment.
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
