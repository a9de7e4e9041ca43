"""LocalPlatform: Delta tables via delta-rs, feature tables, point-in-time lookups, MLflow."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import mlflow
import pandas as pd
import pytest
from mlflow.models import infer_signature
from sklearn.linear_model import LinearRegression

from {{ cookiecutter.package_name }} import platform as platform_seam
from {{ cookiecutter.package_name }}.platform import (
    FeatureLookupSpec,
    MissingParameterError,
    NoPlatformError,
    get_platform,
)
from {{ cookiecutter.package_name }}.platform.base import ServingSpec
from {{ cookiecutter.package_name }}_local.platform import LocalPlatform
from {{ cookiecutter.package_name }}_local.runner.dbutils import LocalDbutils
from {{ cookiecutter.package_name }}_local.streaming import StreamSourceError

TABLE = "dev.sales.orders"


def _rows(spark, rows):
    return spark.createDataFrame(rows, "id int, name string, amount double")


def _sorted(df):
    return sorted(tuple(r) for r in df.collect())


def test_get_platform_off_databricks_is_the_platform_the_twin_registered(spark, monkeypatch):
    monkeypatch.delenv("DATABRICKS_RUNTIME_VERSION", raising=False)
    assert isinstance(get_platform(spark, LocalDbutils()), LocalPlatform)
    monkeypatch.setattr(platform_seam, "_off_databricks", [])  # as if the twin were not there
    with pytest.raises(NoPlatformError, match="through the project's local runner"):
        get_platform(spark, LocalDbutils())


def test_write_append_overwrite_and_exists(local_platform, spark):
    assert not local_platform.table_exists(TABLE)
    local_platform.write_table(_rows(spark, [(1, "a", 1.0)]), TABLE)
    local_platform.write_table(_rows(spark, [(2, "b", 2.0)]), TABLE, mode="append")
    assert local_platform.table_exists(TABLE)
    assert _sorted(local_platform.read_table(TABLE)) == [(1, "a", 1.0), (2, "b", 2.0)]
    local_platform.write_table(_rows(spark, [(3, "c", 3.0)]), TABLE, mode="overwrite")
    assert _sorted(local_platform.read_table(TABLE)) == [(3, "c", 3.0)]
    assert (local_platform.state / "warehouse" / "dev" / "sales" / "orders" / "_delta_log").is_dir()
    with pytest.raises(ValueError, match="mode"):
        local_platform.write_table(_rows(spark, []), TABLE, mode="merge")
    with pytest.raises(ValueError, match="three-part"):
        local_platform.read_table("sales.orders")


def test_merge_upserts_and_is_idempotent(local_platform, spark):
    batch = _rows(spark, [(1, "a", 1.0), (2, "b", 2.0)])
    local_platform.merge_table(batch, TABLE, ["id"])  # creates the table
    local_platform.merge_table(batch, TABLE, ["id"])
    assert _sorted(local_platform.read_table(TABLE)) == [(1, "a", 1.0), (2, "b", 2.0)]
    local_platform.merge_table(
        _rows(spark, [(2, "b2", 20.0), (3, "c", 3.0), (3, "c-last", 30.0)]), TABLE, ["id"]
    )
    assert _sorted(local_platform.read_table(TABLE)) == [
        (1, "a", 1.0),
        (2, "b2", 20.0),
        (3, "c-last", 30.0),
    ]


def test_timestamps_round_trip_in_utc(local_platform, spark):
    df = spark.createDataFrame([(1, datetime(2016, 1, 1, 23, 30))], "id int, ts timestamp")
    local_platform.write_table(df, TABLE)
    assert local_platform.read_table(TABLE).collect()[0]["ts"] == datetime(2016, 1, 1, 23, 30)
    # Serverless compute's session zone is Etc/UTC, a Databricks Runtime cluster's UTC.
    assert spark.conf.get("spark.sql.session.timeZone") in ("UTC", "Etc/UTC")


def test_tables_persist_across_instances_and_processes(local_platform, spark, tmp_path):
    local_platform.write_table(_rows(spark, [(1, "a", 1.0)]), TABLE)
    again = LocalPlatform(spark, LocalDbutils(), state=local_platform.state)
    assert _sorted(again.read_table(TABLE)) == [(1, "a", 1.0)]
    script = (
        "import json, sys\n"
        "from pathlib import Path\n"
        "import pyarrow as pa\n"
        "from {{ cookiecutter.package_name }}_local.delta_store import DeltaStore\n"
        "store = DeltaStore(Path(sys.argv[1]) / 'warehouse')\n"
        f"path = store.path('{TABLE}')\n"
        "store.merge_at(path, pa.table({'id': pa.array([1, 5], pa.int32()), 'name': ['A', 'e'], "
        "'amount': [10.0, 5.0]}), ['id'])\n"
        "print(json.dumps(sorted(store.read_at(path).column('id').to_pylist())))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script, str(local_platform.state)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert out.returncode == 0, f"child exited {out.returncode}:\n{out.stderr[-4000:]}"
    assert json.loads(out.stdout) == [1, 5]
    assert _sorted(local_platform.read_table(TABLE)) == [(1, "A", 10.0), (5, "e", 5.0)]


def test_read_source_generates_the_sample_once_for_a_table_or_a_path(local_platform):
    first = local_platform.read_source("samples.nyctaxi.trips")
    folder = local_platform.state / "warehouse" / "samples" / "nyctaxi" / "trips"
    assert (folder / "_delta_log").is_dir()
    assert {"tpep_pickup_datetime", "fare_amount", "pickup_zip"} <= set(first.columns)
    count = first.count()
    assert count > 0 and local_platform.read_source("samples.nyctaxi.trips").count() == count
    local_platform.read_source("/landing/trips")
    assert (local_platform.state / "datasets" / "landing" / "trips" / "_delta_log").is_dir()
    with pytest.raises(ValueError, match=r"invalid input '/\.\./etc'"):
        local_platform.read_source("/../etc")


def test_append_new_inserts_only_rows_with_new_keys(local_platform, spark):
    local_platform.append_new(_rows(spark, [(1, "a", 1.0), (2, "b", 2.0)]), TABLE, ["id"])
    local_platform.append_new(_rows(spark, [(2, "B", 20.0), (3, "c", 3.0)]), TABLE, ["id"])
    expected = [(1, "a", 1.0), (2, "b", 2.0), (3, "c", 3.0)]
    assert _sorted(local_platform.read_table(TABLE)) == expected


SOURCE = "/landing/orders"
CHECKPOINT = "/Volumes/dev/sales/checkpoints/orders"


def _append(local_platform, ids, mode="append"):
    rows = pd.DataFrame({"id": ids, "name": [f"n{i}" for i in ids], "amount": [1.0] * len(ids)})
    local_platform.write_source(SOURCE, rows, mode)


class Recorder:
    """A foreachBatch function that records (batch id, ids) and can fail once at ``fail_on``.

    It keeps its records in files: on Spark Connect (serverless) the function runs as a copy,
    so attributes set during a batch never reach the caller's object.
    """

    count = 0

    def __init__(self, folder: Path, fail_on: int | None = None) -> None:
        Recorder.count += 1
        self.log = folder / f"recorder-{Recorder.count}.jsonl"
        self.failed = self.log.with_suffix(".failed")
        self.fail_on = fail_on

    def __call__(self, df, batch_id):
        if batch_id == self.fail_on and not self.failed.exists():
            self.failed.touch()
            raise RuntimeError("lost the executor")
        with self.log.open("a") as fh:
            fh.write(json.dumps([batch_id, sorted(r.id for r in df.collect())]) + "\n")

    @property
    def batches(self) -> list[tuple[int, list[int]]]:
        if not self.log.exists():
            return []
        return [tuple(json.loads(line)) for line in self.log.read_text().splitlines()]


def test_stream_takes_the_snapshot_then_one_batch_per_appended_version(local_platform, tmp_path):
    _append(local_platform, [1, 2], "overwrite")
    _append(local_platform, [3])
    first = Recorder(tmp_path)
    progress = local_platform.run_stream(SOURCE, CHECKPOINT, first)
    assert first.batches == [(0, [1, 2, 3])]
    assert (progress.batches, progress.input_rows) == (1, 3)
    assert local_platform.run_stream(SOURCE, CHECKPOINT, first).batches == 0  # nothing new

    _append(local_platform, [4])
    _append(local_platform, [5, 6])
    second = Recorder(tmp_path)
    progress = local_platform.run_stream(SOURCE, CHECKPOINT, second)
    assert second.batches == [(1, [4]), (2, [5, 6])]
    assert (progress.batches, progress.input_rows) == (2, 3)
    offsets = local_platform.state / "volumes" / "dev" / "sales" / "checkpoints" / "orders"
    assert json.loads((offsets / "offsets.json").read_text())["batch_id"] == 2


def test_a_failed_batch_is_given_again_on_the_next_run(local_platform, tmp_path):
    _append(local_platform, [1], "overwrite")
    local_platform.run_stream(SOURCE, CHECKPOINT, Recorder(tmp_path))
    _append(local_platform, [2])
    _append(local_platform, [3])
    failing = Recorder(tmp_path, fail_on=2)
    with pytest.raises(RuntimeError, match="lost the executor"):
        local_platform.run_stream(SOURCE, CHECKPOINT, failing)
    assert failing.batches == [(1, [2])]  # batch 1 was committed before batch 2 failed
    local_platform.run_stream(SOURCE, CHECKPOINT, failing)
    assert failing.batches == [(1, [2]), (2, [3])]


def test_a_stream_stops_on_a_rewritten_source_or_a_foreign_checkpoint(local_platform, tmp_path):
    _append(local_platform, [1], "overwrite")
    local_platform.run_stream(SOURCE, CHECKPOINT, Recorder(tmp_path))
    _append(local_platform, [7], "overwrite")
    with pytest.raises(StreamSourceError, match="removed or rewrote data"):
        local_platform.run_stream(SOURCE, CHECKPOINT, Recorder(tmp_path))
    local_platform.write_source("/landing/other", pd.DataFrame({"id": [1]}), "overwrite")
    with pytest.raises(StreamSourceError, match="belongs to the stream of"):
        local_platform.run_stream("/landing/other", CHECKPOINT, Recorder(tmp_path))


def test_workspace_paths_map_into_the_state_folder(local_platform):
    state = local_platform.state
    assert local_platform.file_path("/Volumes/c/s/v/x") == state / "volumes" / "c" / "s" / "v" / "x"
    assert local_platform.file_path("dbfs:/tmp/ck") == state / "files" / "tmp" / "ck"
    with pytest.raises(ValueError, match="invalid path"):
        local_platform.file_path("/Volumes/../x")


def test_an_experiment_deleted_by_hand_is_created_again_on_next_use(local_platform):
    """MLflow refuses to set a deleted experiment; the workspace frees a deleted one's name."""
    name = "/Users/someone@example.com/taxi"
    local_platform.set_experiment(name)
    client = local_platform.mlflow_client()
    first = client.get_experiment_by_name(name).experiment_id
    client.delete_experiment(first)  # as the MLflow UI deletes it
    local_platform.set_experiment(name)
    again = client.get_experiment_by_name(name)
    assert again.lifecycle_stage == "active" and again.experiment_id != first
    moved = client.get_experiment(first)
    assert (moved.name, moved.lifecycle_stage) == (f"{name} (deleted, id {first})", "deleted")


