"""Estimator, time split and metrics of the training task."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from {{ cookiecutter.package_name }}.training.model import (
    build_model,
    prediction_plot,
    regression_metrics,
    time_split,
)


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    rng = np.random.default_rng(1)
    n = 600
    x = rng.uniform(0, 10, n)
    return pd.DataFrame(
        {
            "ts": pd.date_range("2016-01-01", periods=n, freq="h")[rng.permutation(n)],
            "x": x,
            "maybe": np.where(rng.random(n) < 0.2, np.nan, rng.normal(size=n)),
            "noise_col": "ignored",
            "y": 3.0 * x + rng.normal(0, 0.5, n),
        }
    )


def test_time_split_holds_out_the_latest_rows(frame):
    train, heldout = time_split(frame, "ts", 0.25)
    assert len(train) + len(heldout) == len(frame)
    assert len(heldout) == pytest.approx(150, abs=2)
    assert train["ts"].max() < heldout["ts"].min()
    with pytest.raises(ValueError, match="heldout_fraction"):
        time_split(frame, "ts", 1.0)


def test_model_learns_handles_missing_values_and_ignores_extra_columns(frame):
    train, heldout = time_split(frame, "ts", 0.25)
    model = build_model(["x", "maybe"])
    model.fit(train, train["y"])
    predicted = model.predict(heldout)  # extra columns (ts, noise_col, y) are dropped by the model
    metrics = regression_metrics(heldout["y"], predicted)
    assert metrics["r2"] > 0.9
    assert metrics["rmse"] < 1.5
    assert metrics["mae"] <= metrics["rmse"]


def test_regression_metrics_known_values():
    metrics = regression_metrics(np.array([1.0, 2.0, 3.0]), np.array([1.0, 2.0, 5.0]))
    assert metrics["rmse"] == pytest.approx(np.sqrt(4 / 3))
    assert metrics["mae"] == pytest.approx(2 / 3)


def test_prediction_plot_has_two_panels():
    figure = prediction_plot(np.array([1.0, 2.0, 3.0]), np.array([1.1, 2.2, 2.9]), "t")
    assert len(figure.axes) == 2
