"""Databricks implementation: Unity Catalog tables, Feature Engineering, UC model registry."""

from __future__ import annotations

import logging
import tempfile
import time
import uuid
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import mlflow
import numpy as np
from mlflow import MlflowClient

from ..errors import ActionableError, MissingInputError
from .base import (
    BatchFunction,
    FeatureLookupSpec,
    OnlineFreshness,
    OnlineStoreError,
    OnlineStoreSpec,
    Platform,
    PublishedTable,
    RegisteredVersion,
    ServingEndpointError,
    ServingSpec,
    StreamProgress,
    TrainingSetHandle,
    feature_table_keys,
    is_table_name,
)

if TYPE_CHECKING:
    import pandas as pd
    from pyspark.sql import DataFrame, SparkSession

log = logging.getLogger(__name__)

UC_REGISTRY = "databricks-uc"
FE_LOADER_MODULE = "databricks.feature_store.mlflow_model"
FE_RAW_MODEL_DIR = "data/feature_store/raw_model"


def _progress(progress: Any, field: str) -> Any:
    """A field of a streaming progress entry: a ``StreamingQueryProgress`` property (in PySpark
    4 the object is also a dict, whose ``numInputRows`` key can be empty where the property adds
    up the sources), or the key of a plain dict (older PySpark)."""
    value = getattr(progress, field, None)
    return progress.get(field) if value is None and isinstance(progress, dict) else value


# Online store states worth waiting through (any other but AVAILABLE is an error), and the
# synced (online) table states that end a wait with an error.
STORE_WAITING = ("STARTING", "UPDATING", "STATE_UNSPECIFIED", "")
SYNC_FAILED = ("SYNCED_TABLE_OFFLINE_FAILED", "SYNCED_TABLE_ONLINE_PIPELINE_FAILED")


def _enum_name(value: Any) -> str:
    """The name of an enum member (the SDK's and the client's), or the text itself."""
    return str(getattr(value, "value", value) or "")


def _timestamp(text: str | None) -> datetime | None:
    """An RFC 3339 timestamp of the Databricks APIs, or ``None``."""
    return datetime.fromisoformat(text) if text else None


def _synced_position(synced: Any) -> tuple[int | None, datetime | None, datetime | None]:
    """Of a synced (online) table: the source Delta version it holds, that version's commit
    time, and when the sync that brought it finished (``None`` where it never synced)."""
    status = getattr(synced, "data_synchronization_status", None)
    last = getattr(status, "last_sync", None)
    info = getattr(last, "delta_table_sync_info", None)
    version = getattr(info, "delta_commit_version", None)
    return (
        None if version is None else int(version),
        _timestamp(getattr(info, "delta_commit_timestamp", None)),
        _timestamp(getattr(last, "sync_end_timestamp", None)),
    )


def _quote(name: str) -> str:
    """Backtick-quote each part of a (multi-part) identifier."""
    return ".".join(f"`{part.strip('`')}`" for part in name.split("."))


