"""Trip features, windowed zip features, date filters and complete-window refreshes."""

from __future__ import annotations

from datetime import datetime, timedelta

import pandas as pd
import pytest
from pyspark.sql import functions as F  # noqa: N812

from {{ cookiecutter.package_name }}.features.transforms import (
    add_trip_features,
    clean_trips,
    complete_windows,
    dropoff_features,
    filter_dates,
    parse_date,
    pickup_features,
    shift_date,
)
from {{ cookiecutter.package_name }}.names import PICKUP_FEATURE_TS, PICKUP_TS
from {{ cookiecutter.package_name }}_local.sample import generate_trips

SCHEMA = (
    "tpep_pickup_datetime timestamp, tpep_dropoff_datetime timestamp, trip_distance double, "
    "fare_amount double, pickup_zip int, dropoff_zip int"
)


def trip(
    pickup: str, minutes: float, distance: float, fare: float, pz: int = 10001, dz: int = 10002
):
    start = datetime.fromisoformat(pickup)
    return (start, start + timedelta(minutes=minutes), distance, fare, pz, dz)


@pytest.fixture(scope="module")
def sample(spark):
    return spark.createDataFrame(generate_trips("2016-01-01", "2016-01-10", 3000, seed=11))


def test_trip_features(spark):
    df = spark.createDataFrame([trip("2016-01-02 18:30:00", 12.5, 2.0, 11.0)], SCHEMA)  # a Saturday
    row = add_trip_features(df).first()
    assert row["trip_duration_min"] == pytest.approx(12.5)
    assert row["pickup_hour"] == 18.0
    assert row["pickup_weekday"] == 7.0  # Spark: 1 = Sunday .. 7 = Saturday
    assert dict(add_trip_features(df).dtypes)["pickup_hour"] == "double"


def test_clean_trips_drops_unpriceable_rows(spark):
    rows = [
        trip("2016-01-01 10:00:00", 10, 2.0, 10.0),
        trip("2016-01-01 10:00:00", 10, 0.0, 10.0),  # no distance
        trip("2016-01-01 10:00:00", 10, 2.0, -3.0),  # refund
        trip("2016-01-01 10:00:00", 0, 2.0, 10.0),  # no duration
        trip("2016-01-01 10:00:00", 10, 2.0, 10.0, pz=None),  # no zip
    ]
    assert clean_trips(spark.createDataFrame(rows, SCHEMA)).count() == 1


def test_pickup_window_aggregates(spark):
    rows = [
        trip("2016-01-01 10:10:00", 10, 1.0, 10.0),
        trip("2016-01-01 10:50:00", 10, 3.0, 20.0),
        trip("2016-01-01 10:20:00", 10, 5.0, 99.0, pz=10003),
    ]
    features = pickup_features(spark.createDataFrame(rows, SCHEMA), window="1 hour", slide="1 hour")
    row = features.where(F.col("pickup_zip") == 10001).first()
    assert row[PICKUP_FEATURE_TS] == datetime(2016, 1, 1, 11, 0)
    assert (row["pickup_trip_count"], row["pickup_mean_fare"], row["pickup_mean_distance"]) == (
        2.0,
        15.0,
        2.0,
    )


def test_sliding_windows_cover_each_trip_window_over_slide_times(spark):
    df = spark.createDataFrame([trip("2016-01-01 10:10:00", 10, 1.0, 10.0)], SCHEMA)
    assert pickup_features(df).count() == 4  # 4-hour windows every hour
    assert dropoff_features(df).count() == 4  # 2-hour windows every 30 minutes


def test_filter_dates_is_inclusive_and_open_ended(sample):
    jan_3 = filter_dates(sample, PICKUP_TS, "2016-01-03", "2016-01-03")
    bounds = jan_3.agg(F.min(PICKUP_TS), F.max(PICKUP_TS)).first()
    assert bounds[0] >= datetime(2016, 1, 3) and bounds[1] < datetime(2016, 1, 4)
    assert filter_dates(sample, PICKUP_TS, "", "").count() == 3000
    with pytest.raises(ValueError, match="before start_date"):
        filter_dates(sample, PICKUP_TS, "2016-01-05", "2016-01-04")


def test_parse_and_shift_dates():
    assert parse_date("") is None
    assert shift_date("2016-03-01", -1) == "2016-02-29"
    assert shift_date("", -1) == ""
    with pytest.raises(ValueError, match="ISO date"):
        parse_date("01/02/2016", "start_date")


def test_adjacent_refreshes_write_the_same_rows_as_one(sample):
    """Windows kept by complete_windows are identical whichever refresh range produced them."""

    def refresh(start: str, end: str) -> pd.DataFrame:
        trips = clean_trips(filter_dates(sample, PICKUP_TS, shift_date(start, -1), end))
        found = complete_windows(pickup_features(trips), PICKUP_FEATURE_TS, start, end).toPandas()
        return found.sort_values(["pickup_zip", PICKUP_FEATURE_TS]).reset_index(drop=True)

    whole = refresh("2016-01-03", "2016-01-08")
    parts = pd.concat([refresh("2016-01-03", "2016-01-05"), refresh("2016-01-06", "2016-01-08")])
    parts = parts.sort_values(["pickup_zip", PICKUP_FEATURE_TS]).reset_index(drop=True)
    assert len(whole) > 0
    pd.testing.assert_frame_equal(whole, parts)
    assert whole[PICKUP_FEATURE_TS].min() > pd.Timestamp("2016-01-03")
    assert whole[PICKUP_FEATURE_TS].max() <= pd.Timestamp("2016-01-09")