def test_the_local_user_starts_local_runs(local_platform, monkeypatch):
    monkeypatch.setenv("DATABRICKS_USER", "jane@example.com")
    assert local_platform.triggered_by("7") == "jane@example.com"


FEATURES = "dev.sales.zip_features"


def _feature_table(local_platform, spark):
    features = spark.createDataFrame(
        [
            (10001, datetime(2016, 1, 1), 10.0, 1.0),
            (10001, datetime(2016, 1, 3), 30.0, 3.0),
            (10002, datetime(2016, 1, 2), 20.0, 2.0),
        ],
        "zip int, window_end timestamp, mean_fare double, other double",
    )
    local_platform.write_feature_table(features, FEATURES, ["zip"], "window_end", "per zip")
    return features


def test_feature_table_merge_on_keys_and_metadata(local_platform, spark):
    features = _feature_table(local_platform, spark)
    local_platform.write_feature_table(features, FEATURES, ["zip"], "window_end", "per zip")
    assert local_platform.read_table(FEATURES).count() == 3
    assert local_platform.feature_table_meta(FEATURES) == {
        "primary_keys": ["zip"],
        "timestamp_key": "window_end",
        "description": "per zip",
    }


def test_training_set_is_point_in_time_correct(local_platform, spark):
    _feature_table(local_platform, spark)
    trips = spark.createDataFrame(
        [
            (1, 10001, datetime(2015, 12, 31), 5.0),  # before any feature row: null
            (2, 10001, datetime(2016, 1, 2, 12), 6.0),  # sees the 2016-01-01 row, not the later one
            (3, 10001, datetime(2016, 1, 3), 7.0),  # equal timestamp counts
            (4, 10002, datetime(2016, 1, 5), 8.0),
            (5, 99999, datetime(2016, 1, 5), 9.0),  # unknown key: null
        ],
        "trip_id int, pickup_zip int, pickup_ts timestamp, fare double",
    )
    lookup = FeatureLookupSpec(
        FEATURES, ["pickup_zip"], "pickup_ts", ["mean_fare"], {"mean_fare": "pickup_mean_fare"}
    )
    training_set = local_platform.create_training_set(
        trips, [lookup], label="fare", exclude_columns=["trip_id"]
    )
    rows = {(r["pickup_zip"], r["pickup_ts"]): r for r in training_set.load_df().collect()}
    assert set(training_set.load_df().columns) == {
        "pickup_zip",
        "pickup_ts",
        "fare",
        "pickup_mean_fare",
    }
    values = [rows[k]["pickup_mean_fare"] for k in sorted(rows)]
    assert values == [None, 10.0, 30.0, 20.0, None]


