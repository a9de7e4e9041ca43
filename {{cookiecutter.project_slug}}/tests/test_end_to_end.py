"""End to end: every job of this bundle, run locally from databricks.yml and resources/.

The tests share one local state and run in file order, as the lifecycle does:
{% if cookiecutter.include_feature_store == "yes" %}refresh -> {% endif %}train -> validate -> deploy -> score -> a worse model is rejected ->
{% if cookiecutter.include_monitoring == "yes" %}drifted batch -> monitoring retrains{% else %}retrain{% endif %} -> rollback.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

{% if cookiecutter.include_monitoring == "yes" -%}
from {{ cookiecutter.package_name }}.data import sample
{% endif -%}
from {{ cookiecutter.package_name }}.names import (
    CHALLENGER,
    CHAMPION,
{%- if cookiecutter.include_monitoring == "yes" %}
    DRIFT_METRICS_TABLE,
{%- endif %}
    INFERENCE_LOG_TABLE,
{%- if cookiecutter.include_feature_store == "yes" %}
    PICKUP_FEATURES_TABLE,
{%- endif %}
    PREVIOUS_CHAMPION,
    VALIDATION_RESULTS_TABLE,
)
{%- if cookiecutter.include_feature_store == "yes" or cookiecutter.include_monitoring == "yes" %}
from {{ cookiecutter.package_name }}.platform.local import LocalPlatform, generate_sample
{%- else %}
from {{ cookiecutter.package_name }}.platform.local import LocalPlatform
{%- endif %}
from {{ cookiecutter.package_name }}.registry import alias_version
from {{ cookiecutter.package_name }}.runner import JobRunner, RunResult, load_bundle
from {{ cookiecutter.package_name }}.runner.results import EXCLUDED, SUCCESS

TRAIN = {"start_date": "2016-01-01", "end_date": "2016-02-14"}
SCORE = {"start_date": "2016-02-15", "end_date": "2016-02-29"}
# Two days of January: a model that cannot match the champion.
TOO_LITTLE_DATA = {"start_date": "2016-01-01", "end_date": "2016-01-02"}


@dataclass
class Lifecycle:
    """The bundle's jobs and the local platform they write to."""

    runner: JobRunner
    platform: LocalPlatform
    prefix: str
    model_name: str
    input_path: str

    def run(self, job_key: str, **params: str) -> RunResult:
        return self.runner.run(job_key, params)

    def rows(self, table: str) -> int:
        return self.platform.read_table(f"{self.prefix}.{table}").count()

    def alias(self, alias: str) -> str | None:
        return alias_version(self.platform.mlflow_client(), self.model_name, alias)


@pytest.fixture(scope="module")
def lifecycle(spark, project_root: Path, tmp_path_factory) -> Iterator[Lifecycle]:
    state = tmp_path_factory.mktemp("end-to-end-state")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("LOCAL_STATE_DIR", str(state))
        bundle = load_bundle(project_root, "dev", {})
        variables = bundle.variables
        prefix = f"{variables['catalog']}.{variables['schema']}"
        yield Lifecycle(
            runner=JobRunner(bundle, spark=spark),
            platform=LocalPlatform(spark, state=state),
            prefix=prefix,
            model_name=f"{prefix}.{variables['model_name']}",
            input_path=str(variables["input_path"]),
        )


def assert_succeeded(result: RunResult) -> None:
    failure = result.root_failure()
    assert result.success, f"{failure.task_key}: {failure.error}\n{failure.traceback}"
{%- if cookiecutter.include_feature_store == "yes" %}


def test_feature_refresh_is_idempotent(lifecycle: Lifecycle) -> None:
    assert_succeeded(lifecycle.run("feature_refresh_job"))
    rows = lifecycle.rows(PICKUP_FEATURES_TABLE)
    assert rows > 0

    assert_succeeded(lifecycle.run("feature_refresh_job"))
    assert lifecycle.rows(PICKUP_FEATURES_TABLE) == rows


def test_bad_data_stops_the_refresh_before_it_writes(lifecycle: Lifecycle) -> None:
    before = lifecycle.rows(PICKUP_FEATURES_TABLE)
    bad = generate_sample("2016-03-01", "2016-03-02", 200, seed=7)
    bad.loc[bad.index[:50], "trip_distance"] = -3.0
    lifecycle.platform.write_source("/bad/trips", bad, mode="overwrite")
    runner = JobRunner(
        load_bundle(lifecycle.runner.bundle.root, "dev", {"input_path": "/bad/trips"}),
        spark=lifecycle.platform.spark,
    )

    result = runner.run("feature_refresh_job", {})

    assert not result.success
    failure = result.root_failure()
    assert failure.task_key == "refresh_features"
    assert "trip_distance" in failure.error
    assert lifecycle.rows(PICKUP_FEATURES_TABLE) == before
{%- endif %}


