"""Retraining decisions: a breach retrains once, then not again within the cool-down; each
monitoring run leaves one ``retrain_decisions`` row saying what it decided and why."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from {{ cookiecutter.package_name }}.monitoring.decisions import (
    CHALLENGER_WAITING,
    COOL_DOWN,
    NO_BREACH,
    NOT_ENOUGH_ROWS,
    NOT_SUSTAINED,
    RETRAIN,
    RetrainPolicy,
    decide_and_record,
)
from {{ cookiecutter.package_name }}.monitoring.monitor import DriftRow, MonitorResult
from {{ cookiecutter.package_name }}.names import (
    CHALLENGER,
    RETRAIN_DECISIONS_TABLE,
    TAG_VALIDATION_STATUS,
    VALIDATION_PASSED,
    table,
)

MODEL = "dev.s.fare_model"
START = datetime(2026, 3, 1, 7, 0, tzinfo=UTC)
BREACH = MonitorResult(
    True, "3", None, None, [DriftRow("trip_distance", "psi", 0.4, 0.2, breached=True)]
)
CALM = MonitorResult(False, "3", None, None, [DriftRow("trip_distance", "psi", 0.05, 0.2)])
TOO_FEW = MonitorResult(False, "3", None, None, [], note="not enough rows since ever: 0 scored")


def run(platform, result: MonitorResult, hours: float, policy: RetrainPolicy | None = None):
    """One monitoring run's decision, ``hours`` after START."""
    return decide_and_record(
        platform,
        result,
        model_name=MODEL,
        catalog="dev",
        schema="s",
        policy=policy or RetrainPolicy(),
        job_run_id=f"run-{hours}",
        now=START + timedelta(hours=hours),
    )


def recorded(platform) -> list[tuple[str, str, int]]:
    rows = platform.read_table(table("dev", "s", RETRAIN_DECISIONS_TABLE)).orderBy("decided_at")
    return [(r["job_run_id"], r["decision"], r["consecutive_breaches"]) for r in rows.collect()]


def test_a_breach_inside_the_cool_down_is_recorded_and_does_not_retrain(local_platform):
    first = run(local_platform, BREACH, 0)
    again = run(local_platform, BREACH, 6)  # a flapping metric, six hours later
    later = run(local_platform, BREACH, 25)  # the 24 h cool-down is over
    assert [first.retrain, again.retrain, later.retrain] == [True, False, True]
    assert again.decision == COOL_DOWN
    assert "cool-down of 24 h ends at 2026-03-02 07:00 UTC" in again.reason
    assert recorded(local_platform) == [
        ("run-0", RETRAIN, 1),
        ("run-6", COOL_DOWN, 2),
        ("run-25", RETRAIN, 3),
    ]
    assert again.breached == ["trip_distance.psi=0.400"]


def test_a_breach_retrains_only_when_it_lasts_the_required_runs(local_platform):
    policy = RetrainPolicy(cool_down_hours=0, min_breached_runs=2)
    decisions = [
        run(local_platform, BREACH, 0, policy),
        run(local_platform, CALM, 1, policy),  # the streak ends
        run(local_platform, BREACH, 2, policy),
        run(local_platform, BREACH, 3, policy),
    ]
    assert [d.decision for d in decisions] == [NOT_SUSTAINED, NO_BREACH, NOT_SUSTAINED, RETRAIN]
    assert [d.consecutive_breaches for d in decisions] == [1, 0, 1, 2]


def test_nothing_judged_and_a_waiting_challenger_never_retrain(local_platform):
    assert run(local_platform, TOO_FEW, 0).decision == NOT_ENOUGH_ROWS
    client = local_platform.mlflow_client()
    client.create_registered_model(MODEL)
    version = client.create_model_version(MODEL, source=str(local_platform.state)).version
    client.set_model_version_tag(MODEL, version, TAG_VALIDATION_STATUS, VALIDATION_PASSED)
    client.set_registered_model_alias(MODEL, CHALLENGER, version)
    waiting = run(local_platform, BREACH, 1)
    assert (waiting.decision, waiting.retrain) == (CHALLENGER_WAITING, False)
    assert f"v{version} waits as @challenger" in waiting.reason
    assert [d for _, d, _ in recorded(local_platform)] == [NOT_ENOUGH_ROWS, CHALLENGER_WAITING]


@pytest.mark.parametrize(("hours", "runs"), [(-1, 1), (24, 0)])
def test_a_policy_out_of_range_is_refused(hours, runs):
    with pytest.raises(ValueError, match="retrain_cool_down_hours must be >= 0"):
        RetrainPolicy(hours, runs)
