"""Drift maths on binned counts (pure numpy, no Spark): PSI, KS, bin edges, breach rules."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

PSI_EPSILON = 1e-4
PSI_BINS = 10
KS_BINS = 100


def split_points(quantiles: Sequence[float]) -> list[float]:
    """Bucketizer splits from baseline quantiles: unique finite values between -inf and inf."""
    finite = sorted({float(q) for q in quantiles if q is not None and math.isfinite(float(q))})
    return [-math.inf, *finite, math.inf]


def category_splits(values: Sequence[float] | np.ndarray) -> list[float]:
    """Bucketizer splits that give each distinct value its own bin (midpoints between values)."""
    distinct = np.unique(np.asarray(values, dtype=float))
    distinct = distinct[np.isfinite(distinct)]
    return [-math.inf, *((distinct[1:] + distinct[:-1]) / 2).tolist(), math.inf]


def proportions(counts: Sequence[float]) -> np.ndarray:
    """Counts as shares of their total (zeros when the total is zero)."""
    values = np.asarray(counts, dtype=float)
    total = values.sum()
    return values / total if total > 0 else np.zeros_like(values)


def psi(
    expected_counts: Sequence[float], actual_counts: Sequence[float], epsilon: float = PSI_EPSILON
) -> float:
    """Population stability index: sum over bins of (a - e) * ln(a / e) on bin shares.

    Empty bins are floored at ``epsilon`` so the logarithm stays finite.
    """
    if len(expected_counts) != len(actual_counts):
        raise ValueError("expected and actual need the same bins")
    expected = np.maximum(proportions(expected_counts), epsilon)
    actual = np.maximum(proportions(actual_counts), epsilon)
    return float(np.sum((actual - expected) * np.log(actual / expected)))


def ks_statistic(expected_counts: Sequence[float], actual_counts: Sequence[float]) -> float:
    """Largest gap between the two cumulative distributions, evaluated at the bin edges
    (the two-sample KS statistic restricted to those edges: a lower bound of the exact one)."""
    if len(expected_counts) != len(actual_counts):
        raise ValueError("expected and actual need the same bins")
    gap = np.cumsum(proportions(expected_counts)) - np.cumsum(proportions(actual_counts))
    return float(np.max(np.abs(gap))) if gap.size else 0.0


def merge_bins(
    fine_counts: Sequence[float], fine_splits: Sequence[float], coarse_splits: Sequence[float]
) -> np.ndarray:
    """Add up counts of fine bins into coarse bins whose edges are a subset of the fine edges."""
    if len(fine_counts) != len(fine_splits) - 1:
        raise ValueError("fine_counts needs one count per interval of fine_splits")
    interior = np.asarray(coarse_splits[1:-1], dtype=float)
    lower_edges = np.asarray(fine_splits[:-1], dtype=float)
    index = np.searchsorted(interior, lower_edges, side="right")
    merged = np.zeros(len(coarse_splits) - 1)
    np.add.at(merged, index, np.asarray(fine_counts, dtype=float))
    return merged


def relative_increase(current: float, baseline: float) -> float:
    """(current - baseline) / |baseline|; ``inf`` when the baseline is 0 and current is above it."""
    if baseline == 0:
        return math.inf if current > 0 else 0.0
    return (current - baseline) / abs(baseline)


def is_breach(value: float | None, threshold: float | None) -> bool:
    """A metric breaches its threshold when it is strictly above it (None never breaches)."""
    return (
        value is not None
        and threshold is not None
        and math.isfinite(threshold)
        and value > threshold
    )
