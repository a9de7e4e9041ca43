"""Point-in-time join: latest feature row at or before each row, per key, never from the future."""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from {{ cookiecutter.package_name }}.features.point_in_time import point_in_time_join


def ts(hour: int, minute: int = 0) -> datetime:
    return datetime(2016, 1, 1, hour, minute)


@pytest.fixture(scope="module")
def features(spark):
    return spark.createDataFrame(
        [
            (1, ts(8), 10.0, 1.0),
            (1, ts(10), 20.0, None),  # a genuine null inside a feature row
            (1, ts(12), 30.0, 3.0),
            (2, ts(9), 99.0, 9.0),
        ],
        "zip int, window_end timestamp, mean_fare double, count double",
    )


@pytest.fixture(scope="module")
def joined(spark, features) -> pd.DataFrame:
    rows = [
        (1, 1, ts(7)),  # before any feature row: nulls
        (2, 1, ts(8)),  # equal timestamps match
        (3, 1, ts(11, 59)),  # the 10:00 row (with its null count), not the future 12:00 row
        (4, 1, ts(23)),  # latest row
        (5, 2, ts(8, 59)),  # other key: its only row is later
        (6, 3, ts(12)),  # unknown key
        (7, 1, ts(9)),  # duplicated input rows stay duplicated
        (7, 1, ts(9)),
        (8, None, ts(9)),  # null key
        (9, 2, None),  # null timestamp
    ]
    df = spark.createDataFrame(rows, "id int, zip int, t timestamp")
    out = point_in_time_join(
        df,
        features,
        ["zip"],
        "t",
        "window_end",
        ["mean_fare", "count"],
        rename_outputs={"count": "trips"},
    )
    return out.toPandas().sort_values("id", kind="stable").reset_index(drop=True)


def _fares(joined: pd.DataFrame, ids: list[int]) -> list[float | None]:
    values = joined.set_index("id").loc[ids, "mean_fare"]
    return [None if pd.isna(v) else float(v) for v in values]


def test_latest_row_at_or_before(joined):
    assert _fares(joined, [2, 3, 4]) == [10.0, 20.0, 30.0]
    assert _fares(joined, [1, 5, 6]) == [None, None, None]


def test_null_feature_values_are_not_filled_from_older_rows(joined):
    row = joined.set_index("id").loc[3]
    assert pd.isna(row["trips"])  # not the 1.0 of the 08:00 row


def test_keeps_every_input_row_and_column_and_renames(joined):
    assert len(joined) == 10
    assert list(joined.columns) == ["id", "zip", "t", "mean_fare", "trips"]
    assert joined.loc[joined["id"] == 7, "mean_fare"].tolist() == [10.0, 10.0]
    assert _fares(joined, [8, 9]) == [None, None]


def test_rejects_clashing_and_missing_columns(spark, features):
    clashing = spark.createDataFrame(
        [(1, 1, ts(9), 0.0)], "id int, zip int, t timestamp, count double"
    )
    with pytest.raises(ValueError, match="already exist"):
        point_in_time_join(clashing, features, ["zip"], "t", "window_end", ["count"])
    with pytest.raises(ValueError, match="missing columns"):
        point_in_time_join(clashing, features, ["zip"], "when", "window_end", ["count"])


def test_matches_brute_force_on_random_data(spark):
    rng = np.random.default_rng(3)
    start = datetime(2016, 1, 1)
    feats = pd.DataFrame(
        {
            "zip": rng.integers(0, 4, 60).astype("int32"),
            "window_end": [
                start + timedelta(minutes=int(m)) for m in rng.choice(3000, 60, replace=False)
            ],
            "value": rng.normal(size=60),
        }
    )
    rows = pd.DataFrame(
        {
            "id": np.arange(200, dtype="int32"),
            "zip": rng.integers(0, 4, 200).astype("int32"),
            "t": [start + timedelta(minutes=int(m)) for m in rng.integers(0, 3200, 200)],
        }
    )
    out = point_in_time_join(
        spark.createDataFrame(rows),
        spark.createDataFrame(feats),
        ["zip"],
        "t",
        "window_end",
        ["value"],
    ).toPandas()
    got = out.set_index("id")["value"]
    for _, row in rows.iterrows():
        earlier = feats[(feats["zip"] == row["zip"]) & (feats["window_end"] <= row["t"])]
        expected = earlier.sort_values("window_end")["value"].iloc[-1] if len(earlier) else np.nan
        value = got.loc[row["id"]]
        assert (np.isnan(expected) and pd.isna(value)) or value == pytest.approx(expected)
