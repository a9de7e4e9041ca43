"""End to end: every job of this bundle, run locally from databricks.yml and resources/.

One story runs once per test session, in lifecycle order, through the bundle's own jobs, and
the tests below read what happened:

refresh features (twice: idempotent) -> bad data stops the refresh -> train, validate, deploy
v1 (where approval is required: v1 waits as challenger until approval_job approves it) -> score
(twice: each trip once) -> a worse model is rejected -> report mode records without deploying ->
retraining the same model is a tie, not promoted -> (approval: a good model is rejected by a
person and can never be approved) -> a killed run's leftovers -> drift makes monitoring retrain
(approval: the retrained version waits, then is approved), or a better model is trained ->
(streaming: new trips are streamed) -> rollback to v1 -> monitoring judges v1 only on what it
scored since the rollback -> (streaming: more trips are streamed, scored by v1) -> the champion
is served over HTTP and answers as batch scoring did.

Steps of jobs this bundle does not have (feature store, monitoring, approval, streaming) are left
out, and so are the tests about them: which exist is read from the bundle itself. With
monitoring, the bundle's drift alert is evaluated after each monitoring run, and at the end the
monitoring report renders the dashboard's queries over the tables the story wrote.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from mlflow.entities import RunStatus

from {{ cookiecutter.package_name }}.data.trips import load_trips, prepare_trips
from {{ cookiecutter.package_name }}.model_card import description_of
from {{ cookiecutter.package_name }}.names import (
    CHALLENGER,
    CHAMPION,
    DROPOFF_ZIP,
    FEATURE_COLUMNS,
    FEATURE_FRESHNESS_TABLE,
    INFERENCE_LOG_TABLE,
    KEY_COLUMNS,
    MODEL_EVENTS_TABLE,
    PICKUP_FEATURES,
    PICKUP_FEATURES_TABLE,
    PICKUP_ZIP,
    PREDICTION,
    PREVIOUS_CHAMPION,
    RETRAIN_DECISIONS_TABLE,
    TAG_APPROVAL,
    TAG_APPROVAL_BY,
    TAG_CHAMPION_SINCE,
    TAG_ROLLBACK_REASON,
    TAG_TASK,
    TAG_VALIDATION_RUN_ID,
    TAG_VALIDATION_STATUS,
    TRIP_FEATURES,
    VALIDATION_ABANDONED,
    VALIDATION_RESULTS_TABLE,
)
from {{ cookiecutter.package_name }}.platform.base import OnlineStoreSpec
from {{ cookiecutter.package_name }}.registry import alias_version
from {{ cookiecutter.package_name }}_local import sample
from {{ cookiecutter.package_name }}_local.cards import read_card
from {{ cookiecutter.package_name }}_local.cli import main
from {{ cookiecutter.package_name }}_local.deployed import deployed_names
from {{ cookiecutter.package_name }}_local.online_serving import OnlineModel
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
# Customize: for another estimator, a weak but acceptable setting and a worse one
# (docs/customize.md).
WEAK = {"hyperparameters": json.dumps({"max_iter": 20})}
WORSE = {"hyperparameters": json.dumps({"max_iter": 2})}
REASON = "v2 misprices airport trips"
# Trips that arrive after everything else, for the streaming job: two batches, a run after each.
STREAMED = [("2016-04-01", "2016-04-03", 300, 11), ("2016-05-01", "2016-05-02", 200, 12)]
DEV = load_bundle(Path(__file__).resolve().parents[1], "dev")
JOBS = set(DEV.job_keys)
DASHBOARD = bool(DEV.resources.get("dashboards"))
# With the feature store and serving, feature_refresh_job publishes to this online store.
ONLINE_STORE = (
    str(DEV.variables.get("online_store_name") or "") if "feature_refresh_job" in JOBS else ""
)
REQUEST_COLUMNS = [PICKUP_ZIP, DROPOFF_ZIP, *TRIP_FEATURES] if ONLINE_STORE else FEATURE_COLUMNS
# Trips after every feature window, as a request made now: their newest features are the ones
# a point-in-time lookup finds.
LATER = ("2016-06-01", "2016-06-02", 100, 21)
PACKAGE = "{{ cookiecutter.package_name }}"


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
    output: dict[str, str] = field(default_factory=dict)

    def run(self, step: str, job: str, params: dict[str, str] | None = None, **variables: str):
        """Run ``job``; keep its result and what its notebooks printed."""
        bundle = load_bundle(self.root, "dev", variables)
        printed = io.StringIO()
        with contextlib.redirect_stdout(printed):
            result = JobRunner(bundle, spark=self.spark, out=lambda _: None).run(job, params)
        self.runs[step] = result
        self.output[step] = printed.getvalue()
        return result

    def decide(self, step: str, version: str, decision: str, reason: str) -> RunResult:
        """A person's decision through approval_job, as ``python -m <package>_local approve``
        runs it."""
        params = {"version": str(version), "decision": decision, "reason": reason}
        return self.run(step, "approval_job", params)

    def trained(self, step: str) -> str:
        return str(self.runs[step].value("train", "model_version"))

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
    approval, streaming = story.has("approval_job"), story.has("streaming_inference_job")
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
    if approval:
        story.facts["waiting v1"] = (story.alias(CHAMPION), story.alias(CHALLENGER))
        story.decide("approve v1", "1", "approve", "first model: metrics reviewed")
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
    if approval:
        story.run("good model", "training_job", TRAIN)
        good = story.trained("good model")
        story.facts["waiting good"] = (story.alias(CHAMPION), story.alias(CHALLENGER))
        story.decide("reject good", good, "reject", "trained before the fare change")
        story.facts["after rejection"] = (story.alias(CHAMPION), story.alias(CHALLENGER))
        story.decide("approve rejected", good, "approve", "changed my mind")
        story.facts["champion after approving rejected"] = story.alias(CHAMPION)

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
        retrained = story.runs["monitor"].tasks["retrain"].child
        new = str(retrained.value("train", "model_version")) if retrained else ""
    else:
        story.run("better model", "training_job", TRAIN)
        new = story.trained("better model")
    if approval:
        story.facts["waiting retrained"] = (story.alias(CHAMPION), story.alias(CHALLENGER))
        story.decide("approve retrained", new, "approve", "better on the drifted trips")
    story.facts["champion after retrain"] = story.alias(CHAMPION)
    story.facts["previous after retrain"] = story.alias(PREVIOUS_CHAMPION)
    if streaming:
        stream(story, "stream", *STREAMED[0])

    story.run("rollback", "rollback_job", {"reason": REASON, "requested_by": "tests"})
    story.facts["champion after rollback"] = story.alias(CHAMPION)
    if monitoring:
        story.run("monitor after rollback", "monitoring_job")
        story.facts["alerts after rollback"] = story.alerts()
    if streaming:
        stream(story, "stream again", *STREAMED[1])


def stream(story: Story, step: str, start: str, end: str, rows: int, seed: int) -> None:
    """Append new trips to the input table, then run the streaming job once."""
    story.platform.write_source(story.input_table, generate_sample(start, end, rows, seed=seed))
    story.facts[f"{step}: source rows"] = story.platform.read_source(story.input_table).count()
    story.facts[f"{step}: champion"] = story.alias(CHAMPION)
    story.run(step, "streaming_inference_job")


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

    def test_every_monitoring_run_records_its_retraining_decision(story):
        """One retrain_decisions row per run, in order: the breach retrained (its job run
        holds the training run it started), the run after the rollback had too few rows."""
        rows = (
            story.platform.read_table(f"{story.prefix}.{RETRAIN_DECISIONS_TABLE}")
            .orderBy("decided_at")
            .toPandas()
        )
        assert rows["decision"].tolist() == ["retrain", "skipped: not enough rows"]
        assert rows["breached"].iloc[0] and not rows["breached"].iloc[1]
        assert rows["model_version"].tolist() == [
            story.facts["champion after v1"],
            story.facts["champion after rollback"],
        ]
        assert rows["job_run_id"].tolist() == [
            story.runs["monitor"].run_id,
            story.runs["monitor after rollback"].run_id,
        ]
        assert "decision: retrain (breached: " in story.output["monitor"]

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


def test_every_judged_version_has_a_card_that_agrees_with_the_tables(story, capsys):
    """The card of each version that validation judged (its artifact and its description):
    every gate check of its validation run with the result and thresholds, the champion it
    was compared with, each of its champion changes and decisions, its data."""
    client = story.platform.mlflow_client()
    checks = story.platform.read_table(f"{story.prefix}.{VALIDATION_RESULTS_TABLE}").toPandas()
    events = story.platform.read_table(f"{story.prefix}.{MODEL_EVENTS_TABLE}").toPandas()
    judged = sorted(set(checks["model_version"]), key=int)
    assert len(judged) >= 4
    for version in judged:
        version_info = client.get_model_version(story.model_name, version)
        card = read_card(story.platform.state, story.model_name, version)
        assert card.startswith(f"# {story.model_name} v{version}\n")
        assert version_info.description == description_of(card, version_info.run_id)
        ours = checks[
            (checks["model_version"] == version)
            & (checks["run_id"] == version_info.tags[TAG_VALIDATION_RUN_ID])
        ]
        for _, check in ours.iterrows():
            result = "passed" if check["passed"] else "FAILED"
            detail = str(check["detail"]).replace("|", "\\|").replace("\n", " ")
            assert f"| {check['check']} | {result} | {detail} |" in card, (version, check)
        champion = ours["champion_version"].iloc[0]
        compared = f"compared with champion v{champion}." if champion else "no champion"
        assert compared in card
        for _, event in events[events["model_version"] == version].iterrows():
            assert f"| {event['event']} | {event['actor']} | {event['reason']} |" in card
        if TAG_APPROVAL in version_info.tags:
            decided = version_info.tags[TAG_APPROVAL], version_info.tags[TAG_APPROVAL_BY]
            assert "| {} | {}".format(*decided) in card
        params = client.get_run(version_info.run_id).data.params
        assert f"{params['train_rows']} training, {params['heldout_rows']} held out" in card
    restored = read_card(story.platform.state, story.model_name, "1")
    assert "| rolled_back |" in restored and REASON in restored and "@champion" in restored
    assert main(["--project-dir", str(story.root), "card", "1"]) == 0
    assert capsys.readouterr().out == restored


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
    # A promotion is by the person who approved it where approval is required (a waiting or a
    # rejected version is no champion change), else by the gate.
    if "approval_job" in JOBS:
        reasons = [
            "approved: first model: metrics reviewed",
            "approved: better on the drifted trips",
        ]
        actors = [story.tags(r.model_version)[TAG_APPROVAL_BY] for r in rows[:2]]
    else:
        reasons = ["passed the validation gate"] * 2
        actors = [story.platform.current_user()] * 2
    assert [(r.actor, r.reason) for r in rows[:2]] == list(zip(actors, reasons, strict=True))


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
        assert "<h2>Model cards</h2>" in page
        for label, card in built.cards:  # every judged version, linked to its card
            assert f'<a href="{card.as_uri()}">{label}</a>' in page
        assert len(built.cards) >= 4

    def test_the_scoring_volume_counts_every_logged_trip(story):
        """Every trip in inference_log, batch or streamed, is in the dashboard's scoring volume,
        under the version that scored it."""
        (path,) = dashboard_files(load_bundle(story.root, "dev")).values()
        datasets = {d["name"]: d for d in json.loads(path.read_text())["datasets"]}
        with LocalViews(story.platform, story.prefix) as views:
            volume = views.query(dataset_sql(datasets["scoring_volume"]))
            logged = views.query(
                "SELECT DATE(tpep_pickup_datetime) AS pickup_date, model_version, COUNT(*) AS trips"
                f" FROM {INFERENCE_LOG_TABLE} GROUP BY 1, 2"
            )
        key = ["pickup_date", "model_version"]
        assert volume[[*key, "trips"]].sort_values(key).values.tolist() == (
            logged.sort_values(key).values.tolist()
        )
        assert int(volume["trips"].sum()) == story.rows(INFERENCE_LOG_TABLE)

    def test_the_drift_alert_fires_on_the_breach_and_clears_after_the_rollback(story, report):
        assert set(story.facts["alerts after drift"].values()) == {"TRIGGERED"}
        assert set(story.facts["alerts after rollback"].values()) == {"OK"}
        assert "TRIGGERED" not in {a.state for a in report[1].alerts}
        recorded = (story.platform.state / "alerts.jsonl").read_text().splitlines()
        assert len(recorded) >= 3 and '"TRIGGERED"' in recorded[0]


if DASHBOARD and "streaming_inference_job" in JOBS:

    def test_streamed_trips_are_in_the_scoring_volume_under_the_champion_of_their_run(story):
        (path,) = dashboard_files(load_bundle(story.root, "dev")).values()
        (dataset,) = [
            d for d in json.loads(path.read_text())["datasets"] if d["name"] == "scoring_volume"
        ]
        with LocalViews(story.platform, story.prefix) as views:
            volume = views.query(dataset_sql(dataset))
        days = volume["pickup_date"].astype(str)
        for (start, end, rows, _), step in zip(STREAMED, ("stream", "stream again"), strict=True):
            window = volume[(days >= start) & (days <= end)]
            assert int(window["trips"].sum()) == rows
            assert set(window["model_version"]) == {story.facts[f"{step}: champion"]}


if "approval_job" in JOBS:

    def test_a_validated_version_waits_for_approval_then_is_promoted(story):
        train = story.runs["train v1"]
        assert succeeded(train)
        assert train.value("deploy", "promoted") == "false"
        assert story.facts["waiting v1"] == (None, "1")
        assert "not promoted: " in story.output["train v1"]
        assert "waits as @challenger for a person's approval" in story.output["train v1"]
        approval = story.runs["approve v1"]
        assert succeeded(approval)
        assert approval.tasks["deploy"].state == SUCCESS
        assert approval.value("deploy", "promoted") == "true"
        assert story.facts["champion after v1"] == "1"
        assert story.tags("1")[TAG_APPROVAL] == "approved"
        assert story.tags("1")[TAG_APPROVAL_BY]  # the local user who ran the job

    def test_a_rejected_version_is_never_promoted(story):
        good = story.trained("good model")
        assert story.runs["good model"].value("validate", "passed") == "true"
        assert story.facts["waiting good"] == ("1", good)
        rejection = story.runs["reject good"]
        assert succeeded(rejection)
        assert rejection.tasks["deploy"].state == EXCLUDED
        assert story.facts["after rejection"] == ("1", None)
        assert story.tags(good)[TAG_APPROVAL] == "rejected"
        failure = story.runs["approve rejected"].root_failure()
        assert failure.task_key == "decide" and failure.actionable
        assert "already rejected" in failure.error
        assert story.facts["champion after approving rejected"] == "1"
        assert good not in (
            story.facts["champion after retrain"],
            story.facts["champion after rollback"],
        )

    def test_retraining_leaves_its_version_waiting_for_approval(story):
        step = "monitor" if "monitoring_job" in JOBS else "better model"
        result = story.runs[step]
        assert succeeded(result)
        trained = result.tasks["retrain"].child if step == "monitor" else result
        assert trained.value("deploy", "promoted") == "false"
        assert "not promoted: " in story.output[step]
        new = str(trained.value("train", "model_version"))
        assert story.facts["waiting retrained"] == ("1", new)
        assert succeeded(story.runs["approve retrained"])
        assert story.facts["champion after retrain"] == new


if "streaming_inference_job" in JOBS:

    def test_streaming_scores_every_trip_exactly_once_with_the_champion_of_each_run(story):
        first, second = story.runs["stream"], story.runs["stream again"]
        assert succeeded(first) and succeeded(second)
        # The first run reads the whole table (the stream's initial snapshot), the second only
        # the trips appended since.
        assert first.value("score_stream", "input_rows") == story.facts["stream: source rows"]
        assert second.value("score_stream", "input_rows") == STREAMED[1][2]
        log = story.platform.read_table(f"{story.prefix}.{INFERENCE_LOG_TABLE}")
        keys = log.select(*KEY_COLUMNS)
        assert keys.count() == keys.distinct().count()
        trips = load_trips(story.platform, story.input_table).select(*KEY_COLUMNS).distinct()
        assert trips.subtract(keys).count() == 0 and keys.subtract(trips).count() == 0
        for (start, end, _, _), step in zip(STREAMED, ("stream", "stream again"), strict=True):
            versions = {
                row.model_version
                for row in log.where(f"tpep_pickup_datetime BETWEEN '{start}' AND '{end} 23:59:59'")
                .select("model_version")
                .distinct()
                .collect()
            }
            assert versions == {story.facts[f"{step}: champion"]}
        assert story.facts["stream: champion"] != story.facts["stream again: champion"] == "1"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for(condition, what: str, server: subprocess.Popen, log: Path, seconds: float = 240):
    """Poll ``condition`` until it returns something, the server exits, or time runs out."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        assert server.poll() is None, f"serve exited ({server.returncode}):\n{log.read_text()}"
        time.sleep(0.5)
    raise AssertionError(f"no {what} after {seconds}s:\n{log.read_text()}")


