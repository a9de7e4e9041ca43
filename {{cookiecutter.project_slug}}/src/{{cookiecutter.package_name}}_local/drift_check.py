"""Calibrate the drift statistics on generated trips: what monitoring says without drift, and
when exactly one input shifts.

The scenario follows the lifecycle: a model is trained on January to mid-February, its held-out
rows are the baseline, and the following week is the window monitoring judges. Used by the
tests (a few seeds) and by the template's benchmark (twenty seeds).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import pandas as pd

from {{ cookiecutter.package_name }}.features.inline import join_features_inline
from {{ cookiecutter.package_name }}.features.transforms import add_trip_features, clean_trips
from {{ cookiecutter.package_name }}.monitoring.monitor import (
    MONITORED_COLUMNS,
    DriftRow,
    Thresholds,
    bin_counts,
    comparable_baseline,
    drift_rows,
)
from {{ cookiecutter.package_name }}.names import (
    CATEGORICAL_FEATURES,
    FEATURE_COLUMNS,
    KEY_COLUMNS,
    LABEL,
    PICKUP_TS,
    PREDICTION,
)
from {{ cookiecutter.package_name }}.training.model import build_model, time_split

from . import sample

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

TRAIN_END = "2016-02-14"
WINDOW = ("2016-02-15", "2016-02-21")  # the week after training: seven whole days
WINDOW_DAYS = 7


@dataclass(frozen=True)
class Shift:
    """Multiply one raw column by ``factor`` in the judged window only."""

    column: str
    factor: float


def scenario(
    spark: SparkSession, seed: int, rows: int = 12_000, shift: Shift | None = None
) -> list[DriftRow]:
    """Drift rows of monitoring's statistics for one seeded scenario."""
    trips = sample.generate_trips(sample.DEFAULT_START, WINDOW[1], rows, seed)
    if shift is not None:
        in_window = trips[PICKUP_TS] >= pd.Timestamp(WINDOW[0])
        trips.loc[in_window, shift.column] = trips.loc[in_window, shift.column] * shift.factor
    cleaned = clean_trips(spark.createDataFrame(trips))
    frame = (
        join_features_inline(add_trip_features(cleaned), cleaned)
        .select(*KEY_COLUMNS, *FEATURE_COLUMNS, LABEL)
        .toPandas()
    )
    frame[FEATURE_COLUMNS] = frame[FEATURE_COLUMNS].astype("float64")
    before = frame[frame[PICKUP_TS] < pd.Timestamp(TRAIN_END) + pd.Timedelta(days=1)]
    train, heldout = time_split(before, PICKUP_TS)
    model = build_model(FEATURE_COLUMNS, {"max_iter": 60})
    model.fit(train[FEATURE_COLUMNS], train[LABEL])
    current = frame[frame[PICKUP_TS] >= pd.Timestamp(WINDOW[0])].copy()
    heldout = heldout.assign(**{PREDICTION: model.predict(heldout[FEATURE_COLUMNS])})
    current[PREDICTION] = model.predict(current[FEATURE_COLUMNS])
    baseline, baseline_rows = comparable_baseline(spark.createDataFrame(heldout), WINDOW_DAYS)
    counts = bin_counts(
        baseline,
        spark.createDataFrame(current),
        MONITORED_COLUMNS,
        CATEGORICAL_FEATURES,
        baseline_rows,
    )
    return drift_rows(counts, Thresholds())


def breached_features(rows: list[DriftRow]) -> set[str]:
    """The columns with at least one breached statistic."""
    return {row.feature for row in rows if row.breached}
