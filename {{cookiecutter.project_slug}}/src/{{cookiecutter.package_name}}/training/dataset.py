"""Training data: trips with trip features, label and point-in-time zip features."""

from __future__ import annotations

from dataclasses import dataclass

from pyspark.sql import DataFrame

from ..features.contract import RAW_TRIPS_CONTRACT, check_contract
from ..features.inline import HISTORY_DAYS, join_features_inline
from ..features.transforms import add_trip_features, clean_trips, filter_dates, shift_date
from ..names import (
    FEATURE_COLUMNS,
    FEATURE_SOURCE_INLINE,
    KEY_COLUMNS,
    LABEL,
    PICKUP_TS,
)
from ..platform.base import Platform, TrainingSetHandle


@dataclass
class TrainingData:
    """Keys, features and label; ``training_set`` is set when features come from lookups."""

    frame: DataFrame
    feature_source: str
    training_set: TrainingSetHandle | None = None


def load_trips(
    platform: Platform, input_path: str, start_date: str = "", end_date: str = ""
) -> DataFrame:
    """Raw trips picked up in the date range, contract-checked, cleaned, with trip features."""
    raw = filter_dates(platform.read_source(input_path), PICKUP_TS, start_date, end_date)
    check_contract(raw, RAW_TRIPS_CONTRACT, "raw trips")
    return add_trip_features(clean_trips(raw))


def trip_history(
    platform: Platform, input_path: str, start_date: str = "", end_date: str = ""
) -> DataFrame:
    """Cleaned trips from ``HISTORY_DAYS`` before ``start_date`` up to ``end_date``."""
    raw = platform.read_source(input_path)
    return clean_trips(
        filter_dates(raw, PICKUP_TS, shift_date(start_date, -HISTORY_DAYS), end_date)
    )


def build_inline_training_data(
    platform: Platform, input_path: str, start_date: str = "", end_date: str = ""
) -> TrainingData:
    """Training data with the zip features aggregated from the raw trips on the fly."""
    trips = load_trips(platform, input_path, start_date, end_date)
    history = trip_history(platform, input_path, start_date, end_date)
    frame = join_features_inline(trips, history).select(*KEY_COLUMNS, *FEATURE_COLUMNS, LABEL)
    return TrainingData(frame=frame, feature_source=FEATURE_SOURCE_INLINE)
