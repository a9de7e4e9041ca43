"""Data contracts: each broken rule is reported with its column and rule."""

from __future__ import annotations

from datetime import datetime

import pytest

from {{ cookiecutter.package_name }}.features.contract import (
    PICKUP_FEATURES_CONTRACT,
    RAW_TRIPS_CONTRACT,
    ColumnRule,
    DataContractError,
    check_contract,
)
from {{ cookiecutter.package_name }}.features.transforms import clean_trips, pickup_features
from {{ cookiecutter.package_name }}_local.sample import generate_trips


@pytest.fixture(scope="module")
def raw(spark):
    return spark.createDataFrame(generate_trips("2016-01-01", "2016-01-03", 400, seed=5))


def _violation(excinfo) -> tuple[str, str]:
    first = excinfo.value.violations[0]
    return first.column, first.rule


def test_generated_trips_and_their_features_pass(raw):
    assert check_contract(raw, RAW_TRIPS_CONTRACT, "raw trips") == 400
    assert check_contract(pickup_features(clean_trips(raw)), PICKUP_FEATURES_CONTRACT, "pickup") > 0


def test_missing_column(raw):
    with pytest.raises(DataContractError, match="column 'fare_amount' rule 'present'") as excinfo:
        check_contract(raw.drop("fare_amount"), RAW_TRIPS_CONTRACT, "raw trips")
    assert _violation(excinfo) == ("fare_amount", "present")


def test_wrong_type(raw):
    bad = raw.withColumn("pickup_zip", raw["pickup_zip"].cast("string"))
    with pytest.raises(DataContractError, match="pickup_zip") as excinfo:
        check_contract(bad, RAW_TRIPS_CONTRACT, "raw trips")
    assert excinfo.value.violations[0].rule.startswith("type in")


def test_null_timestamps_are_not_tolerated(spark):
    rows = [(datetime(2016, 1, 1, 10), None, 1.0, 8.0, 10001, 10002)]
    df = spark.createDataFrame(
        rows,
        "tpep_pickup_datetime timestamp, tpep_dropoff_datetime timestamp, trip_distance double, "
        "fare_amount double, pickup_zip int, dropoff_zip int",
    )
    with pytest.raises(DataContractError) as excinfo:
        check_contract(df, RAW_TRIPS_CONTRACT, "raw trips")
    assert _violation(excinfo) == ("tpep_dropoff_datetime", "not null")
    assert "raw trips" in str(excinfo.value)


def test_range_rules_tolerate_a_small_share_only(spark):
    values = [(float(v),) for v in range(1, 101)]
    df = spark.createDataFrame(values, "x double")
    tolerant = [ColumnRule("x", ("double",), max_value=97, max_invalid_fraction=0.05)]
    assert check_contract(df, tolerant, "numbers") == 100  # 3 % above the maximum: tolerated
    strict = [ColumnRule("x", ("double",), max_value=90, max_invalid_fraction=0.05)]
    with pytest.raises(DataContractError, match=r"column 'x' rule '<= 90': 10 of 100 rows"):
        check_contract(df, strict, "numbers")


def test_every_violation_is_listed_and_empty_data_fails(spark):
    df = spark.createDataFrame([(-1.0, None)], "a double, b double")
    rules = [ColumnRule("a", ("double",), min_value=0), ColumnRule("b", ("double",))]
    with pytest.raises(DataContractError) as excinfo:
        check_contract(df, rules, "pair")
    assert [(v.column, v.rule) for v in excinfo.value.violations] == [
        ("a", ">= 0"),
        ("b", "not null"),
    ]
    with pytest.raises(DataContractError, match="rows >= 1"):
        check_contract(df.limit(0), rules, "pair")
