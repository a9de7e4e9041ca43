"""End to end: every job of this bundle, run locally from databricks.yml and resources/.

One story runs once per test session, in lifecycle order, through the bundle's own jobs, and
the tests below read what happened:

refresh features (twice: idempotent) -> bad data stops the refresh -> train, validate, deploy
v1 -> score (twice: each trip once) -> a worse model is rejected -> report mode records without
deploying -> retraining the same model is a tie, not promoted -> a killed run's leftovers ->
drift makes monitoring retrain (or a better model is trained) -> rollback to v1 -> monitoring
judges v1 only on what it scored since the rollback.

Steps of jobs this bundle does not have (feature store, monitoring) are left out, and so are
the tests about them: which exist is read from the bundle itself. With monitoring, the bundle's
drift alert is evaluated after each monitoring run, and at the end the monitoring report renders
the dashboard's queries over the tables the story wrote.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from mlflow.entities import RunStatus

from {{ cookiecutter.package_name }}.names import (
    CHALLENGER,
    CHAMPION,
    INFERENCE_LOG_TABLE,
    MODEL_EVENTS_TABLE,
    PREVIOUS_CHAMPION,
    TAG_CHAMPION_SINCE,
    TAG_ROLLBACK_REASON,
    TAG_TASK,
    TAG_VALIDATION_STATUS,
    VALIDATION_ABANDONED,
    VALIDATION_RESULTS_TABLE,
)
from {{ cookiecutter.package_name }}.registry import alias_version
from {{ cookiecutter.package_name }}_local import sample
from {{ cookiecutter.package_name }}_local.demo import deployed_names
from {{ cookiecutter.package_name }}_local.platform import LocalPlatform, generate_sample
from {{ cookiecutter.package_name }}_local.report import (
    LocalViews,
    dashboard_files,
    dataset_sql,
    evaluate_alerts,
    make_report,
)
from {{ cookiecutter.package_name }}_local.runner import JobRunner, RunResult, load_bundle
from {{ cookiecutter.package_name }}_local.runner.results import EXCLUDED, SUCCESS

TRAIN = {"start_date": "2016-01-01", "end_date": "2016-02-14"}
SCORE = {"start_date": "2016-02-15", "end_date": "2016-02-29"}
DRIFT = {"start_date": sample.DRIFT_START, "end_date": sample.DRIFT_END}
# v1 is deliberately small, so that a model with the default hyperparameters beats it; a model
# of two boosting rounds is worse than v1.
WEAK = {"hyperparameters": json.dumps({"max_iter": 20})}
WORSE = {"hyperparameters": json.dumps({"max_iter": 2})}
REASON = "v2 misprices airport trips"
DEV = load_bundle(Path(__file__).resolve().parents[1], "dev")
JOBS = set(DEV.job_keys)
DASHBOARD = bool(DEV.resources.get("dashboards"))


@dataclass
class Story:
    """The bundle's jobs, the local platform they write to, and what each step produced."""

    root: Path
    spark: Any
    platform: LocalPlatform
    prefix: str
    model_name: str
    input_table: str
    jobs: list[str]
    runs: dict[str, RunResult] = field(default_factory=dict)
    facts: dict[str, Any] = field(default_factory=dict)

    def run(self, step: str, job: str, params: dict[str, str] | None = None, **variables: str):
        bundle = load_bundle(self.root, "dev", variables)
        result = JobRunner(bundle, spark=self.spark, out=lambda _: None).run(job, params)
        self.runs[step] = result
        return result

    def rows(self, table: str) -> int:
        name = f"{self.prefix}.{table}"
        return self.platform.read_table(name).count() if self.platform.table_exists(name) else 0

    def alias(self, alias: str) -> str | None:
        return alias_version(self.platform.mlflow_client(), self.model_name, alias)

    def tags(self, version: str) -> dict[str, str]:
        return self.platform.mlflow_client().get_model_version(self.model_name, version).tags

    def has(self, job: str) -> bool:
        return job in self.jobs

    def alerts(self) -> dict[str, str]:
        """Each alert of the bundle, evaluated now over the local tables: key -> state."""
        bundle = load_bundle(self.root, "dev")
        results = evaluate_alerts(bundle, self.platform, self.prefix, out=lambda _: None)
        return {result.key: result.state for result in results}


