"""Training data from feature-table lookups (the model is packaged with its lookups)."""

from __future__ import annotations

from ..data.trips import load_trips
from ..features.lookups import feature_lookups, require_feature_tables
from ..names import FEATURE_COLUMNS, FEATURE_SOURCE_STORE, KEY_COLUMNS, LABEL, TRIP_FEATURES
from ..platform.base import Platform
from .dataset import TrainingData


def build_feature_store_training_data(
    platform: Platform,
    input_table: str,
    catalog: str,
    schema: str,
    start_date: str = "",
    end_date: str = "",
) -> TrainingData:
    """Trips with trip features and label; pickup and dropoff features looked up as of each trip."""
    lookups = feature_lookups(catalog, schema)
    require_feature_tables(platform, lookups)
    trips = load_trips(platform, input_table, start_date, end_date).select(
        *KEY_COLUMNS, *TRIP_FEATURES, LABEL
    )
    training_set = platform.create_training_set(trips, lookups, label=LABEL, exclude_columns=[])
    frame = training_set.load_df().select(*KEY_COLUMNS, *FEATURE_COLUMNS, LABEL)
    return TrainingData(frame=frame, feature_source=FEATURE_SOURCE_STORE, training_set=training_set)
