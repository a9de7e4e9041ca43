"""Canary rollout: a new champion takes a share of the endpoint's traffic, then all of it, or is
rolled back when its errors or latency are worse than the previous champion's.

The judgement and the alias moves are tested on their own; then the whole loop runs locally:
training_job deploys v1, a new version is promoted with the bundle's canary split, requests go
through the local endpoint (``serve``'s router, over HTTP, logged to the inference table), and
canary_job judges them from the bundle's own YAML.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import json
import threading
import time
import urllib.error
import urllib.request
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import mlflow
import numpy as np
import pyarrow as pa
import pytest

from {{ cookiecutter.package_name }}.deployment.canary import (
    CANARY_COMPLETED_EVENT,
    CANARY_ROLLED_BACK_EVENT,
    CanaryError,
    CanaryPolicy,
    EntityHealth,
    _labelled_accuracy,
    judge,
)
from {{ cookiecutter.package_name }}.deployment.events import events_table
from {{ cookiecutter.package_name }}.deployment.promote import (
    DeploymentError,
    parse_canary_percent,
    promote,
    rollback,
)
{%- if cookiecutter.include_feature_store == "yes" %}
from {{ cookiecutter.package_name }}.features.online import model_online_tables
{%- endif %}
from {{ cookiecutter.package_name }}.names import (
    CANARY_PASSED,
    CANARY_ROLLED_BACK,
    CANARY_RUNNING,
    CANARY_SUPERSEDED,
    CHALLENGER,
    CHAMPION,
    LABEL,
    PREVIOUS_CHAMPION,
    REQUEST_ID,
    TAG_CANARY,
    TAG_CANARY_BASELINE,
    TAG_CANARY_STARTED_AT,
    TAG_VALIDATION_STATUS,
    VALIDATION_PASSED,
)
from {{ cookiecutter.package_name }}.platform.base import ServingSpec
from {{ cookiecutter.package_name }}.registry import alias_version
from {{ cookiecutter.package_name }}_local.delta_store import DeltaStore
from {{ cookiecutter.package_name }}_local.deployed import deployed_names
from {{ cookiecutter.package_name }}_local.endpoint import EndpointRecord, make_server
from {{ cookiecutter.package_name }}_local.platform import LocalPlatform
from {{ cookiecutter.package_name }}_local.runner import JobRunner, load_bundle
from {{ cookiecutter.package_name }}_local.serve import endpoint_example, endpoint_router

from .registry import MODEL, RegistryPlatform, aliases, make_registry, tags
from .test_end_to_end import WEAK

POLICY = CanaryPolicy(soak_minutes=0, min_requests=20)
SERVING = ServingSpec("fare-endpoint", "", "", inference_table="dev.taxi", canary_percent=10)


# --- the judgement -----------------------------------------------------------------------------
def health(
    version: str,
    requests: int = 200,
    errors: int = 0,
    p95: float = 5.0,
    labelled: int = 0,
    rmse: float | None = None,
) -> EntityHealth:
    return EntityHealth(version, requests, errors, p95, labelled, rmse)


def test_a_canary_with_more_errors_than_allowed_loses():
    verdict = judge(health("1", errors=1), health("2", requests=40, errors=4), POLICY)
    assert verdict.decision == "roll back"
    assert verdict.reasons == ("error rate 10.0% against 0.5% (at most +1.0%)",)


def test_a_slower_canary_loses_but_a_few_milliseconds_are_noise():
    slow = judge(health("1", p95=4.0), health("2", requests=40, p95=60.0), POLICY)
    assert slow.decision == "roll back" and "p95 latency 60 ms against 4 ms" in slow.reasons[0]
    noise = judge(health("1", p95=2.0), health("2", requests=40, p95=9.0), POLICY)
    assert noise.decision == "promote"  # 4.5 times slower, but 7 ms is under the noise floor


def test_an_equal_canary_takes_all_of_the_traffic():
    verdict = judge(health("1", errors=2), health("2", requests=25, errors=0), POLICY)
    assert verdict.decision == "promote"
    assert verdict.reasons[0].startswith("v2: 25 requests, error rate 0.0%")


def test_a_less_accurate_canary_loses_once_enough_labels_have_arrived():
    policy = dataclasses.replace(POLICY, min_labels=30)
    verdict = judge(health("1", labelled=300, rmse=2.5), health("2", labelled=30, rmse=3.1), policy)
    assert verdict.decision == "roll back"
    assert verdict.reasons == (
        "RMSE 3.10 against 2.50 on 30 and 300 labelled requests (at most +20%)",
    )
    within = judge(health("1", labelled=300, rmse=2.5), health("2", labelled=30, rmse=2.9), policy)
    assert within.decision == "promote"
    assert "RMSE 2.90 on 30 labelled" in within.reasons[0]


def test_without_enough_labels_the_rmse_is_not_judged():
    policy = dataclasses.replace(POLICY, min_labels=30)
    verdict = judge(health("1", labelled=300, rmse=2.5), health("2", labelled=29, rmse=9.0), policy)
    assert verdict.decision == "promote"
    assert verdict.reasons[-1] == "RMSE not judged: v2 has 29 of 30 labelled requests"


def test_rmse_reads_only_numeric_answers_and_labels_keyed_by_any_id_type(local_platform):
    """An answer that is no number, or a label table keyed by integers, does not fail the check
    under ANSI SQL (serverless): only numeric answers with a label count."""
    spark = local_platform.spark
    labels = spark.createDataFrame([(1, 10.0), (2, 12.0), (3, 14.0)], [REQUEST_ID, LABEL])
    local_platform.write_table(labels, "main.s.labels")
    requests = spark.createDataFrame(
        [
            ("1", 200, "1", '{"predictions": [11.0]}'),
            ("1", 200, "2", '{"predictions": [{"fare": 3}]}'),
            ("2", 200, "3", '{"predictions": ["n/a"]}'),
            ("2", 200, "c0ffee", '{"predictions": [9.0]}'),
        ],
        ["version", "status_code", REQUEST_ID, "response"],
    )
    assert _labelled_accuracy(local_platform, "main.s.labels", requests) == {"1": (1, 1.0)}


def test_a_canary_with_too_few_requests_waits():
    verdict = judge(health("1"), health("2", requests=19, errors=19), POLICY)
    assert verdict.decision == "wait" and verdict.reasons == ("v2 has 19 of 20 requests",)


def test_canary_parameters_are_checked():
    assert CanaryPolicy.parse("60", "100", "0.01", "0.5", "200", "0.2") == CanaryPolicy(
        60, 100, 0.01, 0.5, 200, 0.2
    )
    with pytest.raises(CanaryError, match="canary_min_labels must be a non-negative int"):
        CanaryPolicy.parse("60", "100", "0.01", "0.5", "1.5", "0.2")
    with pytest.raises(CanaryError, match="canary_max_rmse_increase"):
        CanaryPolicy.parse("60", "100", "0.01", "0.5", "200", "inf")
    with pytest.raises(CanaryError, match="canary_min_requests must be a non-negative int"):
        CanaryPolicy.parse("60", "many", "0.01", "0.5")
    with pytest.raises(CanaryError, match="canary_max_latency_increase"):
        CanaryPolicy.parse("60", "100", "0.01", "-1")
    with pytest.raises(CanaryError, match="canary_max_error_rate_increase"):
        CanaryPolicy.parse("60", "100", "nan", "0.5")  # a canary that could never lose
    assert parse_canary_percent(" 10 ") == 10
    with pytest.raises(DeploymentError, match="canary_percent must be a whole number"):
        parse_canary_percent("10%")


# --- the alias moves and the split ---------------------------------------------------------------
@pytest.fixture
def registry(tmp_path) -> RegistryPlatform:
    platform = make_registry(tmp_path / "state", versions=4)
    platform.client.set_registered_model_alias(MODEL, CHAMPION, "1")
    return platform


def routes(platform: RegistryPlatform) -> list[tuple[str, int]]:
    return platform.served[-1].routes()


def test_a_new_champion_takes_the_canary_share_and_the_previous_one_the_rest(registry):
    registry.client.set_registered_model_alias(MODEL, CHALLENGER, "2")
    change = promote(registry, MODEL, "2", SERVING)
    assert change.canary_of == "1"
    assert routes(registry) == [("1", 90), ("2", 10)]
    assert aliases(registry) == {"champion": "2", "previous_champion": "1"}
    assert tags(registry, "2")[TAG_CANARY] == CANARY_RUNNING
    assert tags(registry, "2")[TAG_CANARY_BASELINE] == "1"


def test_without_a_canary_share_the_new_champion_takes_everything(registry):
    registry.client.set_registered_model_alias(MODEL, CHALLENGER, "2")
    change = promote(registry, MODEL, "2", dataclasses.replace(SERVING, canary_percent=0))
    assert change.canary_of is None and routes(registry) == [("2", 100)]
    assert TAG_CANARY not in tags(registry, "2")


def test_a_newer_champion_during_a_canary_is_compared_with_the_proven_version(registry):
    registry.client.set_registered_model_alias(MODEL, CHALLENGER, "2")
    promote(registry, MODEL, "2", SERVING)
    registry.client.set_registered_model_alias(MODEL, CHALLENGER, "3")
    change = promote(registry, MODEL, "3", SERVING)
    assert change.canary_of == "1" and routes(registry) == [("1", 90), ("3", 10)]
    assert aliases(registry) == {"champion": "3", "previous_champion": "1"}
    assert tags(registry, "2")[TAG_CANARY] == CANARY_SUPERSEDED


def test_deploying_a_running_canary_again_keeps_its_split(registry):
    registry.client.set_registered_model_alias(MODEL, CHALLENGER, "2")
    promote(registry, MODEL, "2", SERVING)
    change = promote(registry, MODEL, "2", dataclasses.replace(SERVING, canary_percent=0))
    assert not change.changed and routes(registry) == [("1", 90), ("2", 10)]


def test_a_rollback_during_a_canary_ends_it(registry):
    registry.client.set_registered_model_alias(MODEL, CHALLENGER, "2")
    promote(registry, MODEL, "2", SERVING)
    rollback(registry, MODEL, reason="pricing bug", requested_by="jane", serving=SERVING)
    assert routes(registry) == [("1", 100)]
    assert aliases(registry) == {"champion": "1"}
    assert tags(registry, "2")[TAG_CANARY] == CANARY_ROLLED_BACK


# --- the whole loop, locally -------------------------------------------------------------------
class FaultyModel(mlflow.pyfunc.PythonModel):
    """A version that fails every request, or answers each one only after ``delay`` seconds."""

    def __init__(self, fail: bool = False, delay: float = 0.0) -> None:
        self.fail = fail
        self.delay = delay

    def predict(self, context, model_input, params=None):
        if self.fail:
            raise RuntimeError("canary fault: the new version cannot score")
        time.sleep(self.delay)
        return np.zeros(len(model_input))


class ConstantModel(mlflow.pyfunc.PythonModel):
    """A version that answers every request with the same fare."""

    def __init__(self, fare: float) -> None:
        self.fare = fare

    def predict(self, context, model_input, params=None):
        return np.full(len(model_input), self.fare)


@dataclasses.dataclass
class Loop:
    root: Path
    spark: object
    platform: LocalPlatform
    model_name: str
    prefix: str
    endpoint: str
    store: str
    body: dict = dataclasses.field(default_factory=dict)  # one row, built while v1 is champion
    answers: dict[str, float] = dataclasses.field(default_factory=dict)  # request id -> fare

    def run(self, job: str, params: dict[str, str] | None = None, **variables: str):
        bundle = load_bundle(self.root, "dev", variables)
        with contextlib.redirect_stdout(io.StringIO()) as printed:
            result = JobRunner(bundle, spark=self.spark, out=lambda _: None).run(job, params)
        failure = result.root_failure()
        assert result.success, f"{failure.task_key}: {failure.error}\n{failure.traceback}"
        return result, printed.getvalue()

    def alias(self, alias: str) -> str | None:
        return alias_version(self.platform.mlflow_client(), self.model_name, alias)

    def tags(self, version: str) -> dict[str, str]:
        return self.platform.mlflow_client().get_model_version(self.model_name, version).tags

    def serving(self) -> ServingSpec:
        bundle = load_bundle(self.root, "dev")
        return ServingSpec(
            self.endpoint,
            self.model_name,
            "",
            inference_table=self.prefix,
{%- if cookiecutter.include_feature_store == "yes" %}
            online_tables=model_online_tables(self.model_name),
{%- endif %}
            canary_percent=int(bundle.variables["canary_percent"]),
        )

    def register(self, model: mlflow.pyfunc.PythonModel | None = None) -> str:
        """A version that passed the gate, as challenger: a copy of the champion, or ``model``."""
        client = self.platform.mlflow_client()
        if model is None:
            source = client.get_model_version(self.model_name, self.alias(CHAMPION)).source
            version = client.create_model_version(self.model_name, source=source).version
        else:
            self.platform.set_experiment("/Shared/canary-tests")  # artifacts in the state folder
            with mlflow.start_run():
                info = mlflow.pyfunc.log_model(name="model", python_model=model)
            version = client.create_model_version(self.model_name, source=info.model_uri).version
        client.set_model_version_tag(
            self.model_name, version, TAG_VALIDATION_STATUS, VALIDATION_PASSED
        )
        client.set_registered_model_alias(self.model_name, CHALLENGER, version)
        return str(version)

    def traffic(self, requests: int) -> dict[str, int]:
        """Send ``requests`` one-row requests through the endpoint over HTTP, each with its own
        ``client_request_id``: answers by status (the fares answered land in ``answers``)."""
        record = EndpointRecord.load(self.platform.state, self.endpoint)
        assert record is not None, "the deploy task recorded no endpoint"
        router, log = endpoint_router(self.platform.state, record, self.model_name, self.store)
        server = make_server(router, "127.0.0.1", 0)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        url = f"http://127.0.0.1:{server.server_address[1]}/invocations"
        statuses: dict[str, int] = {}
        try:
            for _ in range(requests):
                request_id = uuid.uuid4().hex
                body = json.dumps({**self.body, REQUEST_ID: request_id}).encode()
                request = urllib.request.Request(
                    url, data=body, headers={"Content-Type": "application/json"}
                )
                try:
                    with urllib.request.urlopen(request, timeout=30) as response:
                        status = response.status
                        self.answers[request_id] = json.load(response)["predictions"][0]
                except urllib.error.HTTPError as error:
                    status = error.code
                statuses[str(status)] = statuses.get(str(status), 0) + 1
        finally:
            server.shutdown()
            server.server_close()
            log.flush()
        return statuses

    def label(self, fare: float, since: int) -> int:
        """The true ``fare`` of the requests answered from ``since`` on (by position), as the
        application writes labels once the trips have ended."""
        ids = list(self.answers)[since:]
        labels = pa.table({REQUEST_ID: ids, LABEL: [fare] * len(ids)})
        store = DeltaStore(self.platform.state / "warehouse")
        store.write_at(store.path(self.serving().labels_table), labels, "append")
        return len(ids)

    def check(self, **variables: str) -> tuple[str, str]:
        """canary_job, judging at once on 20 requests a version unless told otherwise: its
        decision and what it printed."""
        settings = {
            "canary_soak_minutes": "0",
            "canary_min_requests": "20",
            "canary_min_labels": "20",
            **variables,
        }
        result, printed = self.run("canary_job", **settings)
        return str(result.value("canary_check", "decision")), printed

    def routes(self) -> list[tuple[str, int]]:
        record = EndpointRecord.load(self.platform.state, self.endpoint)
        return [(e.entity_version, e.traffic_percentage) for e in record.served_entities]

    def events(self) -> list[tuple[str, str, str]]:
        rows = self.platform.read_table(events_table(self.model_name)).orderBy("event_time")
        return [(r["event"], r["model_version"], r["reason"]) for r in rows.collect()]


@pytest.fixture(scope="module")
def loop(spark, project_root: Path, tmp_path_factory) -> Loop:
    """v1 trained, validated and deployed by training_job, and a one-row request for it."""
    state = tmp_path_factory.mktemp("canary-state")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("LOCAL_STATE_DIR", str(state))
        bundle = load_bundle(project_root, "dev")
        prefix, model_name = deployed_names(bundle)
        told = Loop(
            project_root,
            spark,
            LocalPlatform(spark, state=state),
            model_name,
            prefix,
            str(bundle.variables["serving_endpoint_name"]),
            str(bundle.variables.get("online_store_name") or ""),
        )
        window = {"start_date": "2016-01-01", "end_date": "2016-02-14"}
        if "feature_refresh_job" in bundle.job_keys:
            told.run("feature_refresh_job")
{%- if cookiecutter.model_approval == "yes" %}
        # A first model that passes the gate, promoted without waiting for a person's approval.
        told.run("training_job", window, require_approval="false", **WEAK)
{%- else %}
        told.run("training_job", window, **WEAK)  # a first model that passes the gate
{%- endif %}
        if told.store:  # key-only example requests are built from scored trips
            told.run("batch_inference_job", {"start_date": "2016-02-15", "end_date": "2016-02-29"})
        example, _ = endpoint_example(state, prefix, model_name, told.store)
        split = example.body["dataframe_split"]
        told.body = {"dataframe_split": {**split, "data": split["data"][:1]}}
        yield told


def start_canary(loop: Loop, model: mlflow.pyfunc.PythonModel | None = None) -> tuple[str, str]:
    baseline = loop.alias(CHAMPION)
    version = loop.register(model)
    change = promote(loop.platform, loop.model_name, version, loop.serving())
    assert change.canary_of == baseline
    assert loop.routes() == [(baseline, 90), (version, 10)]
    return baseline, version


def test_the_first_deploy_takes_all_of_the_traffic_and_no_canary_runs(loop):
    assert loop.routes() == [(loop.alias(CHAMPION), 100)]
    decision, printed = loop.check()
    assert decision == "none" and "no canary in progress" in printed


def test_a_canary_that_fails_requests_is_rolled_back(loop):
    baseline, canary = start_canary(loop, FaultyModel(fail=True))
    decision, printed = loop.check()  # no request logged yet
    assert decision == "wait" and "no request logged" in printed

    statuses = loop.traffic(250)

    assert statuses == {"200": 225, "500": 25}  # exactly the 10 % split
    decision, printed = loop.check()
    assert decision == "roll back", printed
    assert loop.routes() == [(baseline, 100)]
    assert (loop.alias(CHAMPION), loop.alias(PREVIOUS_CHAMPION)) == (baseline, None)
    assert loop.tags(canary)[TAG_CANARY] == CANARY_ROLLED_BACK
    event, version, reason = loop.events()[-1]
    assert (event, version) == (CANARY_ROLLED_BACK_EVENT, baseline)
    assert reason.startswith("canary: error rate 100.0% against 0.0%")


def test_a_slower_canary_is_rolled_back(loop):
    baseline, canary = start_canary(loop, FaultyModel(delay=0.08))
    assert loop.traffic(250) == {"200": 250}
    decision, _ = loop.check()
    assert decision == "roll back"
    assert loop.routes() == [(baseline, 100)] and loop.alias(CHAMPION) == baseline
    assert loop.tags(canary)[TAG_CANARY] == CANARY_ROLLED_BACK
    assert "p95 latency" in loop.events()[-1][2]


def test_a_less_accurate_canary_is_rolled_back_once_labels_arrive(loop):
    loop.traffic(1)  # the champion alone: its fare for the request's trip
    fare = next(reversed(loop.answers.values()))
    baseline, canary = start_canary(loop, ConstantModel(fare + 8.0))
    since = len(loop.answers)
    assert loop.traffic(250) == {"200": 250}
    # errors and latency are equal: the true fares, once they arrive, tell them apart
    assert loop.label(fare + 1.0, since) == 250
    decision, printed = loop.check()
    assert decision == "roll back", printed
    assert loop.routes() == [(baseline, 100)] and loop.alias(CHAMPION) == baseline
    assert loop.tags(canary)[TAG_CANARY] == CANARY_ROLLED_BACK
    event, version, reason = loop.events()[-1]
    assert (event, version) == (CANARY_ROLLED_BACK_EVENT, baseline)
    # the baseline is 1 off every true fare, the canary 7
    assert reason == "canary: RMSE 7.00 against 1.00 on 25 and 225 labelled requests (at most +20%)"


def test_a_canary_soaks_before_it_is_judged(loop):
    baseline, canary = start_canary(loop)
    decision, printed = loop.check(canary_soak_minutes="60")
    assert decision == "soaking" and f"canary v{canary} soaks until" in printed
    assert loop.routes() == [(baseline, 90), (canary, 10)]


def test_a_healthy_canary_takes_all_of_the_traffic(loop):
    canary = loop.alias(CHAMPION)  # the copy of the champion from the soaking test
    baseline = loop.alias(PREVIOUS_CHAMPION)
    assert loop.tags(canary)[TAG_CANARY] == CANARY_RUNNING
    started = datetime.fromisoformat(loop.tags(canary)[TAG_CANARY_STARTED_AT])
    assert datetime.now(UTC) - started < timedelta(minutes=30)
    assert loop.traffic(250) == {"200": 250}
    decision, printed = loop.check()
    assert decision == "promote", printed
    assert loop.routes() == [(canary, 100)]
    assert loop.tags(canary)[TAG_CANARY] == CANARY_PASSED
    event, version, reason = loop.events()[-1]
    assert (event, version) == (CANARY_COMPLETED_EVENT, canary)
    assert reason.startswith("canary passed")
    # no label arrived for this canary's requests: errors and latency decided alone
    assert reason.endswith(
        f"RMSE not judged: v{canary} has 0 of 20 labelled requests, "
        f"v{baseline} has 0 of 20 labelled requests"
    )
