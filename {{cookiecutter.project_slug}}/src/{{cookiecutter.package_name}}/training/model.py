"""The estimator, the time-based split, metrics and plots (no Spark, no MLflow)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.metrics import mean_absolute_error, mean_squared_error, r2_score
from sklearn.pipeline import Pipeline

# Customize: the estimator's hyperparameters, by name; the job's `hyperparameters` variable
# overrides them, and only these names are accepted (docs/customize.md).
DEFAULT_PARAMS: dict[str, Any] = {
    "learning_rate": 0.1,
    "max_iter": 200,
    "max_leaf_nodes": 31,
    "min_samples_leaf": 20,
    "l2_regularization": 0.0,
}


def parse_hyperparameters(text: str) -> dict[str, Any]:
    """Hyperparameters from the job (a JSON object, empty: the defaults), checked by name."""
    if not (text or "").strip():
        return {}
    try:
        params = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"hyperparameters must be a JSON object, got {text!r}: {exc}") from exc
    if not isinstance(params, dict):
        raise ValueError(f"hyperparameters must be a JSON object, got {text!r}")
    unknown = sorted(set(params) - set(DEFAULT_PARAMS))
    if unknown:
        raise ValueError(
            f"unknown hyperparameters {unknown}: the model takes {sorted(DEFAULT_PARAMS)}"
        )
    return params


def effective_params(params: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The defaults with the job's overrides applied."""
    return {**DEFAULT_PARAMS, **(params or {})}


# Customize: the estimator. Any scikit-learn-style regressor that MLflow can log works; it must
# accept missing values (trips without earlier zip features) or impute them in a Pipeline, and be
# deterministic (a fixed random_state), so that retraining the same data ties (docs/customize.md).
def make_regressor(params: Mapping[str, Any]) -> Any:
    """A gradient-boosted regressor that handles missing values natively."""
    return HistGradientBoostingRegressor(early_stopping=False, random_state=0, **params)


def build_model(features: Sequence[str], params: Mapping[str, Any] | None = None) -> Pipeline:
    """Select ``features`` by name (extra input columns are ignored), then the regressor."""
    select = ColumnTransformer([("features", "passthrough", list(features))], remainder="drop")
    regressor = make_regressor(effective_params(params))
    return Pipeline([("select", select), ("regressor", regressor)])


def time_split(
    frame: pd.DataFrame, ts_column: str, heldout_fraction: float = 0.2
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Train on the earliest rows, hold out the latest ``heldout_fraction`` (by ``ts_column``)."""
    if not 0.0 < heldout_fraction < 1.0:
        raise ValueError(f"heldout_fraction must be in (0, 1), got {heldout_fraction}")
    ordered = frame.sort_values(ts_column, kind="stable").reset_index(drop=True)
    cutoff = ordered[ts_column].quantile(1.0 - heldout_fraction)
    train = ordered[ordered[ts_column] < cutoff]
    heldout = ordered[ordered[ts_column] >= cutoff]
    if train.empty or heldout.empty:
        raise ValueError(
            f"time split at {cutoff} leaves an empty side ({len(train)}/{len(heldout)} rows)"
        )
    return train.reset_index(drop=True), heldout.reset_index(drop=True)


def regression_metrics(actual: np.ndarray, predicted: np.ndarray) -> dict[str, float]:
    """RMSE, MAE and R2 (logged by training as train_* and heldout_*)."""
    return {
        "rmse": float(np.sqrt(mean_squared_error(actual, predicted))),
        "mae": float(mean_absolute_error(actual, predicted)),
        "r2": float(r2_score(actual, predicted)),
    }


def prediction_plot(actual: np.ndarray, predicted: np.ndarray, title: str) -> Figure:
    """Predicted vs actual and the residual histogram (no pyplot: safe on headless drivers)."""
    figure = Figure(figsize=(10, 4))
    scatter, hist = figure.subplots(1, 2)
    scatter.scatter(actual, predicted, s=4, alpha=0.4)
    low, high = float(np.min(actual)), float(np.max(actual))
    scatter.plot([low, high], [low, high], color="black", linewidth=1)
    scatter.set(xlabel="actual fare", ylabel="predicted fare", title=title)
    hist.hist(np.asarray(predicted) - np.asarray(actual), bins=50)
    hist.set(xlabel="prediction - actual", ylabel="trips", title="residuals")
    figure.tight_layout()
    return figure


def pip_requirements() -> list[str]:
    """Pinned requirements of the logged model (skips MLflow's slow inference of them)."""
    import cloudpickle
    import mlflow
    import sklearn

    return [
        f"mlflow=={mlflow.__version__}",
        f"scikit-learn=={sklearn.__version__}",
        f"pandas=={pd.__version__}",
        f"numpy=={np.__version__}",
        f"cloudpickle=={cloudpickle.__version__}",
    ]
