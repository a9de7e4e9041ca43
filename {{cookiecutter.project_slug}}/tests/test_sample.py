"""The seeded trip generator: deterministic, right schema, realistic relations, drift."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from {{ cookiecutter.package_name }}_local.sample import COLUMNS, generate_trips


@pytest.fixture(scope="module")
def trips() -> pd.DataFrame:
    return generate_trips("2016-01-01", "2016-01-14", 5000, seed=7)


def test_same_seed_same_frame(trips):
    pd.testing.assert_frame_equal(trips, generate_trips("2016-01-01", "2016-01-14", 5000, seed=7))


def test_other_seed_other_frame(trips):
    other = generate_trips("2016-01-01", "2016-01-14", 5000, seed=8)
    assert not np.allclose(trips["fare_amount"], other["fare_amount"])


def test_schema_and_bounds(trips):
    assert list(trips.columns) == COLUMNS
    assert len(trips) == 5000
    assert str(trips["tpep_pickup_datetime"].dtype) == "datetime64[us]"
    assert str(trips["pickup_zip"].dtype) == "int32"
    assert trips["tpep_pickup_datetime"].min() >= pd.Timestamp("2016-01-01")
    assert trips["tpep_pickup_datetime"].max() < pd.Timestamp("2016-01-15")  # end is inclusive
    assert (trips["tpep_dropoff_datetime"] > trips["tpep_pickup_datetime"]).all()
    assert (trips["trip_distance"] > 0).all()
    assert (trips["fare_amount"] >= 2.5).all()
    assert trips.notna().all().all()


def test_fare_grows_with_distance_and_duration(trips):
    minutes = (
        trips["tpep_dropoff_datetime"] - trips["tpep_pickup_datetime"]
    ).dt.total_seconds() / 60
    metered = trips[trips["fare_amount"] < 50]
    assert np.corrcoef(metered["trip_distance"], metered["fare_amount"])[0, 1] > 0.8
    assert np.corrcoef(minutes[metered.index], metered["fare_amount"])[0, 1] > 0.6


def test_demand_varies_by_hour_and_zip(trips):
    by_hour = trips["tpep_pickup_datetime"].dt.hour.value_counts()
    assert by_hour.loc[18] > 3 * by_hour.loc[4]
    by_zip = trips["pickup_zip"].value_counts()
    assert by_zip.max() > 4 * by_zip.min()


def test_drift_shifts_distance_and_tariff(trips):
    drifted = generate_trips("2016-01-01", "2016-01-14", 5000, seed=7, drift=True)
    assert drifted["trip_distance"].mean() > 1.2 * trips["trip_distance"].mean()
    per_mile = (trips["fare_amount"] / trips["trip_distance"]).median()
    assert (drifted["fare_amount"] / drifted["trip_distance"]).median() > per_mile


def test_rejects_bad_arguments():
    with pytest.raises(ValueError, match="before start"):
        generate_trips("2016-02-01", "2016-01-01", 10)
    with pytest.raises(ValueError, match="n_rows"):
        generate_trips("2016-01-01", "2016-01-02", 0)
