"""Feature lookups of the model on the pickup and dropoff feature tables."""

from __future__ import annotations

from ..names import (
    DROPOFF_FEATURES,
    DROPOFF_FEATURES_TABLE,
    DROPOFF_TS,
    DROPOFF_ZIP,
    PICKUP_FEATURES,
    PICKUP_FEATURES_TABLE,
    PICKUP_TS,
    PICKUP_ZIP,
    table,
)
from ..platform.base import FeatureLookupSpec


def feature_lookups(catalog: str, schema: str) -> list[FeatureLookupSpec]:
    """Pickup features as of the pickup time, dropoff features as of the dropoff time."""
    return [
        FeatureLookupSpec(
            table_name=table(catalog, schema, PICKUP_FEATURES_TABLE),
            lookup_key=[PICKUP_ZIP],
            timestamp_lookup_key=PICKUP_TS,
            feature_names=list(PICKUP_FEATURES),
        ),
        FeatureLookupSpec(
            table_name=table(catalog, schema, DROPOFF_FEATURES_TABLE),
            lookup_key=[DROPOFF_ZIP],
            timestamp_lookup_key=DROPOFF_TS,
            feature_names=list(DROPOFF_FEATURES),
        ),
    ]