def tell(story: Story) -> None:
    """Run every step of the lifecycle once, recording results and facts."""
    fs, monitoring = story.has("feature_refresh_job"), story.has("monitoring_job")
    if fs:
        story.run("refresh", "feature_refresh_job")
        story.facts["feature_rows"] = story.rows("pickup_features")
        story.run("refresh again", "feature_refresh_job")
        story.facts["feature_rows_again"] = story.rows("pickup_features")
        bad = generate_sample("2016-03-01", "2016-03-02", 200, seed=7)
        bad.loc[bad.index[:50], "trip_distance"] = -3.0
        story.platform.write_source("test.bad.trips", bad, mode="overwrite")
        story.run("bad data", "feature_refresh_job", input_table="test.bad.trips")
        story.facts["feature_rows_after_bad_data"] = story.rows("pickup_features")

    story.run("train v1", "training_job", TRAIN, **WEAK)
    story.facts["champion after v1"] = story.alias(CHAMPION)
    story.run("score", "batch_inference_job", SCORE)
    story.facts["scored rows"] = story.rows(INFERENCE_LOG_TABLE)
    story.run("score again", "batch_inference_job", SCORE)
    story.facts["scored rows again"] = story.rows(INFERENCE_LOG_TABLE)

    story.run("worse model", "training_job", TRAIN, **WORSE)
    story.facts["champion after worse"] = story.alias(CHAMPION)
    story.run("report mode", "training_job", TRAIN, **WORSE, validation_mode="report")
    story.facts["challenger after report"] = story.alias(CHALLENGER)
    story.run("same model again", "training_job", TRAIN, **WEAK)
    story.facts["champion after tie"] = story.alias(CHAMPION)

    # A killed run: a version the gate never judged, a validation run left RUNNING.
    client = story.platform.mlflow_client()
    source = client.get_model_version(story.model_name, "1").source
    orphan = client.create_model_version(story.model_name, source=source).version
    experiment = client.get_experiment_by_name(_experiment(story))
    stale = client.create_run(experiment.experiment_id, tags={TAG_TASK: "validate"}).info.run_id
    story.facts.update(orphan=str(orphan), stale_run=stale)

    if monitoring:
        drifted = generate_sample(
            *DRIFT.values(), sample.DRIFT_ROWS, sample.DEFAULT_SEED + 1, drift=True
        )
        story.platform.write_source(story.input_table, drifted)
        if fs:
            story.run("refresh drifted", "feature_refresh_job", DRIFT)
        story.run("score drifted", "batch_inference_job", DRIFT)
        story.run("monitor", "monitoring_job")
        story.facts["alerts after drift"] = story.alerts()
    else:
        story.run("better model", "training_job", TRAIN)
    story.facts["champion after retrain"] = story.alias(CHAMPION)
    story.facts["previous after retrain"] = story.alias(PREVIOUS_CHAMPION)

    story.run("rollback", "rollback_job", {"reason": REASON, "requested_by": "tests"})
    story.facts["champion after rollback"] = story.alias(CHAMPION)
    if monitoring:
        story.run("monitor after rollback", "monitoring_job")
        story.facts["alerts after rollback"] = story.alerts()


def _experiment(story: Story) -> str:
    bundle = load_bundle(story.root, "dev")
    return bundle.resources["experiments"]["experiment"]["name"]


