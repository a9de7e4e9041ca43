"""Feature-store variant: lookups on the feature tables, checked and repeatable refreshes."""

from __future__ import annotations

import pandas as pd
import pytest
from pyspark.sql import functions as F  # noqa: N812

from {{ cookiecutter.package_name }}.features.contract import DataContractError
from {{ cookiecutter.package_name }}.features.lookups import feature_lookups
from {{ cookiecutter.package_name }}.features.refresh import refresh_features
from {{ cookiecutter.package_name }}.names import DROPOFF_FEATURES, FEATURE_COLUMNS, PICKUP_FEATURES
from {{ cookiecutter.package_name }}.platform.base import Platform
from {{ cookiecutter.package_name }}_local.sample import generate_trips


class RecordingPlatform:
    """Just what refresh_features uses: a raw source and feature-table writes, kept in memory."""

    def __init__(self, spark, source):
        self.spark = spark
        self.source = source
        self.writes: dict[str, tuple[list[str], str, pd.DataFrame]] = {}

    def read_source(self, path):
        return self.source

    # The platform's own caching, which falls back to recomputing on serverless.
    cache = Platform.cache
    uncache = Platform.uncache

    def write_feature_table(self, df, name, primary_keys, timestamp_key, description):
        assert description
        frame = df.toPandas().sort_values([*primary_keys, timestamp_key]).reset_index(drop=True)
        self.writes[name] = (primary_keys, timestamp_key, frame)


@pytest.fixture(scope="module")
def raw(spark):
    return spark.createDataFrame(generate_trips("2016-01-01", "2016-01-06", 1500, seed=3))


def test_lookups_cover_the_zip_features():
    pickup, dropoff = feature_lookups("dev", "taxi")
    assert pickup.table_name == "dev.taxi.pickup_features"
    assert (pickup.lookup_key, pickup.timestamp_lookup_key) == (
        ["pickup_zip"],
        "tpep_pickup_datetime",
    )
    assert (dropoff.lookup_key, dropoff.timestamp_lookup_key) == (
        ["dropoff_zip"],
        "tpep_dropoff_datetime",
    )
    assert set(pickup.feature_names) | set(dropoff.feature_names) <= set(FEATURE_COLUMNS)
    assert pickup.feature_names == PICKUP_FEATURES and dropoff.feature_names == DROPOFF_FEATURES


def test_refresh_twice_writes_the_same_rows(spark, raw):
    first, second = RecordingPlatform(spark, raw), RecordingPlatform(spark, raw)
    counts = refresh_features(first, "/trips", "dev", "taxi", "2016-01-02", "2016-01-05")
    assert refresh_features(second, "/trips", "dev", "taxi", "2016-01-02", "2016-01-05") == counts
    assert set(first.writes) == {"dev.taxi.pickup_features", "dev.taxi.dropoff_features"}
    for name, (keys, ts_key, frame) in first.writes.items():
        pd.testing.assert_frame_equal(frame, second.writes[name][2])
        assert len(frame) == counts[name.rsplit(".", 1)[1]] > 0
        assert not frame.duplicated([*keys, ts_key]).any()  # merge keys are unique


def test_contract_violation_stops_before_any_write(spark, raw):
    broken = raw.withColumn(
        "fare_amount", F.when(F.rand(1) < 0.2, -5.0).otherwise(F.col("fare_amount"))
    )
    platform = RecordingPlatform(spark, broken)
    with pytest.raises(DataContractError, match="column 'fare_amount' rule '>= 0'"):
        refresh_features(platform, "/trips", "dev", "taxi", "2016-01-02", "2016-01-05")
    assert platform.writes == {}
