"""Training data: trips with trip features, label and point-in-time zip features."""

from __future__ import annotations

from dataclasses import dataclass

from pyspark.sql import DataFrame

from ..data.trips import load_trips, trip_history
from ..features.inline import join_features_inline
from ..names import FEATURE_COLUMNS, FEATURE_SOURCE_INLINE, KEY_COLUMNS, LABEL
from ..platform.base import Platform, TrainingSetHandle


@dataclass
class TrainingData:
    """Keys, features and label; ``training_set`` is set when features come from lookups."""

    frame: DataFrame
    feature_source: str
    training_set: TrainingSetHandle | None = None


def build_inline_training_data(
    platform: Platform, input_table: str, start_date: str = "", end_date: str = ""
) -> TrainingData:
    """Training data with the zip features aggregated from the raw trips on the fly."""
    trips = load_trips(platform, input_table, start_date, end_date)
    history = trip_history(platform, input_table, start_date, end_date)
    frame = join_features_inline(trips, history).select(*KEY_COLUMNS, *FEATURE_COLUMNS, LABEL)
    return TrainingData(frame=frame, feature_source=FEATURE_SOURCE_INLINE)
