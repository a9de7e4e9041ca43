"""The one local SparkSession shared by every task (and test) of a process."""

from __future__ import annotations

import os
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pyspark.sql import SparkSession


def use_utc() -> None:
    """Make Python and Spark agree on UTC."""
    os.environ["TZ"] = "UTC"
    if hasattr(time, "tzset"):
        time.tzset()


def jvm_log_path() -> Path:
    """Where the JVM's own output goes: ``<state>/logs/spark.log`` (or the temp folder)."""
    state = os.environ.get("LOCAL_STATE_DIR")
    folder = Path(state) / "logs" if state else Path(tempfile.gettempdir())
    return folder / "spark.log" if state else folder / f"local-spark-{os.getpid()}.log"


@contextmanager
def jvm_output_to(path: Path) -> Iterator[None]:
    """Start the JVM with its stdout and stderr in ``path``: the Spark and Java start-up
    warnings (log4j, incubator modules, host name) stay out of the job output. Python's own
    output is untouched once this returns; Spark errors still reach Python as exceptions."""
    path.parent.mkdir(parents=True, exist_ok=True)
    saved = [os.dup(1), os.dup(2)]
    with path.open("ab") as log:
        for fd in (1, 2):
            os.dup2(log.fileno(), fd)
        try:
            yield
        finally:
            for fd, copy in zip((1, 2), saved, strict=True):
                os.dup2(copy, fd)
                os.close(copy)


def get_spark() -> SparkSession:
    """Return the active session or start a small local one (2 cores, no UI, Arrow, UTC)."""
    use_utc()
    # Python workers must use this interpreter (and its packages), not the first python on PATH.
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    from pyspark.sql import SparkSession

    active = SparkSession.getActiveSession()
    if active is not None:
        active.conf.set("spark.sql.session.timeZone", "UTC")
        return active
    warehouse = tempfile.mkdtemp(prefix="spark-warehouse-")
    builder = (
        SparkSession.builder.master("local[2]")
        .appName("local-bundle-runner")
        .config("spark.sql.shuffle.partitions", "4")
        .config("spark.default.parallelism", "4")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.driver.extraJavaOptions", "-Duser.timezone=UTC")
        .config("spark.executor.extraJavaOptions", "-Duser.timezone=UTC")
        .config("spark.sql.warehouse.dir", warehouse)
    )
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    sys.stdout.flush()
    sys.stderr.flush()
    with jvm_output_to(jvm_log_path()):
        spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    return spark