def test_logged_model_scores_with_its_feature_lookups(local_platform, spark):
    _feature_table(local_platform, spark)
    trips = spark.createDataFrame(
        [(10001, datetime(2016, 1, 2), 2.0, 12.0), (10002, datetime(2016, 1, 4), 1.0, 21.0)],
        "pickup_zip int, pickup_ts timestamp, distance double, fare double",
    )
    lookup = FeatureLookupSpec(FEATURES, ["pickup_zip"], "pickup_ts", ["mean_fare"])
    training_set = local_platform.create_training_set(
        trips, [lookup], "fare", ["pickup_zip", "pickup_ts"]
    )
    train = training_set.load_df().toPandas()
    x = train[["distance", "mean_fare"]]
    model = LinearRegression().fit(x, train["fare"])
    local_platform.set_experiment("/Users/test/experiment")
    with mlflow.start_run():
        registered = local_platform.log_model(
            model,
            name="model",
            registered_model_name="dev.sales.fare_model",
            training_set=training_set,
            signature=infer_signature(x, model.predict(x)),
            input_example=x.head(1),
            pip_requirements=["scikit-learn"],
        )
    assert registered.version == "1" and registered.model_uri == "models:/dev.sales.fare_model/1"
    client = local_platform.mlflow_client()
    client.set_registered_model_alias("dev.sales.fare_model", "champion", registered.version)
    experiment = client.get_experiment_by_name("/Users/test/experiment")
    assert experiment.artifact_location.startswith((local_platform.state / "mlartifacts").as_uri())

    scored = local_platform.score_batch("models:/dev.sales.fare_model@champion", trips.drop("fare"))
    result = scored.orderBy("pickup_zip").toPandas()
    assert list(result.columns) == [
        "pickup_zip",
        "pickup_ts",
        "distance",
        "mean_fare",
        "prediction",
    ]
    assert result["prediction"].tolist() == pytest.approx(model.predict(x).tolist())
    predict = local_platform.load_model_for_evaluation(registered.model_uri)
    assert predict(pd.DataFrame(x)).tolist() == pytest.approx(model.predict(x).tolist())


