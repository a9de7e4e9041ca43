"""Validation gate decisions (pure functions) and their agreement with MLflow's validator."""

from __future__ import annotations

import numpy as np
import pytest
from mlflow.models import EvaluationResult, MetricThreshold
from mlflow.models.evaluation.validation import (
    ModelValidationFailedException,
    validate_evaluation_results,
)
from sklearn.metrics import mean_absolute_error, mean_squared_error, r2_score

from {{ cookiecutter.package_name }}.validation.gate import (
    MAE,
    R2,
    RMSE,
    CheckResult,
    GateConfig,
    build_thresholds,
    check_compliance,
    check_improvement,
    check_metrics,
    check_smoke,
    evaluation_metrics,
    gate_passed,
    parse_mode,
    parse_share,
)

GOOD = {RMSE: 2.0, MAE: 1.5, R2: 0.9}


def test_thresholds_are_absolute_limits():
    thresholds = build_thresholds(GateConfig(max_rmse=5.0, min_r2=0.7))
    assert thresholds[RMSE].threshold == 5.0 and thresholds[RMSE].min_relative_change is None
    assert thresholds[R2].greater_is_better and not thresholds[RMSE].greater_is_better


def test_absolute_thresholds():
    thresholds = build_thresholds(GateConfig(max_rmse=3.0, max_mae=2.0, min_r2=0.8))
    assert gate_passed(check_metrics(thresholds, GOOD))
    failed = [
        c.check for c in check_metrics(thresholds, {**GOOD, RMSE: 3.5, R2: 0.5}) if not c.passed
    ]
    assert failed == [f"metric:{RMSE}", f"metric:{R2}"]


def test_missing_or_nan_candidate_metric_fails():
    thresholds = build_thresholds(GateConfig())
    results = check_metrics(thresholds, {MAE: 1.0, R2: float("nan")})
    assert {c.check for c in results if not c.passed} == {f"metric:{RMSE}", f"metric:{R2}"}


@pytest.mark.parametrize(
    ("candidate_rmse", "champion_rmse", "required", "passes"),
    [
        (2.0, 2.0, 0.0, False),  # a tie is not an improvement
        (1.999, 2.0, 0.0, True),  # strictly better
        (2.01, 2.0, 0.0, False),  # slightly worse
        (1.89, 2.0, 0.05, True),  # 5.5 % better
        (1.5, 2.0, 0.25, False),  # exactly 25 % is not more than 25 %
        (1.95, 2.0, 0.05, False),  # only 2.5 % better
    ],
)
def test_improvement_over_the_champion(candidate_rmse, champion_rmse, required, passes):
    check = check_improvement(candidate_rmse, champion_rmse, required)
    assert check.passed is passes
    assert check.check == f"vs_champion:{RMSE}"
    verdict = "better than the champion" if passes else "not better than the champion"
    assert check.detail.startswith(verdict)


def test_a_tie_row_says_not_better():
    check = check_improvement(2.0, 2.0, 0.0)
    assert check.detail == (
        "not better than the champion: candidate 2.0000, champion 2.0000, relative improvement "
        "+0.00%, required > 0.00%"
    )


def test_improvement_without_a_finite_metric_fails():
    assert not check_improvement(None, 2.0, 0.0).passed
    assert not check_improvement(1.0, float("nan"), 0.0).passed


def test_parse_share():
    assert parse_share("", "x") == 0.0
    assert parse_share(" 0.05 ", "x") == 0.05
    with pytest.raises(ValueError, match="min_relative_improvement must be a number"):
        parse_share("five", "min_relative_improvement")
    with pytest.raises(ValueError, match="non-negative"):
        parse_share("-0.1", "x")


def _mlflow_passes(thresholds, candidate) -> bool:
    try:
        validate_evaluation_results(thresholds, EvaluationResult(metrics=candidate, artifacts={}))
    except ModelValidationFailedException:
        return False
    return True


def test_absolute_decisions_agree_with_mlflow_validate_evaluation_results():
    rng = np.random.default_rng(0)
    for config in (GateConfig(), GateConfig(max_rmse=2.5, min_r2=0.8)):
        thresholds = build_thresholds(config)
        for _ in range(50):
            candidate = {RMSE: rng.uniform(1, 4), MAE: rng.uniform(0.5, 6), R2: rng.uniform(0.4, 1)}
            ours = gate_passed(check_metrics(thresholds, candidate))
            assert ours is _mlflow_passes(thresholds, candidate), candidate


def test_evaluation_metrics_match_scikit_learn():
    rng = np.random.default_rng(3)
    actual = rng.normal(12, 4, 500)
    predicted = actual + rng.normal(0.3, 1.5, 500)
    metrics = evaluation_metrics(actual, predicted)
    assert metrics[RMSE] == pytest.approx(np.sqrt(mean_squared_error(actual, predicted)))
    assert metrics[MAE] == pytest.approx(mean_absolute_error(actual, predicted))
    assert metrics[R2] == pytest.approx(r2_score(actual, predicted))


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