@pytest.fixture(scope="module")
def story(spark, project_root: Path, tmp_path_factory) -> Story:
    state = tmp_path_factory.mktemp("end-to-end-state")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("LOCAL_STATE_DIR", str(state))
        bundle = load_bundle(project_root, "dev")
        prefix, model_name = deployed_names(bundle)
        told = Story(
            root=project_root,
            spark=spark,
            platform=LocalPlatform(spark, state=state),
            prefix=prefix,
            model_name=model_name,
            input_table=str(bundle.variables["input_table"]),
            jobs=bundle.job_keys,
        )
        tell(told)
        yield told


def succeeded(result: RunResult) -> bool:
    failure = result.root_failure()
    assert result.success, f"{failure.task_key}: {failure.error}\n{failure.traceback}"
    return True


if "feature_refresh_job" in JOBS:

    def test_feature_refresh_is_idempotent(story):
        assert succeeded(story.runs["refresh"]) and succeeded(story.runs["refresh again"])
        assert story.facts["feature_rows"] > 0
        assert story.facts["feature_rows_again"] == story.facts["feature_rows"]

    def test_bad_data_stops_the_refresh_before_it_writes(story):
        result = story.runs["bad data"]
        failure = result.root_failure()
        assert not result.success and failure.task_key == "refresh_features"
        assert failure.actionable and "trip_distance" in failure.error
        assert story.facts["feature_rows_after_bad_data"] == story.facts["feature_rows"]


def test_training_job_trains_validates_and_promotes(story):
    result = story.runs["train v1"]
    assert succeeded(result)
    assert {key: task.state for key, task in result.tasks.items()} == dict.fromkeys(
        ("train", "validate", "check_passed", "deploy"), SUCCESS
    )
    assert result.value("train", "model_version") == "1"
    assert result.value("validate", "passed") == "true"
    assert story.facts["champion after v1"] == "1"
    checks = story.platform.read_table(f"{story.prefix}.{VALIDATION_RESULTS_TABLE}")
    assert checks.filter("model_version = '1' AND NOT passed").count() == 0


def test_batch_inference_scores_each_trip_once(story):
    assert succeeded(story.runs["score"]) and succeeded(story.runs["score again"])
    assert story.runs["score"].value("score", "rows_scored") == story.facts["scored rows"] > 0
    assert story.runs["score again"].value("score", "rows_scored") == 0
    assert story.facts["scored rows again"] == story.facts["scored rows"]


def test_gate_rejects_a_worse_model_and_keeps_the_champion(story):
    result = story.runs["worse model"]
    assert not result.success and result.root_failure().task_key == "validate"
    assert result.root_failure().actionable
    assert result.tasks["deploy"].state != SUCCESS
    assert story.facts["champion after worse"] == "1"


def test_report_mode_records_a_failed_gate_without_deploying(story):
    result = story.runs["report mode"]
    assert succeeded(result)
    assert result.value("validate", "passed") == "false"
    assert result.tasks["check_passed"].outcome == "false"
    assert result.tasks["deploy"].state == EXCLUDED
    assert story.facts["challenger after report"] is None


def test_a_tie_with_the_champion_is_not_promoted(story):
    result = story.runs["same model again"]
    assert not result.success and result.root_failure().task_key == "validate"
    assert "not better than the champion" in result.root_failure().error
    assert story.facts["champion after tie"] == "1"
    tie = result.value("train", "model_version")
    assert story.tags(tie)[TAG_VALIDATION_STATUS] == "failed"


def test_the_next_training_run_cleans_up_after_a_killed_run(story):
    client = story.platform.mlflow_client()
    assert client.get_run(story.facts["stale_run"]).info.status == RunStatus.to_string(
        RunStatus.KILLED
    )
    assert story.tags(story.facts["orphan"])[TAG_VALIDATION_STATUS] == VALIDATION_ABANDONED
    assert story.facts["orphan"] not in (
        story.facts["champion after retrain"],
        story.facts["champion after rollback"],
    )


