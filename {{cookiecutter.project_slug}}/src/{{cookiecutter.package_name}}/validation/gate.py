"""Gate decisions as pure functions: thresholds, metric checks, compliance, smoke test."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from mlflow.models import MetricThreshold

RMSE = "root_mean_squared_error"
MAE = "mean_absolute_error"
R2 = "r2_score"

# Relative differences below this are float noise: a retrained identical model ties.
TIE_TOLERANCE = 1e-9

ENFORCE = "enforce"
REPORT = "report"
MODES = (ENFORCE, REPORT)


@dataclass(frozen=True)
class GateConfig:
    """Absolute limits on the held-out metrics, and the improvement over the champion.

    The candidate's RMSE must be lower than the champion's by more than
    ``min_relative_improvement`` (a share): 0.0 means strictly better (a tie is not promoted),
    0.05 means more than 5 % lower. The bundle variable ``min_relative_improvement`` sets it.
    """

    # Customize: the absolute limits every candidate must meet (in the label's units).
    max_rmse: float = 8.0
    max_mae: float = 5.0
    min_r2: float = 0.6
    min_relative_improvement: float = 0.0


@dataclass(frozen=True)
class CheckResult:
    """One row of ``validation_results``."""

    check: str
    passed: bool
    detail: str


def evaluation_metrics(actual: np.ndarray, predicted: np.ndarray) -> dict[str, float]:
    """RMSE, MAE and R2 under the names of MLflow's regressor evaluation."""
    actual = np.asarray(actual, dtype=float)
    predicted = np.asarray(predicted, dtype=float).reshape(-1)
    errors = predicted - actual
    total = float(np.sum((actual - actual.mean()) ** 2))
    return {
        RMSE: float(np.sqrt(np.mean(errors**2))),
        MAE: float(np.mean(np.abs(errors))),
        R2: 1.0 - float(np.sum(errors**2)) / total if total > 0 else float("nan"),
    }


def parse_mode(mode: str) -> str:
    """``enforce`` (default for an empty string) or ``report``."""
    value = (mode or ENFORCE).strip().lower()
    if value not in MODES:
        raise ValueError(f"validation_mode must be one of {MODES}, got {mode!r}")
    return value


def build_thresholds(config: GateConfig) -> dict[str, MetricThreshold]:
    """MLflow's absolute thresholds (the comparison with the champion is
    :func:`check_improvement`: MLflow's ``min_relative_change`` would let a tie pass)."""
    return {
        RMSE: MetricThreshold(threshold=config.max_rmse, greater_is_better=False),
        MAE: MetricThreshold(threshold=config.max_mae, greater_is_better=False),
        R2: MetricThreshold(threshold=config.min_r2, greater_is_better=True),
    }


def parse_share(value: str, name: str) -> float:
    """A non-negative share such as ``"0.05"`` (empty: 0.0)."""
    try:
        share = float((value or "0").strip())
    except ValueError as exc:
        raise ValueError(f"{name} must be a number such as 0.05, got {value!r}") from exc
    if not math.isfinite(share) or share < 0:
        raise ValueError(f"{name} must be a non-negative number, got {value!r}")
    return share


def check_improvement(
    candidate_rmse: float | None, champion_rmse: float | None, min_relative_improvement: float
) -> CheckResult:
    """The candidate's RMSE is lower than the champion's by more than the required share."""
    name = f"vs_champion:{RMSE}"
    if candidate_rmse is None or not math.isfinite(candidate_rmse):
        return CheckResult(name, False, "candidate has no finite RMSE")
    if champion_rmse is None or not math.isfinite(champion_rmse):
        return CheckResult(name, False, "champion has no finite RMSE")
    if champion_rmse > 0:
        change = (champion_rmse - candidate_rmse) / champion_rmse
    else:
        change = -math.inf if candidate_rmse > 0 else 0.0
    ok = change > min_relative_improvement + TIE_TOLERANCE
    verdict = "better than the champion" if ok else "not better than the champion"
    return CheckResult(
        name,
        ok,
        f"{verdict}: candidate {candidate_rmse:.4f}, champion {champion_rmse:.4f}, relative "
        f"improvement {change:+.2%}, required > {min_relative_improvement:.2%}",
    )


