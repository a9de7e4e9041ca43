"""Drift maths on bin counts: PSI, KS, bins and breach rules."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from {{ cookiecutter.package_name }}.monitoring.drift import (
    is_breach,
    ks_statistic,
    merge_bins,
    psi,
    relative_increase,
    split_points,
)


def binned(sample: np.ndarray, splits: list[float]) -> np.ndarray:
    return np.histogram(sample, bins=np.asarray(splits))[0]


@pytest.fixture(scope="module")
def normal_samples():
    rng = np.random.default_rng(42)
    return rng.normal(0, 1, 200_000), rng.normal(0, 1, 200_000), rng.normal(0.5, 1, 200_000)


def test_psi_identical_is_zero_and_hand_computed_value():
    assert psi([10, 20, 70], [10, 20, 70]) == 0.0
    assert psi([1, 2, 7], [100, 200, 700]) == pytest.approx(0.0)
    expected = (0.5 - 0.2) * math.log(0.5 / 0.2) + (0.5 - 0.8) * math.log(0.5 / 0.8)
    assert psi([20, 80], [50, 50]) == pytest.approx(expected)


def test_psi_empty_bins_stay_finite():
    assert math.isfinite(psi([10, 0], [0, 10]))
    assert psi([10, 0], [0, 10]) > 5


def test_psi_and_ks_of_known_normal_distributions(normal_samples):
    base, same, shifted = normal_samples
    deciles = split_points(np.quantile(base, np.arange(1, 10) / 10))
    percentiles = split_points(np.quantile(base, np.arange(1, 100) / 100))
    assert psi(binned(base, deciles), binned(same, deciles)) < 0.002
    # PSI (symmetric KL) of N(0.5, 1) vs N(0, 1) is 0.5**2 = 0.25; deciles see a bit less
    assert 0.2 < psi(binned(base, deciles), binned(shifted, deciles)) < 0.26
    # KS of a 0.5 mean shift: 2 * Phi(0.25) - 1
    exact = 2 * stats.norm.cdf(0.25) - 1
    assert ks_statistic(binned(base, percentiles), binned(shifted, percentiles)) == pytest.approx(
        exact, abs=0.01
    )
    assert ks_statistic(binned(base, percentiles), binned(same, percentiles)) < 0.01


def test_ks_matches_scipy_on_fine_bins():
    rng = np.random.default_rng(0)
    a, b = rng.exponential(1.0, 5000), rng.exponential(1.3, 5000)
    splits = split_points(np.quantile(a, np.arange(1, 100) / 100))
    exact = stats.ks_2samp(a, b).statistic
    approx = ks_statistic(binned(a, splits), binned(b, splits))
    assert approx <= exact + 1e-9
    assert approx == pytest.approx(exact, abs=0.02)


def test_split_points_dedupe_and_bound():
    assert split_points([1.0, 1.0, 2.0, float("nan"), None]) == [-math.inf, 1.0, 2.0, math.inf]
    assert split_points([]) == [-math.inf, math.inf]


def test_merge_bins_into_coarser_edges():
    fine = [-math.inf, 1.0, 2.0, 3.0, 4.0, math.inf]
    coarse = [-math.inf, 2.0, 4.0, math.inf]
    assert merge_bins([1, 2, 3, 4, 5], fine, coarse).tolist() == [3.0, 7.0, 5.0]
    with pytest.raises(ValueError):
        merge_bins([1, 2], fine, coarse)


def test_relative_increase_and_breach():
    assert relative_increase(1.5, 1.0) == pytest.approx(0.5)
    assert relative_increase(0.5, 1.0) == pytest.approx(-0.5)
    assert relative_increase(1.0, 0.0) == math.inf
    assert is_breach(0.3, 0.2)
    assert not is_breach(0.2, 0.2)
    assert not is_breach(0.9, None)
