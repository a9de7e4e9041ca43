"""DatabricksPlatform against autospec'd clients: a wrong method or keyword fails the test."""

from __future__ import annotations

import dataclasses
import importlib.util
import inspect
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from unittest import mock

import databricks.sdk
import mlflow
import numpy as np
import pandas as pd
import pytest
from databricks.feature_engineering import (
    DatabricksOnlineStore,
    FeatureEngineeringClient,
    FeatureLookup,
)
from databricks.sdk import WorkspaceClient
from databricks.sdk.errors import NotFound, OperationFailed
from databricks.sdk.service._internal import Wait
from databricks.sdk.service.database import (
    DatabaseAPI,
    DeltaTableSyncInfo,
    SyncedDatabaseTable,
    SyncedTablePosition,
    SyncedTableState,
    SyncedTableStatus,
)
from databricks.sdk.service.jobs import JobsAPI, Run
from databricks.sdk.service.serving import (
    Route,
    ServedEntityInput,
    ServingEndpointAccessControlRequest,
    ServingEndpointDetailed,
    ServingEndpointPermissionLevel,
    ServingEndpointsAPI,
    TrafficConfig,
)
from mlflow import MlflowClient
from mlflow.models import infer_signature
from pyspark.sql import DataFrame, DataFrameReader, DataFrameWriter, SparkSession
from pyspark.sql.catalog import Catalog
from pyspark.sql.streaming import DataStreamReader, DataStreamWriter, StreamingQuery
from pyspark.sql.streaming.listener import StreamingQueryProgress
from pyspark.sql.types import StructType

from {{ cookiecutter.package_name }}.errors import ActionableError, MissingInputError
from {{ cookiecutter.package_name }}.platform import FeatureLookupSpec, get_platform
from {{ cookiecutter.package_name }}.platform import databricks as dbx
from {{ cookiecutter.package_name }}.platform.base import (
    OnlineStoreError,
    OnlineStoreSpec,
    ServingEndpointError,
    ServingSpec,
)
from {{ cookiecutter.package_name }}.platform.databricks import DatabricksPlatform
from {{ cookiecutter.package_name }}_local.runner.dbutils import LocalDbutils

LOOKUP = FeatureLookupSpec(
    "dev.s.pickup_features", ["pickup_zip"], "tpep_pickup_datetime", ["f1"], {"f1": "p_f1"}
)


