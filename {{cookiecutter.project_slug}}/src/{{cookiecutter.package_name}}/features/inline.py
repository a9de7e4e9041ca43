"""Features computed on the fly (no feature tables): aggregate the history, join point-in-time."""

from __future__ import annotations

from pyspark.sql import DataFrame

from ..names import (
    DROPOFF_FEATURE_TS,
    DROPOFF_FEATURES,
    DROPOFF_TS,
    DROPOFF_ZIP,
    PICKUP_FEATURE_TS,
    PICKUP_FEATURES,
    PICKUP_TS,
    PICKUP_ZIP,
)
from .point_in_time import point_in_time_join
from .transforms import dropoff_features, pickup_features

# How far before the first trip to scoring the history is read when features are computed inline.
HISTORY_DAYS = 7


def join_features_inline(trips: DataFrame, history: DataFrame) -> DataFrame:
    """``trips`` with pickup and dropoff features aggregated from ``history`` as of each trip."""
    with_pickup = point_in_time_join(
        trips,
        pickup_features(history),
        lookup_key=[PICKUP_ZIP],
        timestamp_lookup_key=PICKUP_TS,
        feature_timestamp_key=PICKUP_FEATURE_TS,
        feature_names=PICKUP_FEATURES,
    )
    return point_in_time_join(
        with_pickup,
        dropoff_features(history),
        lookup_key=[DROPOFF_ZIP],
        timestamp_lookup_key=DROPOFF_TS,
        feature_timestamp_key=DROPOFF_FEATURE_TS,
        feature_names=DROPOFF_FEATURES,
    )
