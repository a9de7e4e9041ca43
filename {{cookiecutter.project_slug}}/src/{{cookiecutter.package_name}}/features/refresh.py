"""Feature refresh job: raw trips -> checked pickup and dropoff features -> feature tables."""

from __future__ import annotations

import logging

from ..names import (
    DROPOFF_FEATURE_TS,
    DROPOFF_FEATURES_TABLE,
    DROPOFF_ZIP,
    PICKUP_FEATURE_TS,
    PICKUP_FEATURES_TABLE,
    PICKUP_TS,
    PICKUP_ZIP,
    table,
)
from ..platform.base import Platform
from .contract import (
    DROPOFF_FEATURES_CONTRACT,
    PICKUP_FEATURES_CONTRACT,
    RAW_TRIPS_CONTRACT,
    check_contract,
)
from .transforms import (
    clean_trips,
    complete_windows,
    dropoff_features,
    filter_dates,
    pickup_features,
    shift_date,
)

log = logging.getLogger(__name__)


def refresh_features(
    platform: Platform,
    input_table: str,
    catalog: str,
    schema: str,
    start_date: str = "",
    end_date: str = "",
) -> dict[str, int]:
    """Recompute the feature windows ending in ``start_date`` .. ``end_date`` and merge them.

    Raw trips are read from one day earlier so every written window is complete: a rerun over
    the same dates rewrites the same rows. Both contracts are checked before any write.
    Returns row counts per table.
    """
    raw = filter_dates(
        platform.read_source(input_table), PICKUP_TS, shift_date(start_date, -1), end_date
    )
    check_contract(raw, RAW_TRIPS_CONTRACT, "raw trips")
    trips = platform.cache(clean_trips(raw))
    pickup = platform.cache(
        complete_windows(pickup_features(trips), PICKUP_FEATURE_TS, start_date, end_date)
    )
    dropoff = platform.cache(
        complete_windows(dropoff_features(trips), DROPOFF_FEATURE_TS, start_date, end_date)
    )
    counts = {
        PICKUP_FEATURES_TABLE: check_contract(
            pickup, PICKUP_FEATURES_CONTRACT, PICKUP_FEATURES_TABLE
        ),
        DROPOFF_FEATURES_TABLE: check_contract(
            dropoff, DROPOFF_FEATURES_CONTRACT, DROPOFF_FEATURES_TABLE
        ),
    }
    platform.write_feature_table(
        pickup,
        table(catalog, schema, PICKUP_FEATURES_TABLE),
        primary_keys=[PICKUP_ZIP],
        timestamp_key=PICKUP_FEATURE_TS,
        description="Trips, mean fare and mean distance per pickup zip, 4-hour windows (hourly).",
    )
    platform.write_feature_table(
        dropoff,
        table(catalog, schema, DROPOFF_FEATURES_TABLE),
        primary_keys=[DROPOFF_ZIP],
        timestamp_key=DROPOFF_FEATURE_TS,
        description="Trips and mean fare per dropoff zip over 2-hour windows (every 30 minutes).",
    )
    for cached in (pickup, dropoff, trips):
        platform.uncache(cached)
    log.info("feature refresh %s..%s: %s", start_date or "-", end_date or "-", counts)
    return counts
