"""Spark side of monitoring: one aggregation pass gives the same statistics as the maths."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from {{ cookiecutter.package_name }}.monitoring.drift import ks_statistic
from {{ cookiecutter.package_name }}.monitoring.monitor import (
    Thresholds,
    bin_counts,
    drift_rows,
    performance_rows,
)


@pytest.fixture(scope="module")
def frames(spark):
    rng = np.random.default_rng(5)
    n = 4000

    def frame(shift: float, missing: float, error: float):
        label = rng.normal(10, 2, n)
        return pd.DataFrame(
            {
                "stable": rng.normal(0, 1, n),
                "moving": rng.normal(shift, 1, n),
                "sparse": np.where(rng.random(n) < missing, np.nan, rng.normal(0, 1, n)),
                "fare_amount": label,
                "prediction": label + rng.normal(0, error, n),
            }
        )

    baseline = spark.createDataFrame(frame(0.0, 0.0, 1.0))
    current = spark.createDataFrame(frame(1.0, 0.5, 2.0))
    return baseline, current


def test_only_drifted_columns_breach(frames):
    baseline, current = frames
    counts = bin_counts(baseline, current, ["stable", "moving", "sparse"])
    rows = {(r.feature, r.metric): r for r in drift_rows(counts, Thresholds(psi=0.2, ks=0.2))}
    assert not rows[("stable", "psi")].breached and rows[("stable", "psi")].value < 0.02
    assert not rows[("stable", "ks")].breached
    assert rows[("moving", "psi")].breached and rows[("moving", "psi")].value > 0.8
    assert rows[("moving", "ks")].value == pytest.approx(0.38, abs=0.03)  # 2 * Phi(0.5) - 1
    assert rows[("sparse", "psi")].breached  # half the values went missing


def test_counts_cover_every_row_and_missing_values(frames):
    baseline, current = frames
    counts = bin_counts(baseline, current, ["sparse"])["sparse"]
    assert counts.baseline.sum() + counts.baseline_missing == 4000
    assert counts.baseline_missing == 0
    assert counts.current_missing == pytest.approx(2000, rel=0.1)
    assert counts.current.sum() + counts.current_missing == 4000
    assert ks_statistic(counts.baseline, counts.baseline) == 0.0


def test_rmse_increase_breach(frames):
    baseline, current = frames
    rows = {
        r.metric: r for r in performance_rows(baseline, current, Thresholds(rmse_increase=0.25))
    }
    assert rows["rmse_baseline"].value == pytest.approx(1.0, abs=0.05)
    assert rows["rmse_current"].value == pytest.approx(2.0, abs=0.1)
    assert rows["rmse_increase"].breached
    same = {r.metric: r for r in performance_rows(baseline, baseline, Thresholds())}
    assert same["rmse_increase"].value == pytest.approx(0.0) and not same["rmse_increase"].breached
