"""Each task gets its compute's Spark: serverless tasks Spark Connect with serverless compute's
rules, tasks on a job cluster classic Spark without them.

The bundle decides which one this test process has (``conftest.spark``): the same calls are
refused in a serverless project and allowed in a classic one.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from {{ cookiecutter.package_name }}.platform.base import Platform
from {{ cookiecutter.package_name }}_local.runner import JobRunner, RunnerError, load_bundle
from {{ cookiecutter.package_name }}_local.runner.compute import runs_serverless, task_directory
from {{ cookiecutter.package_name }}_local.serverless import (
    SERVERLESS_CONFS,
    ServerlessRuleError,
    as_shipped,
    check_sql,
)
from {{ cookiecutter.package_name }}_local.spark import get_spark, is_connect

from .bundles import notebook_task, write_bundle

# Calls that serverless compute refuses, each with the rule its error must name.
REFUSED: dict[str, tuple[Callable[[Any], Any], str]] = {
    "spark.sparkContext": (lambda s: s.sparkContext.defaultParallelism, "no SparkContext"),
    "spark._jvm": (lambda s: s._jvm, "no SparkContext, RDD or JVM access"),
    "df.rdd": (lambda s: s.range(3).rdd.count(), "RDD APIs are not supported"),
    "df.cache()": (lambda s: s.range(3).cache(), "cache APIs are not supported"),
    "df.persist()": (lambda s: s.range(3).persist(), "cache APIs are not supported"),
    "df.unpersist()": (lambda s: s.range(3).unpersist(), "cache APIs are not supported"),
    "catalog.cacheTable()": (
        lambda s: s.range(3).createOrReplaceTempView("t") or s.catalog.cacheTable("t"),
        "cache APIs are not supported",
    ),
    "CACHE TABLE": (lambda s: s.sql("CACHE TABLE c AS SELECT 1 AS x"), "cache APIs"),
    "spark.conf.set(unlisted)": (
        # Set to the value it has, so a classic session is left as it was.
        lambda s: s.conf.set(
            "spark.sql.autoBroadcastJoinThreshold",
            s.conf.get("spark.sql.autoBroadcastJoinThreshold"),
        ),
        "CONFIG_NOT_AVAILABLE",
    ),
    "SET unlisted": (
        lambda s: s.sql("SET spark.sql.adaptive.enabled = true"),
        "CONFIG_NOT_AVAILABLE",
    ),
    "global temp view": (
        lambda s: s.range(3).createOrReplaceGlobalTempView("g"),
        "global temporary views are not supported",
    ),
}


@pytest.mark.parametrize("call", REFUSED, ids=list(REFUSED))
def test_serverless_refuses_what_serverless_compute_refuses_and_classic_allows_it(spark, call):
    action, rule = REFUSED[call]
    if not is_connect(spark):
        action(spark)  # a job cluster allows it
        return
    with pytest.raises((ServerlessRuleError, AttributeError)) as refused:
        action(spark)
    message = str(refused.value)
    assert rule in message and "serverless compute" in message, message


def test_serverless_sessions_allow_the_listed_settings_and_start_as_serverless_does(spark):
    spark.conf.set("spark.sql.shuffle.partitions", "4")
    spark.sql("SET spark.sql.ansi.enabled = true")
    assert spark.conf.get("spark.sql.ansi.enabled") == "true"
    zone = spark.conf.get("spark.sql.session.timeZone")
    assert zone == ("Etc/UTC" if is_connect(spark) else "UTC")
    assert {"spark.sql.session.timeZone", "spark.sql.shuffle.partitions"} <= SERVERLESS_CONFS


def test_sql_checks_read_past_comments_and_case():
    check_sql("SELECT 'CACHE TABLE' AS text")
    check_sql("SET spark.sql.session.timeZone = UTC")
    for statement in (
        "-- warm it up\n cache lazy table t",
        "/* */ SET `spark.databricks.delta.optimizeWrite.enabled` = true",
        "SELECT * FROM global_temp.shared",
        "REFRESH TABLE dev.s.t",
    ):
        with pytest.raises(ServerlessRuleError):
            check_sql(statement)


def test_platform_cache_caches_on_a_cluster_and_falls_back_on_serverless(spark):
    df = spark.range(5)
    cached = Platform.cache(None, df)  # type: ignore[arg-type]
    assert cached.count() == 5
    if is_connect(spark):
        assert cached is df  # returned as it is, recomputed when used again
    else:
        assert cached.is_cached
    Platform.uncache(None, cached)  # type: ignore[arg-type]
    assert is_connect(spark) or not cached.is_cached


@dataclass(frozen=True)
class NamesOnly:
    """A micro-batch function as the streaming job's: it holds names only."""

    table: str
    version: str

    def __call__(self, batch: Any, batch_id: int) -> None:
        return None


def test_a_foreach_batch_function_must_pickle_on_serverless():
    scorer = NamesOnly("dev.s.inference_log", "3")
    assert as_shipped(scorer) == scorer  # it travels to the server as a copy
    lock = threading.Lock()

    def holds_a_lock(batch, batch_id):
        with lock:
            return batch_id

    with pytest.raises(ServerlessRuleError, match="STREAMING_CONNECT_SERIALIZATION_ERROR"):
        as_shipped(holds_a_lock)


def test_the_runner_holds_serverless_tasks_to_serverless_rules_and_no_other(tmp_path, spark):
    job = {
        "environments": [{"environment_key": "default", "spec": {"environment_version": "5"}}],
        "job_clusters": [{"job_cluster_key": "ml", "new_cluster": {"num_workers": 1}}],
        "tasks": [
            notebook_task("on_serverless", "probe", environment_key="default"),
            notebook_task("on_cluster", "probe", job_cluster_key="ml"),
        ],
    }
    probe = """
import os
from {{ cookiecutter.package_name }}_local.serverless import rules_enforced
dbutils.jobs.taskValues.set("rules", rules_enforced())
dbutils.jobs.taskValues.set("cwd", os.getcwd())
"""
    assert [runs_serverless(t) for t in job["tasks"]] == [True, False]
    assert runs_serverless(notebook_task("unnamed", "probe", project_compute=False)) is None
    if not is_connect(spark):
        # A serverless task needs Spark Connect, which a process on classic Spark cannot start.
        job["tasks"] = job["tasks"][1:]
    root = write_bundle(tmp_path / "bundle", {"probe_job": job}, {"probe": probe})
    result = JobRunner(load_bundle(root), out=lambda _line: None, spark=spark).run("probe_job")
    assert result.success, result.root_failure()
    values = result.task_values
    # A task on a cluster starts in its notebook's folder, free of the serverless rules.
    assert values["on_cluster"] == {"rules": False, "cwd": str((root / "notebooks").resolve())}
    if is_connect(spark):
        assert values["on_serverless"]["rules"] is True
        assert values["on_serverless"]["cwd"] != values["on_cluster"]["cwd"]


def test_serverless_tasks_start_in_an_empty_folder_of_their_own(tmp_path):
    notebook = tmp_path / "notebooks" / "n.py"
    notebook.parent.mkdir()
    notebook.write_text("# Databricks notebook source\n")
    with task_directory(notebook, serverless=True) as folder:
        assert folder != notebook.parent and not any(folder.iterdir())
    with task_directory(notebook, serverless=False) as folder:
        assert folder == notebook.parent


def test_a_process_has_one_kind_of_spark(spark):
    if is_connect(spark):
        assert get_spark(serverless=False) is spark  # a mixed bundle's classic tasks share it
    else:
        with pytest.raises(RunnerError, match="one kind of Spark"):
            get_spark(serverless=True)