def _better_or_equal(value: float, limit: float, greater_is_better: bool) -> bool:
    return value >= limit if greater_is_better else value <= limit


def check_metrics(
    thresholds: Mapping[str, MetricThreshold],
    candidate: Mapping[str, float],
    baseline: Mapping[str, float] | None = None,
) -> list[CheckResult]:
    """One check per threshold and per comparison, with MLflow's semantics
    (``mlflow.validate_evaluation_results``), so each rule gets its own row and reason."""
    results: list[CheckResult] = []
    for name, rule in thresholds.items():
        value = candidate.get(name)
        if value is None or not math.isfinite(float(value)):
            results.append(CheckResult(f"metric:{name}", False, f"candidate has no finite {name}"))
            continue
        value = float(value)
        better = rule.greater_is_better
        if rule.threshold is not None:
            ok = _better_or_equal(value, rule.threshold, better)
            op = ">=" if better else "<="
            results.append(
                CheckResult(
                    f"metric:{name}", ok, f"candidate {value:.4f}, required {op} {rule.threshold}"
                )
            )
        if rule.min_absolute_change is None and rule.min_relative_change is None:
            continue
        base = None if baseline is None else baseline.get(name)
        if base is None:
            results.append(CheckResult(f"vs_champion:{name}", False, f"champion has no {name}"))
            continue
        base = float(base)
        if rule.min_absolute_change is not None:
            step = rule.min_absolute_change
            limit = base + step if better else base - step
            ok = _better_or_equal(value, limit, better)
            results.append(
                CheckResult(
                    f"vs_champion_abs:{name}",
                    ok,
                    f"candidate {value:.4f}, champion {base:.4f}, required change {step}",
                )
            )
        if rule.min_relative_change is not None:
            if base == 0:
                change = math.inf if (value > 0 if better else value < 0) else -math.inf
            else:
                change = (value - base) / abs(base) if better else (base - value) / abs(base)
            ok = change >= rule.min_relative_change
            results.append(
                CheckResult(
                    f"vs_champion:{name}",
                    ok,
                    f"candidate {value:.4f}, champion {base:.4f}, relative improvement "
                    f"{change:+.2%}, required >= {rule.min_relative_change:.2%}",
                )
            )
    return results


def check_compliance(
    has_signature: bool,
    description: str | None,
    tags: Mapping[str, str],
    required_tags: Iterable[str],
) -> list[CheckResult]:
    """Governance: an input signature, a description and the required version tags."""
    missing = [t for t in required_tags if not str(tags.get(t, "")).strip()]
    return [
        CheckResult(
            "compliance:signature", has_signature, "present" if has_signature else "missing"
        ),
        CheckResult(
            "compliance:description",
            bool((description or "").strip()),
            "present" if (description or "").strip() else "missing",
        ),
        CheckResult(
            "compliance:tags",
            not missing,
            f"missing {missing}" if missing else "all required tags present",
        ),
    ]


def check_smoke(predictions: Sequence[float] | np.ndarray, expected_rows: int) -> CheckResult:
    """The loaded model returned one finite prediction per input row."""
    values = np.asarray(predictions, dtype=float).reshape(-1)
    if values.size != expected_rows:
        return CheckResult(
            "smoke_test", False, f"{values.size} predictions for {expected_rows} rows"
        )
    bad = int((~np.isfinite(values)).sum())
    if bad or expected_rows == 0:
        return CheckResult("smoke_test", False, f"{bad} non-finite of {expected_rows} predictions")
    return CheckResult(
        "smoke_test",
        True,
        f"{expected_rows} predictions in [{values.min():.2f}, {values.max():.2f}]",
    )


def gate_passed(checks: Sequence[CheckResult]) -> bool:
    """All checks passed (and there was at least one)."""
    return bool(checks) and all(c.passed for c in checks)


def summarize(checks: Sequence[CheckResult]) -> str:
    """The failed checks, one per line."""
    return (
        "\n".join(f"{c.check}: {c.detail}" for c in checks if not c.passed) or "all checks passed"
    )
