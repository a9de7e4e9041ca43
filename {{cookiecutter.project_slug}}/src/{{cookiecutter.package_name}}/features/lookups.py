"""Feature lookups of the model on the pickup and dropoff feature tables."""

from __future__ import annotations

from ..errors import MissingInputError
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
from ..platform.base import FeatureLookupSpec, Platform


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


def require_feature_tables(platform: Platform, lookups: list[FeatureLookupSpec]) -> None:
    """Fail with what to run when a feature table does not exist yet."""
    for lookup in lookups:
        if not platform.table_exists(lookup.table_name):
            raise MissingInputError(
                f"feature table {lookup.table_name} does not exist yet: run feature_refresh_job "
                "first"
            )
