"""Pure Spark transformations of raw trips into model features."""

from __future__ import annotations

from datetime import date, timedelta

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F  # noqa: N812

from ..names import (
    DROPOFF_FEATURE_TS,
    DROPOFF_TS,
    DROPOFF_ZIP,
    LABEL,
    PICKUP_FEATURE_TS,
    PICKUP_TS,
    PICKUP_ZIP,
)

# Customize: the windows of the per-zip aggregates (pickup_features, dropoff_features below).
PICKUP_WINDOW = "4 hours"
PICKUP_SLIDE = "1 hour"
DROPOFF_WINDOW = "2 hours"
DROPOFF_SLIDE = "30 minutes"

MAX_FARE = 500.0
MAX_DISTANCE = 100.0
MAX_DURATION_MIN = 360.0


def parse_date(value: str, name: str = "date") -> date | None:
    """An ISO ``YYYY-MM-DD`` date, or ``None`` for an empty string (unbounded)."""
    value = (value or "").strip()
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise ValueError(f"{name} must be an ISO date YYYY-MM-DD or empty, got {value!r}") from exc


def shift_date(value: str, days: int) -> str:
    """``value`` moved by ``days`` (empty stays empty)."""
    parsed = parse_date(value)
    return (parsed + timedelta(days=days)).isoformat() if parsed else ""


def _day_start(day: date) -> Column:
    # A string literal is read in the session time zone (UTC), unlike a Python datetime.
    return F.to_timestamp(F.lit(day.isoformat()))


def filter_dates(df: DataFrame, column: str, start_date: str = "", end_date: str = "") -> DataFrame:
    """Rows whose ``column`` falls on ``start_date`` .. ``end_date`` (inclusive, empty = open)."""
    start, end = parse_date(start_date, "start_date"), parse_date(end_date, "end_date")
    if start and end and end < start:
        raise ValueError(f"end_date {end} is before start_date {start}")
    if start:
        df = df.where(F.col(column) >= _day_start(start))
    if end:
        df = df.where(F.col(column) < _day_start(end + timedelta(days=1)))
    return df


# Customize: which source rows are usable, and the features computed from a row itself.
def clean_trips(trips: DataFrame) -> DataFrame:
    """Drop unpriceable trips: missing zips, non-positive or absurd fare, distance or duration."""
    duration = F.col(DROPOFF_TS).cast("long") - F.col(PICKUP_TS).cast("long")
    return trips.where(
        F.col(PICKUP_ZIP).isNotNull()
        & F.col(DROPOFF_ZIP).isNotNull()
        & F.col(PICKUP_TS).isNotNull()
        & F.col(DROPOFF_TS).isNotNull()
        & (F.col(LABEL) > 0)
        & (F.col(LABEL) <= MAX_FARE)
        & (F.col("trip_distance") > 0)
        & (F.col("trip_distance") <= MAX_DISTANCE)
        & (duration > 0)
        & (duration <= MAX_DURATION_MIN * 60)
    )


def add_trip_features(trips: DataFrame) -> DataFrame:
    """Features known from the trip itself (all doubles): distance, duration, hour, weekday."""
    duration = F.col(DROPOFF_TS).cast("long") - F.col(PICKUP_TS).cast("long")
    return (
        trips.withColumn("trip_distance", F.col("trip_distance").cast("double"))
        .withColumn("trip_duration_min", (duration / 60.0).cast("double"))
        .withColumn("pickup_hour", F.hour(PICKUP_TS).cast("double"))
        .withColumn("pickup_weekday", F.dayofweek(PICKUP_TS).cast("double"))
    )


def pickup_features(
    trips: DataFrame, window: str = PICKUP_WINDOW, slide: str = PICKUP_SLIDE
) -> DataFrame:
    """Per pickup zip and sliding window (keyed by its end): trips, mean fare and distance."""
    return (
        trips.groupBy(PICKUP_ZIP, F.window(PICKUP_TS, window, slide).alias("w"))
        .agg(
            F.count(F.lit(1)).cast("double").alias("pickup_trip_count"),
            F.avg(LABEL).cast("double").alias("pickup_mean_fare"),
            F.avg("trip_distance").cast("double").alias("pickup_mean_distance"),
        )
        .select(
            F.col(PICKUP_ZIP).cast("int").alias(PICKUP_ZIP),
            F.col("w.end").alias(PICKUP_FEATURE_TS),
            "pickup_trip_count",
            "pickup_mean_fare",
            "pickup_mean_distance",
        )
    )


def dropoff_features(
    trips: DataFrame, window: str = DROPOFF_WINDOW, slide: str = DROPOFF_SLIDE
) -> DataFrame:
    """Per dropoff zip and sliding window (keyed by the window end): trips and mean fare."""
    return (
        trips.groupBy(DROPOFF_ZIP, F.window(DROPOFF_TS, window, slide).alias("w"))
        .agg(
            F.count(F.lit(1)).cast("double").alias("dropoff_trip_count"),
            F.avg(LABEL).cast("double").alias("dropoff_mean_fare"),
        )
        .select(
            F.col(DROPOFF_ZIP).cast("int").alias(DROPOFF_ZIP),
            F.col("w.end").alias(DROPOFF_FEATURE_TS),
            "dropoff_trip_count",
            "dropoff_mean_fare",
        )
    )


def complete_windows(
    features: DataFrame, ts_column: str, start_date: str = "", end_date: str = ""
) -> DataFrame:
    """Windows ending after ``start_date`` 00:00 and at most ``end_date`` + 1 day 00:00.

    With the raw trips read from one day before ``start_date``, every kept window saw all its
    trips, so adjacent or repeated refreshes write identical rows for a window.
    """
    start, end = parse_date(start_date, "start_date"), parse_date(end_date, "end_date")
    if start:
        features = features.where(F.col(ts_column) > _day_start(start))
    if end:
        features = features.where(F.col(ts_column) <= _day_start(end + timedelta(days=1)))
    return features
