"""Raw trips: read the input, check its contract, clean it, add the trip's own features."""

from __future__ import annotations

from pyspark.sql import DataFrame

from ..features.contract import RAW_TRIPS_CONTRACT, check_contract
from ..features.inline import HISTORY_DAYS
from ..features.transforms import add_trip_features, clean_trips, filter_dates, shift_date
from ..names import PICKUP_TS
from ..platform.base import Platform


def prepare_trips(raw: DataFrame) -> DataFrame:
    """Raw trips contract-checked, cleaned, with trip features."""
    check_contract(raw, RAW_TRIPS_CONTRACT, "raw trips")
    return add_trip_features(clean_trips(raw))


def load_trips(
    platform: Platform, input_table: str, start_date: str = "", end_date: str = ""
) -> DataFrame:
    """Raw trips picked up in the date range, contract-checked, cleaned, with trip features."""
    # Customize: how the source is read (one table by default; a view or a join works too).
    return prepare_trips(
        filter_dates(platform.read_source(input_table), PICKUP_TS, start_date, end_date)
    )


def trip_history(
    platform: Platform, input_table: str, start_date: str = "", end_date: str = ""
) -> DataFrame:
    """Cleaned trips from ``HISTORY_DAYS`` before ``start_date`` up to ``end_date``."""
    raw = platform.read_source(input_table)
    return clean_trips(
        filter_dates(raw, PICKUP_TS, shift_date(start_date, -HISTORY_DAYS), end_date)
    )