class DatabricksPlatform(Platform):
    """Runs on a Databricks cluster. Clients can be injected (tests) or are created lazily."""

    def __init__(
        self,
        spark: SparkSession,
        dbutils: Any,
        *,
        fe_client: Any = None,
        mlflow_client: MlflowClient | None = None,
        workspace_client: Any = None,
    ) -> None:
        self.spark = spark
        self.dbutils = dbutils
        self._fe = fe_client
        self._mlflow = mlflow_client
        self._workspace = workspace_client
        mlflow.set_registry_uri(UC_REGISTRY)

    @property
    def fe(self) -> Any:
        """The ``FeatureEngineeringClient`` (created on first use)."""
        if self._fe is None:
            from databricks.feature_engineering import FeatureEngineeringClient

            self._fe = FeatureEngineeringClient()
        return self._fe

    @property
    def workspace(self) -> Any:
        """The ``databricks.sdk.WorkspaceClient`` (created on first use)."""
        if self._workspace is None:
            from databricks.sdk import WorkspaceClient

            self._workspace = WorkspaceClient()
        return self._workspace

    # --- tables ---------------------------------------------------------------------------
    def read_table(self, name: str) -> DataFrame:
        return self.spark.table(name)

    def table_exists(self, name: str) -> bool:
        return bool(self.spark.catalog.tableExists(name))

    def write_table(self, df: DataFrame, name: str, mode: str = "append") -> None:
        if mode not in ("append", "overwrite"):
            raise ValueError(f"mode must be 'append' or 'overwrite', got {mode!r}")
        schema_option = "overwriteSchema" if mode == "overwrite" else "mergeSchema"
        df.write.format("delta").mode(mode).option(schema_option, "true").saveAsTable(name)

    def merge_table(self, df: DataFrame, name: str, keys: Sequence[str]) -> None:
        if not keys:
            raise ValueError("merge needs at least one key column")
        self._merge(df, name, keys, "WHEN MATCHED THEN UPDATE SET * WHEN NOT MATCHED THEN INSERT *")

    def append_new(self, df: DataFrame, name: str, keys: Sequence[str]) -> None:
        if not keys:
            raise ValueError("an insert-only merge needs at least one key column")
        self._merge(df, name, keys, "WHEN NOT MATCHED THEN INSERT *")

    def _merge(self, df: DataFrame, name: str, keys: Sequence[str], clauses: str) -> None:
        """SQL ``MERGE`` of ``df`` (one row per key) into ``name`` on ``keys`` (null-safe), with
        schema evolution; a missing table is created from ``df``."""
        if not self.table_exists(name):
            self.write_table(df, name, "overwrite")
            return
        view = f"merge_source_{uuid.uuid4().hex}"
        df.dropDuplicates(list(keys)).createOrReplaceTempView(view)
        condition = " AND ".join(f"t.`{k}` <=> s.`{k}`" for k in keys)
        try:
            self.spark.sql(
                f"MERGE WITH SCHEMA EVOLUTION INTO {_quote(name)} AS t "
                f"USING {view} AS s ON {condition} {clauses}"
            )
        finally:
            self.spark.catalog.dropTempView(view)

    def _require_source(self, source: str) -> None:
        if is_table_name(source) and not self.table_exists(source):
            raise MissingInputError(
                f"input table {source} does not exist or is not readable: set the bundle "
                "variable input_table to a table of raw trips"
            )

    def read_source(self, source: str) -> DataFrame:
        self._require_source(source)
        if is_table_name(source):
            return self.spark.table(source)
        return self.spark.read.format("delta").load(source)

    def run_stream(self, source: str, checkpoint: str, process: BatchFunction) -> StreamProgress:
        self._require_source(source)
        reader = self.spark.readStream
        stream = (
            reader.table(source) if is_table_name(source) else reader.format("delta").load(source)
        )
        query = (
            stream.writeStream.foreachBatch(process)
            .option("checkpointLocation", checkpoint)
            .trigger(availableNow=True)
            .start()
        )
        query.awaitTermination()
        # One progress entry per micro-batch (the last 100 are kept); idle entries read 0 rows.
        rows_by_batch = {
            _progress(p, "batchId"): int(_progress(p, "numInputRows") or 0)
            for p in query.recentProgress or []
        }
        batches = [rows for rows in rows_by_batch.values() if rows]
        return StreamProgress(len(batches), sum(batches))

    # --- feature store --------------------------------------------------------------------
    def write_feature_table(
        self,
        df: DataFrame,
        name: str,
        primary_keys: list[str],
        timestamp_key: str,
        description: str,
    ) -> None:
        keys = feature_table_keys(primary_keys, timestamp_key)
        if not self.table_exists(name):
            self.fe.create_table(
                name=name,
                primary_keys=keys,
                timeseries_column=timestamp_key,
                schema=df.schema,
                description=description,
            )
        self.fe.write_table(name=name, df=df, mode="merge")

    def create_training_set(
        self,
        df: DataFrame,
        lookups: list[FeatureLookupSpec],
        label: str,
        exclude_columns: list[str],
    ) -> TrainingSetHandle:
        from databricks.feature_engineering import FeatureLookup

        feature_lookups = [
            FeatureLookup(
                table_name=lk.table_name,
                lookup_key=list(lk.lookup_key),
                feature_names=lk.feature_names,
                rename_outputs=lk.rename_outputs,
                timestamp_lookup_key=lk.timestamp_lookup_key,
            )
            for lk in lookups
        ]
        return self.fe.create_training_set(
            df=df,
            feature_lookups=feature_lookups,
            label=label,
            exclude_columns=list(exclude_columns),
        )

    # --- online feature store -------------------------------------------------------------
    poll_seconds = 20.0

    def publish_online_table(
        self, source_table: str, online_table: str, store: OnlineStoreSpec
    ) -> PublishedTable:
        self._enable_change_data_feed(source_table)
        version, _ = self._offline_head(source_table)
        held, _, _ = _synced_position(self._synced(online_table))
        if held is not None and held >= version:
            log.info("%s already holds version %s of %s", online_table, held, source_table)
            return PublishedTable(source_table, online_table, held, changed=False)
        online_store = self._online_store(store)
        # TRIGGERED (the default): the first call creates the online table and its sync
        # pipeline, a later one syncs what the feature table gained since.
        self.fe.publish_table(
            online_store=online_store,
            source_table_name=source_table,
            online_table_name=online_table,
        )
        synced = self._wait_synced(online_table, version, store.timeout_minutes)
        return PublishedTable(source_table, online_table, synced, changed=True)

    def online_freshness(self, source_table: str, online_table: str) -> OnlineFreshness:
        version, committed_at = self._offline_head(source_table)
        held, held_at, synced_at = _synced_position(self._synced(online_table))
        return OnlineFreshness(
            source_table, online_table, version, committed_at, held, held_at, synced_at
        )

    def missing_online_tables(self, online_tables: Sequence[str]) -> list[str]:
        return [name for name in online_tables if self._synced(name) is None]

    def _enable_change_data_feed(self, table: str) -> None:
        """Publishing syncs from the change data feed: turn it on once (a property change is a
        commit, so an unchanged property is left alone)."""
        rows = self.spark.sql(
            f"SHOW TBLPROPERTIES {_quote(table)} ('delta.enableChangeDataFeed')"
        ).collect()
        if not rows or str(rows[0]["value"]).strip().lower() != "true":
            self.spark.sql(
                f"ALTER TABLE {_quote(table)} SET TBLPROPERTIES (delta.enableChangeDataFeed = true)"
            )

    def _offline_head(self, table: str) -> tuple[int, datetime]:
        """The newest Delta version of ``table`` and its commit time."""
        head = self.spark.sql(f"DESCRIBE HISTORY {_quote(table)} LIMIT 1").first()
        return int(head["version"]), head["timestamp"]

    def _synced(self, online_table: str) -> Any:
        """The online table (a Lakebase synced table), or ``None`` before its first publish."""
        from databricks.sdk.errors import NotFound

        try:
            return self.workspace.database.get_synced_database_table(online_table)
        except NotFound:
            return None

    def _online_store(self, store: OnlineStoreSpec) -> Any:
        """The online store, created with ``store.capacity`` if missing, once it is available."""
        online = self.fe.get_online_store(name=store.name)
        if online is None:
            log.info("creating online store %s (capacity %s)", store.name, store.capacity)
            online = self.fe.create_online_store(name=store.name, capacity=store.capacity)
        deadline = time.monotonic() + store.timeout_minutes * 60
        while (state := _enum_name(online.state)) != "AVAILABLE":
            if state not in STORE_WAITING:
                raise OnlineStoreError(
                    f"online store {store.name} is {state}: start it (Compute > Lakebase) or "
                    "set the bundle variable online_store_name to an available one"
                )
            if time.monotonic() > deadline:
                raise OnlineStoreError(
                    f"online store {store.name} is still {state} after "
                    f"{store.timeout_minutes} minutes: see its status under Compute > Lakebase"
                )
            time.sleep(self.poll_seconds)
            online = self.fe.get_online_store(name=store.name)
            if online is None:
                raise OnlineStoreError(f"online store {store.name} was deleted while starting")
        return online

    def _wait_synced(self, online_table: str, version: int, timeout_minutes: int) -> int:
        """Wait until ``online_table`` holds source version ``version`` (or a newer one)."""
        deadline = time.monotonic() + timeout_minutes * 60
        while True:
            synced = self._synced(online_table)
            held, _, _ = _synced_position(synced)
            if held is not None and held >= version:
                return held
            status = getattr(synced, "data_synchronization_status", None)
            state = _enum_name(getattr(status, "detailed_state", None))
            if state in SYNC_FAILED or time.monotonic() > deadline:
                message = getattr(status, "message", None) or "no message"
                raise OnlineStoreError(
                    f"online table {online_table} did not sync version {version} "
                    f"(state {state or 'unknown'}: {message}); see its sync pipeline "
                    f"({getattr(status, 'pipeline_id', None) or 'not created'}) in the workspace"
                )
            time.sleep(self.poll_seconds)

    # --- MLflow ---------------------------------------------------------------------------
    def log_model(
        self,
        model: Any,
        *,
        name: str,
        registered_model_name: str,
        training_set: TrainingSetHandle | None,
        signature: Any,
        input_example: Any,
        pip_requirements: list[str],
    ) -> RegisteredVersion:
        if training_set is None:
            info = mlflow.sklearn.log_model(
                model,
                name=name,
                registered_model_name=registered_model_name,
                signature=signature,
                input_example=input_example,
                pip_requirements=pip_requirements,
            )
        else:
            # Feature-store models infer their signature from the training set's features. The
            # client takes ``artifact_path`` (MLflow 3's own log_model calls it ``name``).
            info = self.fe.log_model(
                model=model,
                artifact_path=name,
                flavor=mlflow.sklearn,
                training_set=training_set,
                registered_model_name=registered_model_name,
                infer_input_example=True,
                extra_pip_requirements=pip_requirements,
            )
        version = getattr(info, "registered_model_version", None) or self._latest_version(
            registered_model_name
        )
        return RegisteredVersion(
            model_uri=f"models:/{registered_model_name}/{version}", version=str(version)
        )

    def _latest_version(self, model_name: str) -> str:
        """The version of ``model_name`` the active run registered (FE registers separately).

        Searched by run: Unity Catalog accepts one filter condition (``name`` or ``run_id``) and
        pages its results, so a search by name can miss the new version of a model with many
        versions. Without an active run, the newest version of the model.
        """
        client = self.mlflow_client()
        run = mlflow.active_run()
        if run is None:
            versions = list(client.search_model_versions(f"name = '{model_name}'"))
        else:
            found = client.search_model_versions(f"run_id = '{run.info.run_id}'")
            versions = [v for v in found if v.name == model_name]
        if not versions:
            raise LookupError(f"no registered version of {model_name} found")
        return str(max(int(v.version) for v in versions))

    def _is_feature_store_model(self, model_uri: str) -> bool:
        flavors = mlflow.models.get_model_info(model_uri).flavors
        return flavors.get("python_function", {}).get("loader_module") == FE_LOADER_MODULE

    def score_batch(self, model_uri: str, df: DataFrame) -> DataFrame:
        if self._is_feature_store_model(model_uri):
            return self.fe.score_batch(model_uri=model_uri, df=df, result_type="double")
        from pyspark.sql import functions as sf

        predict = mlflow.pyfunc.spark_udf(
            self.spark, model_uri, env_manager="local", result_type="double"
        )
        info = mlflow.models.get_model_info(model_uri)
        columns = (
            info.signature.inputs.input_names()
            if info.signature and info.signature.inputs
            else df.columns
        )
        return df.withColumn("prediction", predict(sf.struct(*[sf.col(c) for c in columns])))

    def load_model_for_evaluation(self, model_uri: str) -> Callable[[pd.DataFrame], np.ndarray]:
        if self._is_feature_store_model(model_uri):
            local = mlflow.artifacts.download_artifacts(
                artifact_uri=model_uri, dst_path=tempfile.mkdtemp()
            )
            model = mlflow.pyfunc.load_model(str(Path(local) / FE_RAW_MODEL_DIR))
        else:
            model = mlflow.pyfunc.load_model(model_uri)

        def predict(pdf: pd.DataFrame) -> np.ndarray:
            return np.asarray(model.predict(pdf), dtype=float).reshape(-1)

        return predict

    def mlflow_client(self) -> MlflowClient:
        if self._mlflow is None:
            self._mlflow = MlflowClient(registry_uri=UC_REGISTRY)
        return self._mlflow

    def set_experiment(self, name: str) -> None:
        mlflow.set_experiment(name)

    def triggered_by(self, job_run_id: str) -> str:
        """The run's creator as the Jobs API reports it: whoever pressed *Run now* (or called
        run-now). The job's owner, its run_as identity in every target, may read its runs."""
        if not str(job_run_id).strip().isdigit():
            raise ActionableError(
                f"job_run_id {job_run_id!r} is not a job run ID: run this notebook through its "
                "job (the job passes its own run ID)"
            )
        run = self.workspace.jobs.get_run(int(job_run_id))
        if not run.creator_user_name:
            raise ActionableError(
                f"the Jobs API names no creator for run {job_run_id}: start the run as a "
                "person (Run now, or databricks bundle run) so the decision has an author"
            )
        return run.creator_user_name

    def deploy_serving_endpoint(self, spec: ServingSpec) -> None:
        from databricks.sdk.errors import NotFound, OperationFailed
        from databricks.sdk.service.serving import (
            AiGatewayConfig,
            AiGatewayInferenceTableConfig,
            EndpointCoreConfigInput,
            EndpointTag,
            Route,
            ServedEntityInput,
            ServingEndpointAccessControlRequest,
            ServingEndpointPermissionLevel,
            TrafficConfig,
        )

        api = self.workspace.serving_endpoints
        timeout = timedelta(minutes=spec.timeout_minutes)
        routes = spec.routes()
        entities = [
            ServedEntityInput(
                name=spec.entity_name(version),
                entity_name=spec.model_name,
                entity_version=version,
                workload_size="Small",
                scale_to_zero_enabled=True,
            )
            for version, _ in routes
        ]
        traffic = TrafficConfig(
            routes=[
                Route(served_entity_name=spec.entity_name(version), traffic_percentage=share)
                for version, share in routes
            ]
        )
        serves = ", ".join(f"v{version} {share}%" for version, share in routes)
        try:
            api.get(spec.endpoint_name)
            exists = True
        except NotFound:
            exists = False
        try:
            if exists:
                # A previous update still in progress would make update_config fail.
                api.wait_get_serving_endpoint_not_updating(spec.endpoint_name, timeout=timeout)
                endpoint = api.update_config(
                    spec.endpoint_name, served_entities=entities, traffic_config=traffic
                ).result(timeout=timeout)
            else:
                gateway = None
                if spec.inference_table:
                    catalog, schema = spec.inference_table.split(".", 1)
                    gateway = AiGatewayConfig(
                        inference_table_config=AiGatewayInferenceTableConfig(
                            catalog_name=catalog,
                            schema_name=schema,
                            table_name_prefix=spec.endpoint_name.replace("-", "_"),
                            enabled=True,
                        )
                    )
                endpoint = api.create(
                    spec.endpoint_name,
                    config=EndpointCoreConfigInput(
                        name=spec.endpoint_name, served_entities=entities, traffic_config=traffic
                    ),
                    ai_gateway=gateway,
                    tags=[EndpointTag(key="model", value=spec.model_name)],
                ).result(timeout=timeout)
        except (OperationFailed, TimeoutError) as exc:
            raise ServingEndpointError(
                f"serving endpoint {spec.endpoint_name} did not become ready with "
                f"{spec.model_name} {serves} within {spec.timeout_minutes} minutes "
                f"({type(exc).__name__}: {exc}); the champion alias did not move: see the "
                "endpoint's events and build logs under Serving"
            ) from exc
        if spec.query_group and endpoint.id:
            api.update_permissions(
                endpoint.id,
                access_control_list=[
                    ServingEndpointAccessControlRequest(
                        group_name=spec.query_group,
                        permission_level=ServingEndpointPermissionLevel.CAN_QUERY,
                    )
                ],
            )
        log.info("serving endpoint %s serves %s %s", spec.endpoint_name, spec.model_name, serves)
