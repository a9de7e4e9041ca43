"""Monitoring on generated trips: no alarm without drift, and one shifted input flags itself and
the features derived from it, nothing else. (The template's benchmark runs twenty seeds.)"""

from __future__ import annotations

import pytest

from {{ cookiecutter.package_name }}.monitoring.monitor import Thresholds
from {{ cookiecutter.package_name }}_local.drift_check import Shift, breached_features, scenario

LIMITS = Thresholds()


@pytest.fixture(scope="module")
def undrifted(spark):
    """Seed 11's statistics without drift, read by two tests."""
    return scenario(spark, 11)


@pytest.mark.parametrize("seed", [11, 12])
def test_without_drift_every_statistic_stays_well_under_its_threshold(spark, undrifted, seed):
    rows = undrifted if seed == 11 else scenario(spark, seed)
    assert {row.feature for row in rows} >= {"pickup_weekday", "pickup_hour", "prediction"}
    too_high = [
        (row.feature, row.metric, round(row.value, 3))
        for row in rows
        if row.value >= 0.5 * (LIMITS.psi if row.metric == "psi" else LIMITS.ks)
    ]
    assert too_high == []


def test_categorical_features_get_no_ks_statistic(undrifted):
    metrics = {r.metric for r in undrifted if r.feature in ("pickup_hour", "pickup_weekday")}
    assert metrics == {"psi"}


def test_one_shifted_input_flags_it_and_its_derived_features_only(spark):
    rows = scenario(spark, 11, shift=Shift("trip_distance", 1.5))
    flagged = breached_features(rows)
    assert "trip_distance" in flagged
    assert flagged <= {"trip_distance", "pickup_mean_distance", "prediction"}
