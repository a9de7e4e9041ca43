"""The online copies of the feature tables: what publishing writes, what key-only serving looks
up, and how monitoring measures their freshness (the local twin; the Databricks calls are in
test_platform_databricks.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from {{ cookiecutter.package_name }}.errors import MissingInputError
from {{ cookiecutter.package_name }}.features.online import (
    model_online_tables,
    publish_features,
    record_freshness,
)
from {{ cookiecutter.package_name }}.names import (
    DROPOFF_FEATURE_TS,
    DROPOFF_FEATURES,
    DROPOFF_FEATURES_TABLE,
    DROPOFF_ZIP,
    FEATURE_FRESHNESS_TABLE,
    PICKUP_FEATURE_TS,
    PICKUP_FEATURES,
    PICKUP_FEATURES_TABLE,
    PICKUP_ZIP,
    TRIP_FEATURES,
    table,
)
from {{ cookiecutter.package_name }}.platform.base import OnlineStoreSpec
from {{ cookiecutter.package_name }}_local.endpoint import request_frame
from {{ cookiecutter.package_name }}_local.online_serving import OnlineLookup, OnlineModel, RequestError
from {{ cookiecutter.package_name }}_local.runner import load_bundle

CATALOG, SCHEMA = "dev", "s"
STORE = OnlineStoreSpec("proj-online")
PICKUP = table(CATALOG, SCHEMA, PICKUP_FEATURES_TABLE)
DROPOFF = table(CATALOG, SCHEMA, DROPOFF_FEATURES_TABLE)
START = datetime(2016, 1, 1, tzinfo=UTC)


def write_pickup(platform, rows: list[tuple[int, int, float]]) -> None:
    """Pickup feature rows (zip, window end hour, mean fare) merged into the feature table."""
    frame = pd.DataFrame(
        [
            {
                PICKUP_ZIP: zip_code,
                PICKUP_FEATURE_TS: START + timedelta(hours=hour),
                PICKUP_FEATURES[0]: 10,
                PICKUP_FEATURES[1]: fare,
                PICKUP_FEATURES[2]: 2.5,
            }
            for zip_code, hour, fare in rows
        ]
    )
    platform.write_feature_table(
        platform.spark.createDataFrame(frame), PICKUP, [PICKUP_ZIP], PICKUP_FEATURE_TS, "pickup"
    )


def write_dropoff(platform, rows: list[tuple[int, int, float]]) -> None:
    frame = pd.DataFrame(
        [
            {
                DROPOFF_ZIP: zip_code,
                DROPOFF_FEATURE_TS: START + timedelta(hours=hour),
                DROPOFF_FEATURES[0]: 4,
                DROPOFF_FEATURES[1]: fare,
            }
            for zip_code, hour, fare in rows
        ]
    )
    platform.write_feature_table(
        platform.spark.createDataFrame(frame), DROPOFF, [DROPOFF_ZIP], DROPOFF_FEATURE_TS, "dropoff"
    )


@pytest.fixture
def published(local_platform):
    """Both feature tables, two windows per zip, published once."""
    write_pickup(local_platform, [(1, 1, 11.0), (1, 2, 12.0), (2, 1, 21.0), (2, 2, 22.0)])
    write_dropoff(local_platform, [(7, 1, 71.0), (7, 2, 72.0)])
    publish_features(local_platform, CATALOG, SCHEMA, STORE)
    return local_platform


def online_fares(platform, zips: list[int]) -> list[float | None]:
    store = platform.online_store(STORE.name)
    rows = store.lookup(f"{PICKUP}_online", [(z,) for z in zips], [PICKUP_FEATURES[1]])
    return [None if row is None else row[0] for row in rows]


def test_publish_holds_the_newest_row_per_key_and_a_rerun_writes_nothing(published):
    assert online_fares(published, [1, 2, 3]) == [12.0, 22.0, None]
    again = publish_features(published, CATALOG, SCHEMA, STORE)
    assert [(t.online_table, t.changed) for t in again] == [
        (f"{PICKUP}_online", False),
        (f"{DROPOFF}_online", False),
    ]


def test_a_stale_online_row_is_refreshed_by_the_next_publish(published):
    write_pickup(published, [(1, 3, 13.0)])
    assert online_fares(published, [1]) == [12.0]  # stale until the next publish
    stale = {f.source_table: f for f in record_freshness(published, CATALOG, SCHEMA)}
    assert stale[PICKUP].versions_behind == 1
    assert stale[PICKUP].lag_seconds >= 0
    assert stale[DROPOFF].versions_behind == 0

    result = publish_features(published, CATALOG, SCHEMA, STORE)
    assert [t.changed for t in result] == [True, False]
    assert online_fares(published, [1, 2]) == [13.0, 22.0]
    fresh = {f.source_table: f for f in record_freshness(published, CATALOG, SCHEMA)}
    assert (fresh[PICKUP].versions_behind, fresh[PICKUP].lag_seconds) == (0, 0.0)

    rows = published.read_table(table(CATALOG, SCHEMA, FEATURE_FRESHNESS_TABLE)).toPandas()
    assert len(rows) == 4
    pickup = rows[rows["table_name"] == PICKUP].sort_values("measured_at")
    assert pickup["versions_behind"].tolist() == [1, 0]
    assert (pickup["online_table_name"] == f"{PICKUP}_online").all()


def test_freshness_records_a_table_that_was_never_published(local_platform):
    write_pickup(local_platform, [(1, 1, 11.0)])
    write_dropoff(local_platform, [(7, 1, 71.0)])
    measured = record_freshness(local_platform, CATALOG, SCHEMA)
    assert [(f.online_version, f.versions_behind, f.lag_seconds) for f in measured] == [
        (None, None, None),
        (None, None, None),
    ]
    assert local_platform.missing_online_tables([f.online_table for f in measured]) == [
        f"{PICKUP}_online",
        f"{DROPOFF}_online",
    ]


def test_publishing_before_the_feature_tables_exist_names_the_job(local_platform):
    with pytest.raises(MissingInputError, match="run feature_refresh_job first"):
        publish_features(local_platform, CATALOG, SCHEMA, STORE)
    assert not (local_platform.state / "online").exists()
    assert record_freshness(local_platform, CATALOG, SCHEMA) == []  # monitoring goes on
    assert not local_platform.table_exists(table(CATALOG, SCHEMA, FEATURE_FRESHNESS_TABLE))


def test_the_deploy_task_checks_the_online_tables_of_the_model():
    assert model_online_tables("prod.taxi.fare_model") == (
        "prod.taxi.pickup_features_online",
        "prod.taxi.dropoff_features_online",
    )
    with pytest.raises(ValueError, match="three-part model name"):
        model_online_tables("fare_model")


def sum_model(published) -> OnlineModel:
    """A model that adds up its inputs, behind the published online tables."""
    inputs = [*TRIP_FEATURES, *PICKUP_FEATURES, *DROPOFF_FEATURES]
    lookups = [
        OnlineLookup(
            f"{PICKUP}_online", [PICKUP_ZIP], list(PICKUP_FEATURES), list(PICKUP_FEATURES)
        ),
        OnlineLookup(
            f"{DROPOFF}_online", [DROPOFF_ZIP], list(DROPOFF_FEATURES), list(DROPOFF_FEATURES)
        ),
    ]

    def predict(frame: pd.DataFrame) -> np.ndarray:
        return frame[inputs].astype(float).sum(axis=1, min_count=len(inputs)).to_numpy()

    return OnlineModel(predict, inputs, lookups, published.online_store(STORE.name))


def test_a_key_only_request_is_answered_with_the_online_features(published):
    model = sum_model(published)
    assert model.request_columns == [PICKUP_ZIP, DROPOFF_ZIP, *TRIP_FEATURES]
    trip = dict.fromkeys(TRIP_FEATURES, 1.0)
    request = pd.DataFrame([{PICKUP_ZIP: 1, DROPOFF_ZIP: 7, **trip}])
    # 4 trip fields + pickup (10 + 12 + 2.5) + dropoff (4 + 72)
    assert model.predict(request) == [4 + 24.5 + 76]
    override = request.assign(**{PICKUP_FEATURES[1]: 100.0})
    assert model.predict(override) == [4 + 112.5 + 76]  # a sent feature wins over the lookup
    unknown = request.assign(**{PICKUP_ZIP: 99})
    assert np.isnan(model.predict(unknown)[0])  # no online row: its features are null


def test_a_request_without_its_keys_is_refused_with_what_to_send(published):
    model = sum_model(published)
    with pytest.raises(RequestError, match=r"lacks columns \['dropoff_zip'\]"):
        model.predict(pd.DataFrame([{PICKUP_ZIP: 1, **dict.fromkeys(TRIP_FEATURES, 1.0)}]))
    with pytest.raises(RequestError, match="dataframe_split or dataframe_records"):
        request_frame({"inputs": [[1, 2]]})
    split = request_frame({"dataframe_split": {"columns": ["a", "b"], "data": [[1, 2]]}})
    records = request_frame({"dataframe_records": [{"a": 1, "b": 2}]})
    pd.testing.assert_frame_equal(split, records)


def _task(bundle, job: str, key: str) -> dict:
    (task,) = [t for t in bundle.job(job)["tasks"] if t["task_key"] == key]
    return task["notebook_task"]["base_parameters"]


@pytest.mark.parametrize("target", ["dev", "test", "staging", "prod"])
def test_only_the_ci_target_publishes_nothing_and_serves_no_endpoint(project_root, target):
    """Pull requests deploy `test`: no online tables and no endpoint per run there (both tasks
    say they skip); every other target publishes to the store its endpoint reads from."""
    bundle = load_bundle(project_root, target)
    publish = _task(bundle, "feature_refresh_job", "publish_features")
    deploy = _task(bundle, "training_job", "deploy")
    if target == "test":
        assert (publish["online_store_name"], deploy["serving_endpoint_name"]) == ("", "")
    else:
        assert publish["online_store_name"] == f"{bundle.name}-online"
        assert deploy["serving_endpoint_name"].startswith(f"{bundle.name}-")
    assert publish["online_store_capacity"] == "CU_1"