def printed_request(log: Path) -> dict[str, Any] | None:
    """The JSON body of the curl example that ``serve`` prints."""
    for line in log.read_text().splitlines():
        if line.startswith("curl ") and " -d '" in line:
            return json.loads(line.split(" -d '", 1)[1].rstrip("'"))
    return None


def answers(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/ping", timeout=2) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


def live_processes(group: int) -> list[int]:
    """Processes of a process group that still run (zombies waiting to be reaped excluded)."""
    if not Path("/proc").is_dir():
        try:
            os.killpg(group, 0)
        except ProcessLookupError:
            return []
        return [group]
    alive = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[2]) == group and fields[0] != "Z":
            alive.append(int(stat.parent.name))
    return alive


def stop(server: subprocess.Popen) -> None:
    """Stop the scoring server and everything it started (it runs in its own process group):
    SIGTERM, up to 30 s for the group to exit, then SIGKILL."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(server.pid, sig)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with contextlib.suppress(subprocess.TimeoutExpired):
                server.wait(timeout=0.5)
            if server.returncode is not None and not live_processes(server.pid):
                return


def test_the_served_champion_answers_as_batch_scoring_did(story, tmp_path):
    port, log = free_port(), tmp_path / "serve.log"
    env = {
        **os.environ,
        "LOCAL_STATE_DIR": str(story.platform.state),
        "PYTHONPATH": os.pathsep.join([str(story.root / "src"), os.environ.get("PYTHONPATH", "")]),
    }
    with log.open("w") as out:
        server = subprocess.Popen(
            [sys.executable, "-m", f"{PACKAGE}_local", "serve", "--port", str(port)],
            cwd=story.root,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        body = wait_for(lambda: printed_request(log), "example request", server, log)
        wait_for(lambda: answers(port), "answer on /ping", server, log)
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/invocations",
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=60) as response:
            served = json.loads(response.read())["predictions"]
    finally:
        stop(server)
    leaked = live_processes(server.pid)
    assert leaked == [], [Path(f"/proc/{pid}/cmdline").read_bytes() for pid in leaked]

    champion = story.alias(CHAMPION)
    assert f"(v{champion}) at http://127.0.0.1:{port}" in log.read_text()
    assert body["dataframe_split"]["columns"] == REQUEST_COLUMNS
    if ONLINE_STORE:  # key-only: the server looked the features up
        assert f"features: looked up in the online store {ONLINE_STORE}" in log.read_text()
    logged = (
        story.platform.read_table(f"{story.prefix}.{INFERENCE_LOG_TABLE}")
        .where(f"model_version = '{champion}'")
        .select(*REQUEST_COLUMNS, PREDICTION)
        .toPandas()
    )
    batch = []
    for row in body["dataframe_split"]["data"]:
        same = np.isclose(logged[REQUEST_COLUMNS].to_numpy(float), np.asarray(row)).all(axis=1)
        assert same.any(), f"{row} is not a row the champion scored"
        batch.append(logged.loc[same, PREDICTION].iloc[0])
    assert len(served) == len(batch) > 0
    np.testing.assert_allclose(served, batch, rtol=1e-6, atol=1e-6)


if ONLINE_STORE:

    def later_trips(story: Story):
        """Trips after every feature window: cleaned, with their own fields only."""
        raw = story.spark.createDataFrame(generate_sample(*LATER[:2], LATER[2], seed=LATER[3]))
        return prepare_trips(raw).select(*KEY_COLUMNS, *TRIP_FEATURES)

    def served_and_batch(story: Story, trips) -> tuple[Any, np.ndarray, Any]:
        """Key-only answers of the champion from the online store, and batch scoring's rows
        (in trip key order, the same on every call)."""
        uri = f"models:/{story.model_name}@{CHAMPION}"
        model = OnlineModel.load(uri, story.platform.online_store(ONLINE_STORE))
        assert model is not None, "the champion's feature tables are not in the online store"
        batch = story.platform.score_batch(uri, trips).toPandas()
        batch = batch.sort_values(KEY_COLUMNS, ignore_index=True)
        served = model.predict(batch[model.request_columns])
        return model, np.asarray(served), batch

    def test_every_feature_refresh_publishes_its_tables_online(story):
        from {{ cookiecutter.package_name }}.features.online import online_tables

        assert "pickup_features_online: v" in story.output["refresh"]
        assert "(published)" in story.output["refresh"]
        online = [name for _, name in online_tables(*story.prefix.split("."))]
        assert story.platform.missing_online_tables(online) == []
        freshness = [
            story.platform.online_freshness(src, o)
            for src, o in online_tables(*story.prefix.split("."))
        ]
        assert [f.versions_behind for f in freshness] == [0, 0]

    def test_monitoring_records_the_freshness_of_each_online_table(story):
        rows = story.platform.read_table(f"{story.prefix}.{FEATURE_FRESHNESS_TABLE}").toPandas()
        runs = sum(1 for step in story.runs if step.startswith("monitor"))
        assert len(rows) == 2 * runs > 0
        assert set(rows["versions_behind"]) == {0}
        assert "versions behind" in story.output["monitor"]

    def test_a_key_only_request_gets_the_answer_batch_scoring_gives(story):
        trips = later_trips(story)
        model, served, batch = served_and_batch(story, trips)
        assert len(served) == len(batch) >= 90
        looked_up = model.features(batch[model.request_columns])
        assert looked_up[list(PICKUP_FEATURES)].notna().all(axis=1).mean() > 0.5
        np.testing.assert_allclose(served, batch[PREDICTION], rtol=1e-6, atol=1e-6)

    def test_a_changed_feature_is_served_after_the_next_publish(story):
        """A refresh that changes a zip's features: the online copy is stale until the next
        publish, then serves the new value, which is what batch scoring uses."""
        from {{ cookiecutter.package_name }}.features.online import publish_features

        trips = later_trips(story)
        model, before, batch = served_and_batch(story, trips)
        pickup = f"{story.prefix}.{PICKUP_FEATURES_TABLE}"
        features = story.platform.read_table(pickup).toPandas()

        def answers_differently(zip_code: int, feature: str, value: float) -> bool:
            rows = (batch[PICKUP_ZIP] == zip_code).to_numpy()
            request = batch.loc[rows, model.request_columns].assign(**{feature: value})
            return not np.allclose(model.predict(request), before[rows])

        # A new value of one pickup feature of one zip that the model answers differently to
        # (a tree model is blind to changes inside one of its bins).
        zip_code, feature, value = next(
            (zip_code, feature, float(value))
            for zip_code in batch[PICKUP_ZIP].unique()
            for feature in PICKUP_FEATURES
            for value in features[feature].quantile([0.01, 0.25, 0.5, 0.75, 0.99])
            if answers_differently(zip_code, feature, value)
        )
        ours = (batch[PICKUP_ZIP] == zip_code).to_numpy()
        newest = features[features[PICKUP_ZIP] == zip_code].nlargest(1, "pickup_window_end")
        changed = newest.assign(
            pickup_window_end=newest["pickup_window_end"] + np.timedelta64(1, "h"),
            **{feature: value},
        )
        story.platform.write_feature_table(
            story.spark.createDataFrame(changed), pickup, [PICKUP_ZIP], "pickup_window_end", ""
        )
        _, stale, batch = served_and_batch(story, trips)
        scored = batch[PREDICTION].to_numpy()
        np.testing.assert_allclose(stale, before)  # not published yet: the old value
        assert not np.allclose(scored[ours], before[ours])
        online = f"{pickup}_online"
        assert story.platform.online_freshness(pickup, online).versions_behind == 1

        catalog, schema = story.prefix.split(".")
        publish_features(story.platform, catalog, schema, OnlineStoreSpec(ONLINE_STORE))
        _, after, batch = served_and_batch(story, trips)
        np.testing.assert_allclose(after, batch[PREDICTION], rtol=1e-6, atol=1e-6)
        assert not np.allclose(after[ours], before[ours])
        np.testing.assert_allclose(after[~ours], before[~ours])
        assert story.platform.online_freshness(pickup, online).versions_behind == 0
