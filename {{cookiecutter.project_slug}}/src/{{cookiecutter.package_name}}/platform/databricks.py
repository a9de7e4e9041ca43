"""Databricks implementation: Unity Catalog tables, Feature Engineering, UC model registry."""

from __future__ import annotations

import logging
import tempfile
import uuid
from collections.abc import Callable, Sequence
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import mlflow
import numpy as np
from mlflow import MlflowClient

from ..errors import ActionableError, MissingInputError
from .base import (
    BatchFunction,
    FeatureLookupSpec,
    Platform,
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
            ServedEntityInput,
            ServingEndpointAccessControlRequest,
            ServingEndpointPermissionLevel,
        )

        api = self.workspace.serving_endpoints
        timeout = timedelta(minutes=spec.timeout_minutes)
        entity = ServedEntityInput(
            entity_name=spec.model_name,
            entity_version=str(spec.model_version),
            workload_size="Small",
            scale_to_zero_enabled=True,
        )
        try:
            api.get(spec.endpoint_name)
            exists = True
        except NotFound:
            exists = False
        try:
            if exists:
                # A previous update still in progress would make update_config fail.
                api.wait_get_serving_endpoint_not_updating(spec.endpoint_name, timeout=timeout)
                endpoint = api.update_config(spec.endpoint_name, served_entities=[entity]).result(
                    timeout=timeout
                )
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
                        name=spec.endpoint_name, served_entities=[entity]
                    ),
                    ai_gateway=gateway,
                    tags=[EndpointTag(key="model", value=spec.model_name)],
                ).result(timeout=timeout)
        except (OperationFailed, TimeoutError) as exc:
            raise ServingEndpointError(
                f"serving endpoint {spec.endpoint_name} did not become ready with "
                f"{spec.model_name} version {spec.model_version} within "
                f"{spec.timeout_minutes} minutes ({type(exc).__name__}: {exc}); the champion "
                "alias did not move: see the endpoint's events and build logs under Serving"
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
        log.info(
            "serving endpoint %s serves %s version %s",
            spec.endpoint_name,
            spec.model_name,
            spec.model_version,
        )