def test_training_job_trains_validates_and_promotes(lifecycle: Lifecycle) -> None:
    result = lifecycle.run("training_job", **TRAIN)

    assert_succeeded(result)
    assert {key: task.state for key, task in result.tasks.items()} == dict.fromkeys(
        ("train", "validate", "check_passed", "deploy"), SUCCESS
    )
    version = result.value("train", "model_version")
    assert version == "1"
    assert result.value("validate", "passed") == "true"
    assert lifecycle.alias(CHAMPION) == version
    checks = lifecycle.platform.read_table(f"{lifecycle.prefix}.{VALIDATION_RESULTS_TABLE}")
    assert checks.filter("model_version = '1'").count() >= 3
    assert checks.filter("model_version = '1' AND NOT passed").count() == 0


def test_batch_inference_scores_each_trip_once(lifecycle: Lifecycle) -> None:
    assert_succeeded(lifecycle.run("batch_inference_job", **SCORE))
    rows = lifecycle.rows(INFERENCE_LOG_TABLE)
    assert rows > 0
    log = lifecycle.platform.read_table(f"{lifecycle.prefix}.{INFERENCE_LOG_TABLE}")
    assert {r.model_version for r in log.select("model_version").distinct().collect()} == {"1"}
    assert log.filter("prediction IS NULL").count() == 0

    rerun = lifecycle.run("batch_inference_job", **SCORE)
    assert_succeeded(rerun)
    assert rerun.value("score", "rows_scored") == 0
    assert lifecycle.rows(INFERENCE_LOG_TABLE) == rows


def test_gate_rejects_a_worse_model_and_keeps_the_champion(lifecycle: Lifecycle) -> None:
    result = lifecycle.run("training_job", **TOO_LITTLE_DATA)

    assert not result.success
    assert result.root_failure().task_key == "validate"
    assert result.tasks["deploy"].state != SUCCESS
    rejected = result.value("train", "model_version")
    assert lifecycle.alias(CHAMPION) == "1"
    assert lifecycle.alias(CHALLENGER) != rejected
    checks = lifecycle.platform.read_table(f"{lifecycle.prefix}.{VALIDATION_RESULTS_TABLE}")
    assert checks.filter(f"model_version = '{rejected}' AND NOT passed").count() >= 1


def test_report_mode_records_a_failed_gate_without_deploying(lifecycle: Lifecycle) -> None:
    bundle = load_bundle(lifecycle.runner.bundle.root, "dev", {"validation_mode": "report"})
    result = JobRunner(bundle, spark=lifecycle.platform.spark).run("training_job", TOO_LITTLE_DATA)

    assert_succeeded(result)
    assert result.value("validate", "passed") == "false"
    assert result.tasks["check_passed"].outcome == "false"
    assert result.tasks["deploy"].state == EXCLUDED
    assert lifecycle.alias(CHAMPION) == "1"
    assert lifecycle.alias(CHALLENGER) is None
{%- if cookiecutter.include_monitoring == "yes" %}


def test_drift_starts_retraining_through_the_job_graph(lifecycle: Lifecycle) -> None:
    drift_window = {"start_date": sample.DRIFT_START, "end_date": sample.DRIFT_END}
    drifted = generate_sample(
        sample.DRIFT_START, sample.DRIFT_END, sample.DRIFT_ROWS, sample.DEFAULT_SEED + 1, drift=True
    )
    lifecycle.platform.write_source(lifecycle.input_path, drifted)
{%- if cookiecutter.include_feature_store == "yes" %}
    assert_succeeded(lifecycle.run("feature_refresh_job", **drift_window))
{%- endif %}
    assert_succeeded(lifecycle.run("batch_inference_job", **drift_window))

    result = lifecycle.run("monitoring_job")

    assert_succeeded(result)
    assert result.value("monitor", "retrain") == "true"
    assert result.tasks["check_retrain"].outcome == "true"
    retrain = result.tasks["retrain"].child
    assert retrain is not None and retrain.job_key == "training_job" and retrain.success
    new_version = retrain.value("train", "model_version")
    assert lifecycle.alias(CHAMPION) == new_version
    assert lifecycle.alias(PREVIOUS_CHAMPION) == "1"
    metrics = lifecycle.platform.read_table(f"{lifecycle.prefix}.{DRIFT_METRICS_TABLE}")
    assert metrics.filter("breached").count() >= 1
{%- else %}


def test_retraining_on_the_same_window_replaces_the_champion(lifecycle: Lifecycle) -> None:
    result = lifecycle.run("training_job", **TRAIN)

    assert_succeeded(result)
    assert lifecycle.alias(CHAMPION) == result.value("train", "model_version")
    assert lifecycle.alias(PREVIOUS_CHAMPION) == "1"
{%- endif %}


def test_rollback_restores_the_previous_champion(lifecycle: Lifecycle) -> None:
    replaced = lifecycle.alias(CHAMPION)
    assert replaced not in (None, "1")

    assert_succeeded(lifecycle.run("rollback_job"))

    assert lifecycle.alias(CHAMPION) == "1"
    assert lifecycle.alias(PREVIOUS_CHAMPION) is None
