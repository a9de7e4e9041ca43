"""The local Spark session: Spark Connect for serverless tasks, classic Spark for job clusters.

Serverless compute is Spark Connect, so a task that runs in a job ``environment`` gets a Spark
Connect session here too (a Connect server started in this process), held to serverless
compute's own rules (:mod:`.serverless`); a task on a job cluster gets classic Spark. A process
has one kind: pyspark's DataFrame functions follow the process's mode, so a classic session
cannot be used once Spark Connect is on. A bundle that mixes both runs its classic tasks on the
Spark Connect session, with the serverless rules lifted for them.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

MASTER = "local[2]"
# What every local session gets: small, quiet, Arrow on, ANSI mode (the default of Databricks
# Runtime 17 and of serverless compute, as of Spark 4).
LOCAL_CONF = {
    "spark.sql.ansi.enabled": "true",
    "spark.sql.shuffle.partitions": "4",
    "spark.default.parallelism": "4",
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.sql.execution.arrow.pyspark.enabled": "true",
    "spark.driver.extraJavaOptions": "-Duser.timezone=UTC",
    "spark.executor.extraJavaOptions": "-Duser.timezone=UTC",
}
# The session time zone: a Databricks cluster's (UTC), serverless compute's (Etc/UTC, docs
# "Serverless compute limitations").
CLASSIC_SESSION_CONF = {"spark.sql.session.timeZone": "UTC"}
SERVERLESS_SESSION_CONF = {"spark.sql.session.timeZone": "Etc/UTC"}


_session: dict[str, Any] = {}


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


def is_connect(spark: Any) -> bool:
    """Whether ``spark`` is a Spark Connect session (what serverless compute gives a task)."""
    return type(spark).__module__.startswith("pyspark.sql.connect")


def get_spark(serverless: bool = False) -> SparkSession:
    """The process's session, started on first use: Spark Connect with serverless compute's
    rules when ``serverless`` (or when the process already runs Spark Connect), else classic."""
    session = current_spark()
    classic = session is not None and not is_connect(session)
    if serverless and (classic or (session is None and _classic_context_running())):
        from .runner.errors import RunnerError

        raise RunnerError(
            "this process runs classic Spark already, and a process has one kind of Spark: run "
            "serverless and classic jobs in separate processes"
        )
    if session is not None:
        return session
    _session["spark"] = _start_connect() if serverless else _start_classic()
    return _session["spark"]


def current_spark() -> SparkSession | None:
    """The session this process started, if it is still running."""
    session = _session.get("spark")
    if session is not None and _stopped(session):
        _session.clear()
        return None
    return session


def stop_spark() -> None:
    """Stop the process's session (and the Spark Connect server with it)."""
    session = _session.pop("spark", None)
    if session is not None:
        session.stop()


def _stopped(session: Any) -> bool:
    if is_connect(session):
        return bool(getattr(session, "is_stopped", False))
    return session.sparkContext._jsc is None


def _classic_context_running() -> bool:
    from pyspark import SparkContext

    return SparkContext._active_spark_context is not None


def _conf(session_conf: dict[str, str]) -> dict[str, str]:
    use_utc()
    # Python workers must use this interpreter (and its packages), not the first python on PATH.
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    warehouse = tempfile.mkdtemp(prefix="spark-warehouse-")
    return {
        "spark.app.name": "local-bundle-runner",
        **LOCAL_CONF,
        **session_conf,
        "spark.sql.warehouse.dir": warehouse,
    }


def _start_classic() -> SparkSession:
    from pyspark.sql import SparkSession

    builder = SparkSession.builder.master(MASTER)
    for key, value in _conf(CLASSIC_SESSION_CONF).items():
        builder = builder.config(key, value)
    sys.stdout.flush()
    sys.stderr.flush()
    with jvm_output_to(jvm_log_path()):
        spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    return spark


def _start_connect() -> SparkSession:
    """Start a Spark Connect server in this process and connect to it.

    As pyspark's ``spark.api.mode=connect`` does, but on loopback at a free port, so several
    local runs (a test suite and a demo) can each have their own server.
    """
    from pyspark.sql import SparkSession
    from pyspark.sql.connect.session import SparkSession as ConnectSession

    from .serverless import enforce_serverless_rules

    options = {
        **_conf(SERVERLESS_SESSION_CONF),
        "spark.connect.grpc.binding.address": "127.0.0.1",
        "spark.connect.grpc.binding.port": "0",
    }
    sys.stdout.flush()
    sys.stderr.flush()
    os.environ["SPARK_LOCAL_REMOTE"] = "1"  # stopping the client then stops the server
    with jvm_output_to(jvm_log_path()):
        # The server's settings are its sessions' defaults: the client sets none of its own.
        ConnectSession._start_connect_server(MASTER, options)
    host = SparkSession._instantiatedSession
    service = getattr(host._jvm, "org.apache.spark.sql.connect.service.SparkConnectService$")
    port = getattr(service, "MODULE$").localPort()
    os.environ["SPARK_CONNECT_MODE_ENABLED"] = "1"
    connect = ConnectSession.builder.remote(f"sc://localhost:{port}").create()
    # The server's log level is set on the server (as Databricks does), not through the client.
    host.sparkContext.setLogLevel("ERROR")
    enforce_serverless_rules()
    return connect