def _dbutils_stub() -> type:
    """The SDK's type stub of the notebook ``dbutils`` (``databricks.sdk.runtime`` itself would
    try to authenticate on import), for autospec'd widgets and task values."""
    path = Path(databricks.sdk.__file__).parent / "runtime" / "dbutils_stub.py"
    spec = importlib.util.spec_from_file_location("dbutils_stub", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.dbutils


def _df():
    """A DataFrame mock (properties such as ``write`` need their own spec)."""
    df = mock.create_autospec(DataFrame, instance=True)
    df.write = mock.create_autospec(DataFrameWriter, instance=True)
    df.schema = StructType([])
    return df


@pytest.fixture
def clients():
    workspace = mock.create_autospec(WorkspaceClient, instance=True)
    workspace.serving_endpoints = mock.create_autospec(ServingEndpointsAPI, instance=True)
    workspace.jobs = mock.create_autospec(JobsAPI, instance=True)
    spark = mock.create_autospec(SparkSession, instance=True)
    spark.catalog = mock.create_autospec(Catalog, instance=True)
    spark.read = mock.create_autospec(DataFrameReader, instance=True)
    return SimpleNamespace(
        fe=mock.create_autospec(FeatureEngineeringClient, instance=True),
        mlflow=mock.create_autospec(MlflowClient, instance=True),
        workspace=workspace,
        spark=spark,
    )


@pytest.fixture
def platform(clients, monkeypatch):
    monkeypatch.setattr(mlflow, "set_registry_uri", mock.Mock())
    return DatabricksPlatform(
        clients.spark,
        LocalDbutils({"catalog": "dev"}, {}, "train"),
        fe_client=clients.fe,
        mlflow_client=clients.mlflow,
        workspace_client=clients.workspace,
    )


def test_get_platform_on_a_cluster(monkeypatch, clients):
    monkeypatch.setenv("DATABRICKS_RUNTIME_VERSION", "17.3")
    monkeypatch.setattr(mlflow, "set_registry_uri", mock.Mock())
    assert isinstance(get_platform(clients.spark, LocalDbutils()), DatabricksPlatform)
    mlflow.set_registry_uri.assert_called_once_with("databricks-uc")


def test_feature_table_is_created_once_then_merged(platform, clients):
    df = _df()
    clients.spark.catalog.tableExists.return_value = False
    platform.write_feature_table(
        df, "dev.s.pickup_features", ["pickup_zip"], "window_end", "pickup features"
    )
    clients.fe.create_table.assert_called_once_with(
        name="dev.s.pickup_features",
        primary_keys=["pickup_zip", "window_end"],
        timeseries_column="window_end",
        schema=df.schema,
        description="pickup features",
    )
    clients.fe.write_table.assert_called_once_with(
        name="dev.s.pickup_features", df=df, mode="merge"
    )
    clients.spark.catalog.tableExists.return_value = True
    platform.write_feature_table(
        df, "dev.s.pickup_features", ["pickup_zip"], "window_end", "pickup features"
    )
    assert clients.fe.create_table.call_count == 1
    assert clients.fe.write_table.call_count == 2


def test_training_set_uses_feature_lookups(platform, clients):
    df = _df()
    handle = platform.create_training_set(df, [LOOKUP], label="fare_amount", exclude_columns=["id"])
    assert handle is clients.fe.create_training_set.return_value
    kwargs = clients.fe.create_training_set.call_args.kwargs
    assert (
        kwargs["df"] is df
        and kwargs["label"] == "fare_amount"
        and kwargs["exclude_columns"] == ["id"]
    )
    (lookup,) = kwargs["feature_lookups"]
    assert isinstance(lookup, FeatureLookup)
    assert lookup.table_name == "dev.s.pickup_features"
    assert lookup.lookup_key == ["pickup_zip"]
    assert lookup.timestamp_lookup_key == "tpep_pickup_datetime"
    assert lookup.feature_names == ["f1"]
    assert lookup._get_output_name("f1") == "p_f1"


def test_log_model_with_training_set_goes_through_feature_engineering(platform, clients):
    clients.fe.log_model.return_value = SimpleNamespace(registered_model_version=5)
    training_set = object()
    registered = platform.log_model(
        "model",
        name="model",
        registered_model_name="dev.s.m",
        training_set=training_set,
        signature=None,
        input_example=None,
        pip_requirements=["scikit-learn==1.9.1"],
    )
    assert registered.version == "5" and registered.model_uri == "models:/dev.s.m/5"
    clients.fe.log_model.assert_called_once_with(
        model="model",
        artifact_path="model",
        flavor=mlflow.sklearn,
        training_set=training_set,
        registered_model_name="dev.s.m",
        infer_input_example=True,
        extra_pip_requirements=["scikit-learn==1.9.1"],
    )


def test_feature_engineering_log_model_names_the_artifact_path_not_name():
    """MLflow 3 calls it ``name``; the pinned databricks-feature-engineering still takes a
    required ``artifact_path`` (``name`` would land in its ``**kwargs`` and leave
    ``artifact_path`` missing), which the autospec'd call above binds."""
    parameters = inspect.signature(FeatureEngineeringClient.log_model).parameters
    assert parameters["artifact_path"].default is inspect.Parameter.empty
    assert "name" not in parameters


def test_log_model_without_training_set_uses_mlflow(platform, clients, monkeypatch):
    log_model = mock.create_autospec(
        mlflow.sklearn.log_model, return_value=SimpleNamespace(registered_model_version=None)
    )
    monkeypatch.setattr(mlflow.sklearn, "log_model", log_model)
    clients.mlflow.search_model_versions.return_value = [
        SimpleNamespace(name="dev.s.m", version="2", run_id="this-run"),
        SimpleNamespace(name="dev.s.other", version="11", run_id="this-run"),
    ]
    active = SimpleNamespace(info=SimpleNamespace(run_id="this-run"))
    monkeypatch.setattr(mlflow, "active_run", lambda: active)
    registered = platform.log_model(
        "model", name="model", registered_model_name="dev.s.m", training_set=None,
        signature="sig", input_example="ex", pip_requirements=["x"],
    )  # fmt: skip
    assert registered.version == "2"  # the version of this model logged by this run
    log_model.assert_called_once_with(
        "model",
        name="model",
        registered_model_name="dev.s.m",
        signature="sig",
        input_example="ex",
        pip_requirements=["x"],
    )
    # Unity Catalog takes a single condition and pages by name: search by the run.
    clients.mlflow.search_model_versions.assert_called_once_with("run_id = 'this-run'")


def test_feature_store_model_version_is_found_by_run(platform, clients, monkeypatch):
    # fe.log_model returns the pyfunc ModelInfo (no version) and registers afterwards.
    clients.fe.log_model.return_value = SimpleNamespace(registered_model_version=None)
    clients.mlflow.search_model_versions.return_value = [
        SimpleNamespace(name="dev.s.m", version="7", run_id="this-run")
    ]
    active = SimpleNamespace(info=SimpleNamespace(run_id="this-run"))
    monkeypatch.setattr(mlflow, "active_run", lambda: active)
    registered = platform.log_model(
        "model", name="model", registered_model_name="dev.s.m", training_set=object(),
        signature=None, input_example=None, pip_requirements=[],
    )  # fmt: skip
    assert registered == dbx.RegisteredVersion("models:/dev.s.m/7", "7")
    clients.mlflow.search_model_versions.assert_called_once_with("run_id = 'this-run'")


def test_a_run_that_registered_nothing_is_an_error(platform, clients, monkeypatch):
    clients.fe.log_model.return_value = SimpleNamespace(registered_model_version=None)
    clients.mlflow.search_model_versions.return_value = []
    active = SimpleNamespace(info=SimpleNamespace(run_id="this-run"))
    monkeypatch.setattr(mlflow, "active_run", lambda: active)
    with pytest.raises(LookupError, match=r"dev\.s\.m"):
        platform.log_model(
            "model", name="model", registered_model_name="dev.s.m", training_set=object(),
            signature=None, input_example=None, pip_requirements=[],
        )  # fmt: skip


def _model_info(loader_module):
    return SimpleNamespace(
        flavors={"python_function": {"loader_module": loader_module}}, signature=None
    )


def test_score_batch_of_feature_store_model(platform, clients, monkeypatch):
    monkeypatch.setattr(
        mlflow.models, "get_model_info", lambda uri: _model_info(dbx.FE_LOADER_MODULE)
    )
    df = _df()
    out = platform.score_batch("models:/dev.s.m@champion", df)
    assert out is clients.fe.score_batch.return_value
    clients.fe.score_batch.assert_called_once_with(
        model_uri="models:/dev.s.m@champion", df=df, result_type="double"
    )


def test_evaluation_loads_the_raw_model_inside_the_feature_store_package(
    platform, monkeypatch, tmp_path
):
    monkeypatch.setattr(
        mlflow.models, "get_model_info", lambda uri: _model_info(dbx.FE_LOADER_MODULE)
    )
    download = mock.Mock(return_value=str(tmp_path))
    monkeypatch.setattr(mlflow.artifacts, "download_artifacts", download)
    raw = mock.Mock()
    raw.predict.return_value = [[1.0], [2.0]]
    load = mock.Mock(return_value=raw)
    monkeypatch.setattr(mlflow.pyfunc, "load_model", load)
    predict = platform.load_model_for_evaluation("models:/dev.s.m/3")
    assert predict("frame").tolist() == [1.0, 2.0]
    assert download.call_args.kwargs["artifact_uri"] == "models:/dev.s.m/3"
    load.assert_called_once_with(str(tmp_path / "data" / "feature_store" / "raw_model"))


def test_evaluation_of_a_plain_model(platform, monkeypatch):
    monkeypatch.setattr(mlflow.models, "get_model_info", lambda uri: _model_info("mlflow.sklearn"))
    load = mock.Mock()
    load.return_value.predict.return_value = [3.0]
    monkeypatch.setattr(mlflow.pyfunc, "load_model", load)
    assert platform.load_model_for_evaluation("models:/dev.s.m/3")("frame").tolist() == [3.0]
    load.assert_called_once_with("models:/dev.s.m/3")


def test_tables_use_the_catalog(platform, clients):
    df = _df()
    writer = df.write.format.return_value.mode.return_value.option.return_value
    platform.write_table(df, "dev.s.inference_log", mode="append")
    df.write.format.assert_called_once_with("delta")
    df.write.format.return_value.mode.assert_called_once_with("append")
    writer.saveAsTable.assert_called_once_with("dev.s.inference_log")
    assert platform.read_table("dev.s.t") is clients.spark.table.return_value
    clients.spark.table.assert_called_once_with("dev.s.t")
    platform.read_source("/databricks-datasets/x")
    clients.spark.read.format.assert_called_once_with("delta")
    clients.spark.read.format.return_value.load.assert_called_once_with("/databricks-datasets/x")


def test_merge_uses_sql_merge_into_from_a_temp_view(platform, clients):
    df = _df()
    clients.spark.catalog.tableExists.return_value = True
    platform.merge_table(df, "dev.s.validation_results", ["model_version", "check"])
    df.dropDuplicates.assert_called_once_with(["model_version", "check"])
    view = df.dropDuplicates.return_value.createOrReplaceTempView.call_args.args[0]
    sql = clients.spark.sql.call_args.args[0]
    assert "MERGE WITH SCHEMA EVOLUTION INTO `dev`.`s`.`validation_results` AS t" in sql
    assert (
        f"USING {view} AS s ON t.`model_version` <=> s.`model_version` AND t.`check` <=> s.`check`"
        in sql
    )
    assert "WHEN MATCHED THEN UPDATE SET * WHEN NOT MATCHED THEN INSERT *" in sql
    clients.spark.catalog.dropTempView.assert_called_once_with(view)


def test_merge_into_a_missing_table_creates_it(platform, clients):
    df = _df()
    clients.spark.catalog.tableExists.return_value = False
    platform.merge_table(df, "dev.s.t", ["id"])
    clients.spark.sql.assert_not_called()
    df.write.format.return_value.mode.assert_called_once_with("overwrite")


SPEC = ServingSpec("fare-endpoint", "dev.s.m", "7", query_group="readers", inference_table="dev.s")
ENTITY = ServedEntityInput(
    name="m-7",
    entity_name="dev.s.m",
    entity_version="7",
    workload_size="Small",
    scale_to_zero_enabled=True,
)
ALL_TRAFFIC = TrafficConfig(routes=[Route(served_entity_name="m-7", traffic_percentage=100)])


def _waiter(endpoint=None, error=None):
    wait = mock.create_autospec(Wait, instance=True)
    if error is not None:
        wait.result.side_effect = error
    else:
        wait.result.return_value = endpoint
    return wait


def test_serving_endpoint_update_waits_and_grants_query(platform, clients):
    api = clients.workspace.serving_endpoints
    api.get.return_value = ServingEndpointDetailed(name="fare-endpoint", id="e1")
    api.update_config.return_value = _waiter(ServingEndpointDetailed(name="fare-endpoint", id="e1"))

    platform.deploy_serving_endpoint(SPEC)

    api.wait_get_serving_endpoint_not_updating.assert_called_once_with(
        "fare-endpoint", timeout=timedelta(minutes=30)
    )
    api.update_config.assert_called_once_with(
        "fare-endpoint", served_entities=[ENTITY], traffic_config=ALL_TRAFFIC
    )
    api.update_config.return_value.result.assert_called_once_with(timeout=timedelta(minutes=30))
    api.create.assert_not_called()
    api.update_permissions.assert_called_once_with(
        "e1",
        access_control_list=[
            ServingEndpointAccessControlRequest(
                group_name="readers", permission_level=ServingEndpointPermissionLevel.CAN_QUERY
            )
        ],
    )


def test_serving_endpoint_is_created_with_an_inference_table(platform, clients):
    api = clients.workspace.serving_endpoints
    api.get.side_effect = NotFound("no endpoint")
    api.create.return_value = _waiter(ServingEndpointDetailed(name="fare-endpoint", id="e2"))

    platform.deploy_serving_endpoint(SPEC)

    api.create.assert_called_once()
    kwargs = api.create.call_args.kwargs
    assert kwargs["config"].served_entities == [ENTITY]
    assert kwargs["config"].traffic_config == ALL_TRAFFIC
    table = kwargs["ai_gateway"].inference_table_config
    assert (table.catalog_name, table.schema_name, table.enabled) == ("dev", "s", True)
    assert table.table_name_prefix == "fare_endpoint"
    api.update_config.assert_not_called()


def test_a_canary_serves_two_versions_with_the_split_as_traffic_routes(platform, clients):
    api = clients.workspace.serving_endpoints
    api.get.return_value = ServingEndpointDetailed(name="fare-endpoint", id="e1")
    api.update_config.return_value = _waiter(ServingEndpointDetailed(name="fare-endpoint", id="e1"))

    platform.deploy_serving_endpoint(
        dataclasses.replace(SPEC, model_version="6", canary_version="7", canary_percent=10)
    )

    kwargs = api.update_config.call_args.kwargs
    served = [(e.name, e.entity_name, e.entity_version) for e in kwargs["served_entities"]]
    assert served == [("m-6", "dev.s.m", "6"), ("m-7", "dev.s.m", "7")]
    assert kwargs["traffic_config"] == TrafficConfig(
        routes=[
            Route(served_entity_name="m-6", traffic_percentage=90),
            Route(served_entity_name="m-7", traffic_percentage=10),
        ]
    )


def test_serving_endpoint_that_fails_to_update_is_a_clear_error(platform, clients):
    api = clients.workspace.serving_endpoints
    api.get.return_value = ServingEndpointDetailed(name="fare-endpoint", id="e1")
    api.update_config.return_value = _waiter(error=OperationFailed("UPDATE_FAILED"))
    with pytest.raises(ServingEndpointError, match=r"did not become ready with dev\.s\.m v7 100%"):
        platform.deploy_serving_endpoint(SPEC)
    api.update_permissions.assert_not_called()


def test_cache_is_skipped_where_the_compute_refuses_it(platform):
    df = _df()
    df.cache.side_effect = RuntimeError(
        "[NOT_SUPPORTED_WITH_SERVERLESS] PERSIST TABLE is not supported"
    )
    assert platform.cache(df) is df
    other = _df()
    other.cache.side_effect = RuntimeError("out of memory")
    with pytest.raises(RuntimeError, match="out of memory"):
        platform.cache(other)


def test_read_source_reads_a_table_name_as_a_table(platform, clients):
    clients.spark.catalog.tableExists.return_value = True
    platform.read_source("samples.nyctaxi.trips")
    clients.spark.table.assert_called_once_with("samples.nyctaxi.trips")


def test_a_missing_input_table_names_the_variable(platform, clients):
    clients.spark.catalog.tableExists.return_value = False
    with pytest.raises(MissingInputError, match="set the bundle variable input_table"):
        platform.read_source("main.raw.trips")
    clients.spark.table.assert_not_called()


def test_widgets_and_task_values(platform):
    assert platform.get_param("catalog") == "dev"
    platform.set_task_value("model_version", "5")
    assert platform.get_task_value("train", "model_version") == "5"


def test_widgets_and_task_values_match_the_notebook_dbutils(clients):
    dbutils = mock.create_autospec(_dbutils_stub())
    dbutils.widgets.get.return_value = "prod"
    dbutils.jobs.taskValues.get.return_value = "5"
    platform = DatabricksPlatform(
        clients.spark, dbutils, fe_client=clients.fe, mlflow_client=clients.mlflow
    )
    assert platform.get_param("catalog", "dev") == "prod"
    dbutils.widgets.text.assert_called_once_with("catalog", "dev")
    dbutils.widgets.get.assert_called_once_with("catalog")
    platform.set_task_value("model_version", "5")
    dbutils.jobs.taskValues.set.assert_called_once_with(key="model_version", value="5")
    assert platform.get_task_value("train", "model_version", "") == "5"
    dbutils.jobs.taskValues.get.assert_called_once_with(
        taskKey="train", key="model_version", default="", debugValue=""
    )


def test_score_batch_of_a_plain_model_uses_a_spark_udf_on_the_signature_columns(
    platform, clients, monkeypatch
):
    signature = infer_signature(pd.DataFrame({"a": [1.0], "b": [2.0]}), np.array([0.5]))
    info = SimpleNamespace(
        flavors={"python_function": {"loader_module": "mlflow.sklearn"}}, signature=signature
    )
    monkeypatch.setattr(mlflow.models, "get_model_info", lambda uri: info)
    spark_udf = mock.create_autospec(mlflow.pyfunc.spark_udf)
    monkeypatch.setattr(mlflow.pyfunc, "spark_udf", spark_udf)
    struct = mock.Mock(return_value="struct(a, b)")
    monkeypatch.setattr("pyspark.sql.functions.struct", struct)
    monkeypatch.setattr("pyspark.sql.functions.col", lambda name: f"col({name})")
    df = _df()
    out = platform.score_batch("models:/dev.s.m@champion", df)
    spark_udf.assert_called_once_with(
        clients.spark, "models:/dev.s.m@champion", env_manager="local", result_type="double"
    )
    struct.assert_called_once_with("col(a)", "col(b)")
    spark_udf.return_value.assert_called_once_with("struct(a, b)")
    df.withColumn.assert_called_once_with("prediction", spark_udf.return_value.return_value)
    assert out is df.withColumn.return_value
    clients.fe.score_batch.assert_not_called()


def test_serving_endpoint_created_but_never_ready_names_the_timeout(platform, clients):
    api = clients.workspace.serving_endpoints
    api.get.side_effect = NotFound("no endpoint")
    api.create.return_value = _waiter(error=TimeoutError("timed out after 0:30:00"))
    with pytest.raises(ServingEndpointError, match=r"within 30 minutes \(TimeoutError") as error:
        platform.deploy_serving_endpoint(SPEC)
    assert isinstance(error.value, ActionableError)  # one line, no traceback, exit code 2
    assert "champion alias did not move" in str(error.value)
    api.update_permissions.assert_not_called()


def test_a_pending_update_that_never_ends_is_the_same_clear_error(platform, clients):
    api = clients.workspace.serving_endpoints
    api.get.return_value = ServingEndpointDetailed(name="fare-endpoint", id="e1")
    api.wait_get_serving_endpoint_not_updating.side_effect = TimeoutError("still updating")
    with pytest.raises(ServingEndpointError, match="did not become ready"):
        platform.deploy_serving_endpoint(SPEC)
    api.update_config.assert_not_called()


def _progress_entry(batch_id: int, rows: int) -> StreamingQueryProgress:
    """A progress entry as Spark 4 reports it: the rows per source, none at the top level."""
    source = {
        "description": "DeltaSource[trips]",
        "startOffset": None,
        "endOffset": {"logOffset": batch_id},
        "latestOffset": None,
        "numInputRows": rows,
        "inputRowsPerSecond": 0.0,
        "processedRowsPerSecond": 0.0,
        "metrics": {},
    }
    return StreamingQueryProgress.fromJson(
        {
            "id": "e6c8a73a-d60c-4970-ad7f-a0bfc6f8ac51",
            "runId": "3dc6a111-0304-45d9-92ec-b5ea0534b71e",
            "name": None,
            "timestamp": "2026-01-01T00:00:00.000Z",
            "batchId": batch_id,
            "batchDuration": 1000,
            "stateOperators": [],
            "sources": [source],
            "sink": {"description": "ForeachBatchSink", "numOutputRows": -1, "metrics": {}},
        }
    )


def _stream_mocks(clients):
    """spark.readStream -> a streaming DataFrame -> its writeStream chain -> a query."""
    reader = mock.create_autospec(DataStreamReader, instance=True)
    clients.spark.readStream = reader
    stream = _df()
    stream.writeStream = mock.create_autospec(DataStreamWriter, instance=True)
    writer = stream.writeStream
    for method in (writer.foreachBatch, writer.option, writer.trigger):
        method.return_value = writer
    query = mock.create_autospec(StreamingQuery, instance=True)
    query.recentProgress = [
        _progress_entry(0, 120),
        _progress_entry(1, 30),
        _progress_entry(1, 30),  # the same batch reported twice
        _progress_entry(2, 0),  # idle
    ]
    writer.start.return_value = query
    reader.table.return_value = stream
    reader.format.return_value = reader
    reader.load.return_value = stream
    return reader, writer, query


def test_run_stream_reads_the_table_available_now_through_foreach_batch(platform, clients):
    reader, writer, query = _stream_mocks(clients)
    clients.spark.catalog.tableExists.return_value = True

    def process(df, batch_id):
        raise AssertionError("Spark calls it, not the platform")

    progress = platform.run_stream("dev.s.trips", "/Volumes/dev/s/checkpoints/x", process)

    reader.table.assert_called_once_with("dev.s.trips")
    writer.foreachBatch.assert_called_once_with(process)
    writer.option.assert_called_once_with("checkpointLocation", "/Volumes/dev/s/checkpoints/x")
    writer.trigger.assert_called_once_with(availableNow=True)
    writer.start.assert_called_once_with()
    query.awaitTermination.assert_called_once_with()
    assert (progress.batches, progress.input_rows) == (2, 150)


def test_run_stream_of_a_delta_folder_and_of_a_missing_table(platform, clients):
    reader, _, _ = _stream_mocks(clients)
    platform.run_stream("/Volumes/dev/raw/trips", "/Volumes/dev/s/checkpoints/x", print)
    reader.format.assert_called_once_with("delta")
    reader.load.assert_called_once_with("/Volumes/dev/raw/trips")
    clients.spark.catalog.tableExists.return_value = False
    with pytest.raises(MissingInputError, match="input_table"):
        platform.run_stream("dev.s.missing", "/Volumes/dev/s/checkpoints/x", print)
    reader.table.assert_not_called()


def test_append_new_is_an_insert_only_merge_on_the_keys(platform, clients):
    clients.spark.catalog.tableExists.return_value = True
    df = _df()
    deduplicated = _df()
    df.dropDuplicates.return_value = deduplicated

    platform.append_new(df, "dev.s.inference_log", ["pickup_zip", "tpep_pickup_datetime"])

    df.dropDuplicates.assert_called_once_with(["pickup_zip", "tpep_pickup_datetime"])
    ((sql,), _) = clients.spark.sql.call_args
    assert sql.startswith("MERGE WITH SCHEMA EVOLUTION INTO `dev`.`s`.`inference_log` AS t")
    assert "t.`pickup_zip` <=> s.`pickup_zip` AND" in sql
    assert sql.endswith("WHEN NOT MATCHED THEN INSERT *")
    assert "WHEN MATCHED" not in sql
    clients.spark.catalog.dropTempView.assert_called_once()


def test_triggered_by_is_the_creator_of_the_job_run(platform, clients):
    clients.workspace.jobs.get_run.return_value = Run(run_id=77, creator_user_name="jane@x.com")
    assert platform.triggered_by("77") == "jane@x.com"
    clients.workspace.jobs.get_run.assert_called_once_with(77)
    clients.workspace.jobs.get_run.return_value = Run(run_id=78)
    with pytest.raises(ActionableError, match="names no creator for run 78"):
        platform.triggered_by("78")
    with pytest.raises(ActionableError, match="not a job run ID"):
        platform.triggered_by("")


# --- online feature store ----------------------------------------------------------------------
SOURCE, ONLINE = "dev.s.pickup_features", "dev.s.pickup_features_online"
STORE = OnlineStoreSpec("proj-online", "CU_1", timeout_minutes=1)
COMMITTED = datetime(2026, 1, 2, 3, 0, tzinfo=UTC)


def _sql(cdf_enabled: bool, version: int) -> Any:
    """``spark.sql`` of the online-store calls: table properties, history, ALTER TABLE."""

    def run(query: str, *args: Any, **kwargs: Any) -> Any:
        df = _df()
        if query.startswith("SHOW TBLPROPERTIES"):
            value = "true" if cdf_enabled else "false"
            df.collect.return_value = [{"key": "delta.enableChangeDataFeed", "value": value}]
        elif query.startswith("DESCRIBE HISTORY"):
            df.first.return_value = {"version": version, "timestamp": COMMITTED}
        return df

    return run


def _synced(version: int | None, state: SyncedTableState, **status: Any) -> SyncedDatabaseTable:
    last = None
    if version is not None:
        last = SyncedTablePosition(
            delta_table_sync_info=DeltaTableSyncInfo(
                delta_commit_version=version, delta_commit_timestamp="2026-01-01T03:00:00Z"
            ),
            sync_end_timestamp="2026-01-01T03:05:00Z",
        )
    return SyncedDatabaseTable(
        name=ONLINE,
        data_synchronization_status=SyncedTableStatus(
            detailed_state=state, last_sync=last, **status
        ),
    )


def _store(state: str) -> DatabricksOnlineStore:
    return DatabricksOnlineStore(
        name=STORE.name, capacity="CU_1", state=DatabricksOnlineStore.State[state]
    )


@pytest.fixture
def online(platform, clients):
    clients.workspace.database = mock.create_autospec(DatabaseAPI, instance=True)
    platform.poll_seconds = 0
    return clients


def test_publish_creates_the_store_once_enables_the_feed_and_waits_for_the_sync(platform, online):
    online.spark.sql.side_effect = _sql(cdf_enabled=False, version=7)
    online.fe.get_online_store.side_effect = [None, _store("AVAILABLE")]
    online.fe.create_online_store.return_value = _store("STARTING")
    online.workspace.database.get_synced_database_table.side_effect = [
        NotFound("no such table"),
        _synced(None, SyncedTableState.SYNCED_TABLE_PROVISIONING_INITIAL_SNAPSHOT),
        _synced(7, SyncedTableState.SYNCED_TABLE_ONLINE_NO_PENDING_UPDATE),
    ]
    result = platform.publish_online_table(SOURCE, ONLINE, STORE)
    assert (result.source_version, result.changed) == (7, True)
    online.fe.create_online_store.assert_called_once_with(name=STORE.name, capacity="CU_1")
    online.fe.publish_table.assert_called_once_with(
        online_store=_store("AVAILABLE"), source_table_name=SOURCE, online_table_name=ONLINE
    )
    queries = [c.args[0] for c in online.spark.sql.call_args_list]
    assert any(
        q.startswith("ALTER TABLE `dev`.`s`.`pickup_features` SET TBLPROPERTIES")
        and "delta.enableChangeDataFeed = true" in q
        for q in queries
    )


def test_publish_of_a_table_whose_online_copy_is_current_changes_nothing(platform, online):
    online.spark.sql.side_effect = _sql(cdf_enabled=True, version=7)
    online.workspace.database.get_synced_database_table.return_value = _synced(
        7, SyncedTableState.SYNCED_TABLE_ONLINE_NO_PENDING_UPDATE
    )
    result = platform.publish_online_table(SOURCE, ONLINE, STORE)
    assert (result.source_version, result.changed) == (7, False)
    online.fe.publish_table.assert_not_called()
    online.fe.get_online_store.assert_not_called()
    assert not any(c.args[0].startswith("ALTER") for c in online.spark.sql.call_args_list)


def test_a_failed_sync_names_the_table_and_its_pipeline(platform, online):
    online.spark.sql.side_effect = _sql(cdf_enabled=True, version=8)
    online.fe.get_online_store.return_value = _store("AVAILABLE")
    online.workspace.database.get_synced_database_table.side_effect = [
        _synced(7, SyncedTableState.SYNCED_TABLE_ONLINE_NO_PENDING_UPDATE),
        _synced(
            7,
            SyncedTableState.SYNCED_TABLE_ONLINE_PIPELINE_FAILED,
            pipeline_id="p-1",
            message="schema mismatch",
        ),
    ]
    failed = r"pickup_features_online did not sync version 8.*schema mismatch.*p-1"
    with pytest.raises(OnlineStoreError, match=failed):
        platform.publish_online_table(SOURCE, ONLINE, STORE)
    online.fe.create_online_store.assert_not_called()


def test_a_stopped_online_store_is_a_clear_error(platform, online):
    online.spark.sql.side_effect = _sql(cdf_enabled=True, version=1)
    online.workspace.database.get_synced_database_table.side_effect = NotFound("none")
    online.fe.get_online_store.return_value = _store("STOPPED")
    with pytest.raises(OnlineStoreError, match="proj-online is STOPPED"):
        platform.publish_online_table(SOURCE, ONLINE, STORE)
    online.fe.publish_table.assert_not_called()


def test_freshness_compares_the_synced_version_with_the_table(platform, online):
    online.spark.sql.side_effect = _sql(cdf_enabled=True, version=9)
    online.workspace.database.get_synced_database_table.return_value = _synced(
        7, SyncedTableState.SYNCED_TABLE_ONLINE_NO_PENDING_UPDATE
    )
    fresh = platform.online_freshness(SOURCE, ONLINE)
    assert (fresh.offline_version, fresh.online_version, fresh.versions_behind) == (9, 7, 2)
    assert fresh.lag_seconds == 24 * 3600
    assert fresh.synced_at == datetime(2026, 1, 1, 3, 5, tzinfo=UTC)


def test_a_never_published_table_is_missing_online(platform, online):
    online.workspace.database.get_synced_database_table.side_effect = [
        NotFound("none"),
        _synced(1, SyncedTableState.SYNCED_TABLE_ONLINE),
    ]
    assert platform.missing_online_tables([ONLINE, "dev.s.dropoff_features_online"]) == [ONLINE]