if "monitoring_job" in JOBS:

    def test_drift_starts_retraining_through_the_job_graph(story):
        result = story.runs["monitor"]
        assert succeeded(result)
        assert result.value("monitor", "retrain") == "true"
        assert result.tasks["check_retrain"].outcome == "true"
        retrain = result.tasks["retrain"].child
        assert retrain is not None and retrain.job_key == "training_job" and retrain.success
        assert story.facts["champion after retrain"] == retrain.value("train", "model_version")
        assert story.facts["previous after retrain"] == "1"

    def test_a_rollback_sticks_monitoring_judges_only_rows_scored_since(story):
        result = story.runs["monitor after rollback"]
        assert succeeded(result)
        assert result.value("monitor", "retrain") == "false"
        assert result.tasks["retrain"].state == EXCLUDED
        assert story.facts["champion after rollback"] == story.alias(CHAMPION) == "1"

else:

    def test_a_better_model_replaces_the_champion(story):
        assert succeeded(story.runs["better model"])
        assert story.facts["champion after retrain"] not in (None, "1")
        assert story.facts["previous after retrain"] == "1"


def test_rollback_restores_the_previous_champion_and_records_why(story):
    assert succeeded(story.runs["rollback"])
    assert story.facts["champion after rollback"] == "1"
    tags = story.tags("1")
    assert tags[TAG_ROLLBACK_REASON] == REASON and TAG_CHAMPION_SINCE in tags


def test_every_champion_change_is_in_model_events(story):
    rows = (
        story.platform.read_table(f"{story.prefix}.{MODEL_EVENTS_TABLE}")
        .orderBy("event_time")
        .collect()
    )
    assert [(r.event, r.model_version) for r in rows] == [
        ("promoted", "1"),
        ("promoted", story.facts["champion after retrain"]),
        ("rolled_back", "1"),
    ]
    assert rows[1].previous_version == "1" and rows[2].previous_version == rows[1].model_version
    assert (rows[2].actor, rows[2].reason) == ("tests", REASON)


if DASHBOARD:

    @pytest.fixture(scope="module")
    def report(story, tmp_path_factory):
        path = tmp_path_factory.mktemp("report") / "monitoring.html"
        bundle = load_bundle(story.root, "dev")
        return make_report(bundle, story.spark, story.platform.state, path)

    def test_every_dashboard_query_runs_on_the_local_tables_and_finds_rows(story):
        """A renamed column or table fails here, as it would on the dashboard."""
        (path,) = dashboard_files(load_bundle(story.root, "dev")).values()
        datasets = json.loads(path.read_text())["datasets"]
        with LocalViews(story.platform, story.prefix) as views:
            rows = {d["name"]: len(views.query(dataset_sql(d))) for d in datasets}
        assert all(count > 0 for count in rows.values()), rows

    def test_the_report_has_data_in_every_panel(report):
        path, built = report
        page = path.read_text()
        panels = re.findall(r'<section class="panel"[^>]*data-rows="(\d+)"', page)
        assert len(panels) == len([p for p in built.panels if p.kind != "text"]) >= 8
        assert all(int(rows) > 0 for rows in panels), [(p.name, p.rows) for p in built.panels]
        assert 'class="error"' not in page and page.count("<svg") >= 5
        assert "mlflow ui --backend-store-uri sqlite:///" in page
        assert "Lakehouse Monitoring" in page and "Databricks-only" in page

    def test_the_drift_alert_fires_on_the_breach_and_clears_after_the_rollback(story, report):
        assert set(story.facts["alerts after drift"].values()) == {"TRIGGERED"}
        assert set(story.facts["alerts after rollback"].values()) == {"OK"}
        assert "TRIGGERED" not in {a.state for a in report[1].alerts}
        recorded = (story.platform.state / "alerts.jsonl").read_text().splitlines()
        assert len(recorded) >= 3 and '"TRIGGERED"' in recorded[0]
