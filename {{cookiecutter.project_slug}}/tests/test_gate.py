"""Validation gate decisions (pure functions) and their agreement with MLflow's validator."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from mlflow.models import EvaluationResult, MetricThreshold
from mlflow.models.evaluation.validation import (
    ModelValidationFailedException,
    validate_evaluation_results,
)

from {{ cookiecutter.package_name }}.validation.gate import (
    MAE,
    R2,
    RMSE,
    CheckResult,
    GateConfig,
    build_thresholds,
    check_compliance,
    check_metrics,
    check_smoke,
    gate_passed,
    parse_mode,
)

GOOD = {RMSE: 2.0, MAE: 1.5, R2: 0.9}


def test_thresholds_compare_with_champion_only_when_there_is_one():
    config = GateConfig(max_rmse=5.0, min_relative_improvement=0.02)
    alone = build_thresholds(config, with_baseline=False)
    assert alone[RMSE].threshold == 5.0 and alone[RMSE].min_relative_change is None
    versus = build_thresholds(config, with_baseline=True)
    assert versus[RMSE].min_relative_change == 0.02
    assert versus[R2].greater_is_better and not versus[RMSE].greater_is_better


def test_absolute_thresholds():
    thresholds = build_thresholds(
        GateConfig(max_rmse=3.0, max_mae=2.0, min_r2=0.8), with_baseline=False
    )
    assert gate_passed(check_metrics(thresholds, GOOD))
    failed = [
        c.check for c in check_metrics(thresholds, {**GOOD, RMSE: 3.5, R2: 0.5}) if not c.passed
    ]
    assert failed == [f"metric:{RMSE}", f"metric:{R2}"]


def test_missing_or_nan_candidate_metric_fails():
    thresholds = build_thresholds(GateConfig(), with_baseline=False)
    results = check_metrics(thresholds, {MAE: 1.0, R2: float("nan")})
    assert {c.check for c in results if not c.passed} == {f"metric:{RMSE}", f"metric:{R2}"}


@pytest.mark.parametrize(
    ("candidate_rmse", "champion_rmse", "required", "passes"),
    [
        (2.0, 2.0, 0.0, True),  # not worse than the champion
        (2.01, 2.0, 0.0, False),  # slightly worse
        (1.9, 2.0, 0.05, True),  # 5 % better
        (1.95, 2.0, 0.05, False),  # only 2.5 % better
    ],
)
def test_relative_change_against_champion(candidate_rmse, champion_rmse, required, passes):
    thresholds = build_thresholds(GateConfig(min_relative_improvement=required), with_baseline=True)
    results = check_metrics(
        thresholds, {**GOOD, RMSE: candidate_rmse}, {**GOOD, RMSE: champion_rmse}
    )
    versus = next(c for c in results if c.check == f"vs_champion:{RMSE}")
    assert versus.passed is passes
    assert "relative improvement" in versus.detail


def test_champion_without_the_metric_fails_the_comparison():
    thresholds = build_thresholds(GateConfig(), with_baseline=True)
    results = check_metrics(thresholds, GOOD, {MAE: 1.0})
    assert not next(c for c in results if c.check == f"vs_champion:{RMSE}").passed


def _mlflow_passes(thresholds, candidate, baseline) -> bool:
    def result(metrics):
        return None if metrics is None else EvaluationResult(metrics=metrics, artifacts={})

    try:
        validate_evaluation_results(thresholds, result(candidate), result(baseline))
    except ModelValidationFailedException:
        return False
    return True


def test_decisions_agree_with_mlflow_validate_evaluation_results():
    rng = np.random.default_rng(0)
    configs = [GateConfig(), GateConfig(max_rmse=2.5, min_relative_improvement=0.1)]
    for config, with_baseline in itertools.product(configs, [False, True]):
        thresholds = build_thresholds(config, with_baseline)
        for _ in range(25):
            candidate = {RMSE: rng.uniform(1, 4), MAE: rng.uniform(0.5, 6), R2: rng.uniform(0.4, 1)}
            baseline = {RMSE: rng.uniform(1, 4), MAE: 1.0, R2: 0.9} if with_baseline else None
            ours = gate_passed(check_metrics(thresholds, candidate, baseline))
            assert ours is _mlflow_passes(thresholds, candidate, baseline), (candidate, baseline)


def test_min_absolute_change_is_supported():
    thresholds = {RMSE: MetricThreshold(min_absolute_change=0.5, greater_is_better=False)}
    assert gate_passed(check_metrics(thresholds, {RMSE: 1.4}, {RMSE: 2.0}))
    assert not gate_passed(check_metrics(thresholds, {RMSE: 1.6}, {RMSE: 2.0}))


def test_compliance_checks():
    tags = {"training_run_id": "abc", "training_window": "min..max", "feature_source": ""}
    results = check_compliance(True, "a model", tags, ["training_run_id", "feature_source"])
    assert [c.passed for c in results] == [True, True, False]
    assert "feature_source" in results[2].detail
    assert not any(c.passed for c in check_compliance(False, "  ", {}, ["x"]))


def test_smoke_check():
    assert check_smoke(np.array([1.0, 2.0]), 2).passed
    assert not check_smoke(np.array([1.0]), 2).passed
    assert not check_smoke(np.array([1.0, np.nan]), 2).passed
    assert not check_smoke(np.array([]), 0).passed


def test_gate_needs_every_check_and_at_least_one():
    assert gate_passed([CheckResult("a", True, "")])
    assert not gate_passed([CheckResult("a", True, ""), CheckResult("b", False, "")])
    assert not gate_passed([])


def test_validation_mode():
    assert parse_mode("") == "enforce"
    assert parse_mode(" Report ") == "report"
    with pytest.raises(ValueError, match="validation_mode"):
        parse_mode("warn")