def test_widgets_and_task_values_go_through_dbutils(spark, tmp_path, capsys):
    store: dict = {"train": {"model_version": "4"}}
    platform = LocalPlatform(
        spark, LocalDbutils({"model_name": "m"}, store, "deploy"), state=tmp_path
    )
    assert platform.get_param("model_name") == "m"
    assert platform.get_param("start_date", "") == ""
    with pytest.raises(MissingParameterError, match="parameter 'catalog' is empty"):
        platform.get_param("catalog")
    platform.set_task_value("champion_version", "4")
    assert store["deploy"] == {"champion_version": "4"}
    assert platform.get_task_value("train", "model_version") == "4"
    assert platform.get_task_value("train", "nope", default="d") == "d"
    platform.deploy_serving_endpoint(ServingSpec("endpoint", "dev.s.m", "4"))
    recorded = json.loads((tmp_path / "serving" / "endpoint.json").read_text())
{%- if cookiecutter.include_serving == "yes" %}
    served = [(e["entity_version"], e["traffic_percentage"]) for e in recorded["served_entities"]]
    assert (recorded["model_name"], served) == ("dev.s.m", [("4", 100)])
    assert "serving endpoint 'endpoint' -> dev.s.m v4 100%" in capsys.readouterr().out
{%- else %}
    assert (recorded["model_name"], recorded["model_version"]) == ("dev.s.m", "4")
    assert "serving endpoint 'endpoint' -> dev.s.m v4" in capsys.readouterr().out
{%- endif %}
