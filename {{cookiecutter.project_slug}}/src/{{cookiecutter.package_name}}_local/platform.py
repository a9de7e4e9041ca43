"""Local implementation of the platform: delta-rs tables, SQLite MLflow, in-process Spark."""

from __future__ import annotations

import functools
import json
import logging
import re
import shutil
import sqlite3
import tempfile
import threading
from collections.abc import Callable, Sequence
from contextlib import closing
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

import mlflow
import numpy as np
import pyarrow as pa
from mlflow import MlflowClient

from {{ cookiecutter.package_name }}.platform.base import (
    BatchFunction,
    FeatureLookupSpec,
    OnlineFreshness,
    OnlineStoreSpec,
    Platform,
    PublishedTable,
    RegisteredVersion,
    ServingSpec,
    StreamProgress,
    TrainingSetHandle,
    feature_table_keys,
)

from .delta_store import SEEDED_COMMIT, DeltaStore
from .feature_lookups import LocalTrainingSet, lookups_from_metadata, lookups_to_metadata
from .online_store import LocalOnlineStore, PublishedVersion, online_stores
from .runner.bundle import current_user
from .serverless import as_shipped, rules_enforced
from .state import find_project_root, local_source_path, prepare_state, state_dir
from .streaming import LocalDeltaStream

__all__ = [
    "LocalPlatform",
    "configure_local_mlflow",
    "empty_mlflow_db",
    "find_project_root",
    "generate_sample",
    "local_file_path",
    "local_source_path",
    "prepare_state",
    "state_dir",
    "write_local_source",
]

if TYPE_CHECKING:
    import pandas as pd
    from pyspark.sql import DataFrame, SparkSession

log = logging.getLogger(__name__)

FEATURE_LOOKUPS_KEY = "feature_lookups"


def configure_local_mlflow(state: Path) -> str:
    """Point MLflow tracking and registry at ``<state>/mlflow.db``; return the URI."""
    prepare_state(state)
    database = state / "mlflow.db"
    if not database.exists():
        shutil.copyfile(empty_mlflow_db(), database)
        # The Default experiment must keep its artifacts under this state folder.
        with closing(sqlite3.connect(database)) as conn, conn:
            location = (state / "mlartifacts").as_uri()
            conn.execute(
                "UPDATE experiments SET artifact_location = ? WHERE experiment_id = 0", [location]
            )
    uri = f"sqlite:///{database}"
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    return uri


_EMPTY_DB_LOCK = threading.Lock()


@functools.cache
def _migrated_empty_db() -> Path:
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

    folder = Path(tempfile.mkdtemp(prefix="mlflow-empty-"))
    store = SqlAlchemyStore(f"sqlite:///{folder / 'mlflow.db'}", (folder / "artifacts").as_uri())
    store.engine.dispose()
    return folder / "mlflow.db"


def empty_mlflow_db() -> Path:
    """A freshly migrated MLflow database, made once per process (migrations take seconds; the
    warm-up thread may be making it already)."""
    from .quiet import quiet_libraries

    quiet_libraries()  # whoever imported MLflow first, its migrations log at INFO otherwise
    with _EMPTY_DB_LOCK:
        return _migrated_empty_db()


class LocalPlatform(Platform):
    """Runs everything on this machine; state lives under :func:`state_dir`."""

    def __init__(self, spark: SparkSession, dbutils: Any = None, state: Path | None = None) -> None:
        if dbutils is None:
            from .runner.dbutils import LocalDbutils

            dbutils = LocalDbutils()
        self.spark = spark
        self.dbutils = dbutils
        self.state = prepare_state((state or state_dir()).resolve())
        self.store = DeltaStore(self.state / "warehouse")
        self.mlflow_uri = f"sqlite:///{self.state / 'mlflow.db'}"
        mlflow.set_tracking_uri(self.mlflow_uri)
        mlflow.set_registry_uri(self.mlflow_uri)
        self._mlflow_ready = False

    def _mlflow(self) -> str:
        """Create the MLflow database on first use (it takes a few seconds)."""
        if not self._mlflow_ready:
            configure_local_mlflow(self.state)
            self._mlflow_ready = True
        return self.mlflow_uri

    # --- tables ---------------------------------------------------------------------------
    def _to_spark(self, data: pa.Table) -> DataFrame:
        return self.spark.createDataFrame(data)

    def read_table(self, name: str) -> DataFrame:
        return self._to_spark(self.store.read_at(self.store.path(name)))

    def table_exists(self, name: str) -> bool:
        return self.store.exists(name)

    def write_table(self, df: DataFrame, name: str, mode: str = "append") -> None:
        self.store.write_at(self.store.path(name), df.toArrow(), mode)

    def merge_table(self, df: DataFrame, name: str, keys: Sequence[str]) -> None:
        self.store.merge_at(self.store.path(name), df.toArrow(), list(keys))

    def append_new(self, df: DataFrame, name: str, keys: Sequence[str]) -> None:
        self.store.insert_new_at(self.store.path(name), df.toArrow(), list(keys))

    def source_path(self, source: str) -> Path:
        """Where the raw input ``source`` (a table name or a path) lives locally."""
        return local_source_path(self.state, source)

    def _existing_source(self, source: str) -> Path:
        """The local folder of ``source``, filled with the seeded sample on first use."""
        target = self.source_path(source)
        if not self.store.exists_at(target):
            print(f"[local] no data for {source} yet: generating the seeded sample trips")
            seed_local_source(self.state, source)
        return target

    def read_source(self, source: str) -> DataFrame:
        return self._to_spark(self.store.read_at(self._existing_source(source)))

    def file_path(self, path: str) -> Path:
        """Where a workspace file path lives locally: ``/Volumes/<catalog>/<schema>/<volume>/..``
        under ``<state>/volumes``, any other path under ``<state>/files``."""
        return local_file_path(self.state, path)

    def run_stream(self, source: str, checkpoint: str, process: BatchFunction) -> StreamProgress:
        if rules_enforced():  # a serverless task: pickled, in its own copy, as Connect ships it
            process = as_shipped(process)
        stream = LocalDeltaStream(self._existing_source(source), self.file_path(checkpoint))
        batches = rows = 0
        for batch in stream.pending():
            process(self._to_spark(batch.rows), batch.batch_id)
            stream.commit(batch.version, batch.batch_id)
            batches += 1
            rows += batch.rows.num_rows
        return StreamProgress(batches, rows)

    def write_source(self, source: str, pdf: pd.DataFrame, mode: str = "append") -> Path:
        """Write (or append) a pandas frame as the raw input ``source``; return its folder."""
        return write_local_source(self.state, source, pdf, mode)

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
        self.merge_table(df, name, keys)
        self.store.write_meta(
            name,
            {
                "primary_keys": [k for k in primary_keys if k != timestamp_key],
                "timestamp_key": timestamp_key,
                "description": description,
            },
        )

    def feature_table_meta(self, name: str) -> dict[str, Any]:
        """Primary keys, timestamp key and description of a local feature table."""
        return self.store.read_meta(name)

    def create_training_set(
        self,
        df: DataFrame,
        lookups: list[FeatureLookupSpec],
        label: str,
        exclude_columns: list[str],
    ) -> TrainingSetHandle:
        return LocalTrainingSet(self, df, list(lookups), label, list(exclude_columns))

    # --- online feature store -------------------------------------------------------------
    def online_store(self, name: str) -> LocalOnlineStore:
        """The local online store ``name`` (``<state>/online/<name>.db``)."""
        return LocalOnlineStore.named(self.state, name)

    def publish_online_table(
        self, source_table: str, online_table: str, store: OnlineStoreSpec
    ) -> PublishedTable:
        meta = self.feature_table_meta(source_table)
        version, committed_at = self.store.head(source_table)
        changed = self.online_store(store.name).publish(
            online_table,
            source_table=source_table,
            rows=self.store.read_at(self.store.path(source_table)),
            primary_keys=meta["primary_keys"],
            timestamp_key=meta["timestamp_key"],
            version=version,
            committed_at=committed_at,
        )
        return PublishedTable(source_table, online_table, version, changed)

    def _published(self, online_table: str) -> PublishedVersion | None:
        for store in online_stores(self.state):
            held = store.published(online_table)
            if held is not None:
                return held
        return None

    def online_freshness(self, source_table: str, online_table: str) -> OnlineFreshness:
        version, committed_at = self.store.head(source_table)
        held = self._published(online_table)
        return OnlineFreshness(
            source_table,
            online_table,
            version,
            committed_at,
            None if held is None else held.version,
            None if held is None else held.committed_at,
            None if held is None else held.synced_at,
        )

    def missing_online_tables(self, online_tables: Sequence[str]) -> list[str]:
        return [name for name in online_tables if self._published(name) is None]

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
        self._mlflow()
        metadata = None
        if training_set is not None:
            if not isinstance(training_set, LocalTrainingSet):
                raise TypeError(
                    "the local platform needs a training set from its own create_training_set"
                )
            metadata = {FEATURE_LOOKUPS_KEY: json.dumps(lookups_to_metadata(training_set))}
            mlflow.log_dict(
                {
                    "lookups": [asdict(lk) for lk in training_set.lookups],
                    "label": training_set.label,
                },
                f"{name}_feature_spec.json",
            )
        info = mlflow.sklearn.log_model(
            model,
            name=name,
            registered_model_name=registered_model_name,
            signature=signature,
            input_example=input_example,
            pip_requirements=pip_requirements,
            metadata=metadata,
            # What Databricks uses; skops (the local default) rejects e.g. gradient-boosted trees.
            serialization_format=mlflow.sklearn.SERIALIZATION_FORMAT_CLOUDPICKLE,
        )
        version = str(info.registered_model_version)
        return RegisteredVersion(
            model_uri=f"models:/{registered_model_name}/{version}", version=version
        )

    def score_batch(self, model_uri: str, df: DataFrame) -> DataFrame:
        from pyspark.sql import functions as sf

        self._mlflow()
        info = mlflow.models.get_model_info(model_uri)
        spec = (info.metadata or {}).get(FEATURE_LOOKUPS_KEY)
        features = (
            LocalTrainingSet.from_metadata(self, df, lookups_from_metadata(spec)).load_df()
            if spec
            else df
        )
        if info.signature is None or info.signature.inputs is None:
            raise ValueError(
                f"{model_uri} has no input signature: log it with one to score it in Spark"
            )
        inputs = info.signature.inputs.input_names()
        missing = [c for c in inputs if c not in features.columns]
        if missing:
            raise ValueError(
                f"columns {missing} needed by {model_uri} are missing from the scoring data"
            )
        predict = mlflow.pyfunc.spark_udf(
            self.spark, _stored_model_uri(model_uri), env_manager="local", result_type="double"
        )
        return features.withColumn("prediction", predict(sf.struct(*[sf.col(c) for c in inputs])))

    def load_model_for_evaluation(self, model_uri: str) -> Callable[[pd.DataFrame], np.ndarray]:
        self._mlflow()
        model = mlflow.pyfunc.load_model(model_uri)

        def predict(pdf: pd.DataFrame) -> np.ndarray:
            return np.asarray(model.predict(pdf), dtype=float).reshape(-1)

        return predict

    def mlflow_client(self) -> MlflowClient:
        uri = self._mlflow()
        return MlflowClient(tracking_uri=uri, registry_uri=uri)

    def set_experiment(self, name: str) -> None:
        """Create the experiment on first use, as the deploy creates the bundle's; a deleted
        one holding the name is moved aside (``trash_experiment``), as deleting frees it."""
        client = self.mlflow_client()
        found = client.get_experiment_by_name(name)
        if found is not None and found.lifecycle_stage == "deleted":
            trash_experiment(client, found)
            found = None
        if found is None:
            slug = re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("_") or "experiment"
            client.create_experiment(
                name, artifact_location=(self.state / "mlartifacts" / slug).as_uri()
            )
        mlflow.set_experiment(name)

    def triggered_by(self, job_run_id: str) -> str:
        """Locally, runs are started by the user of this machine (``DATABRICKS_USER`` or the
        login name, as ``${workspace.current_user.userName}`` resolves)."""
        return current_user()

    def deploy_serving_endpoint(self, spec: ServingSpec) -> None:
{%- if cookiecutter.include_serving == "yes" %}
        """Record the endpoint's served entities and traffic split in
        ``<state>/serving/<name>.json``, which ``serve`` serves (see :mod:`.endpoint`)."""
        from .endpoint import record_endpoint  # it imports online_serving, which imports this

        record = record_endpoint(self.state, spec)
        print(
            f"[local] serving endpoint {spec.endpoint_name!r} -> {spec.model_name} "
            f"{record.describe()} (recorded in {record.path(self.state, spec.endpoint_name)})"
        )
{%- else %}
        """No endpoint locally: record what it would serve in ``<state>/serving/<name>.json``."""
        target = self.state / "serving" / f"{spec.endpoint_name}.json"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(asdict(spec), indent=2, sort_keys=True))
        print(
            f"[local] serving endpoint {spec.endpoint_name!r} -> {spec.model_name} "
            f"v{spec.model_version} (recorded in {target})"
        )
{%- endif %}


def _stored_model_uri(model_uri: str) -> str:
    """Where a ``models:/`` version's files are stored (a ``file://`` URI in the state folder).

    On Spark Connect, MLflow's Spark UDF loads the model in the server's Python workers and
    caches it there by URI: a registry URI such as ``models:/m/1`` names another model in each
    local state folder (each test has its own), so the workers get the stored files' URI.
    """
    from mlflow.store.artifact.models_artifact_repo import ModelsArtifactRepository

    if not model_uri.startswith("models:/"):
        return model_uri
    return ModelsArtifactRepository.get_underlying_uri(model_uri)


def local_file_path(state: Path, path: str) -> Path:
    """The local folder standing in for a workspace file path (see LocalPlatform.file_path)."""
    relative = re.sub(r"^(dbfs:)?/+", "", path.strip())
    parts = Path(relative).parts
    if not relative or ".." in parts:
        raise ValueError(f"invalid path {path!r}: expected an absolute workspace path")
    if parts[0] == "Volumes":
        return state.joinpath("volumes", *parts[1:])
    return state.joinpath("files", *parts)


def trash_experiment(client: MlflowClient, experiment: Any) -> None:
    """Delete ``experiment`` as ``<name> (deleted, id N)``. MLflow keeps a deleted experiment's
    name, and so refuses to create or set one of that name; the workspace frees it."""
    experiment_id = experiment.experiment_id
    if experiment.lifecycle_stage == "deleted":
        client.restore_experiment(experiment_id)  # only an active experiment can be renamed
    client.rename_experiment(experiment_id, f"{experiment.name} (deleted, id {experiment_id})")
    client.delete_experiment(experiment_id)


def write_local_source(
    state: Path,
    source: str,
    pdf: pd.DataFrame,
    mode: str = "append",
    commit_info: dict[str, str] | None = None,
) -> Path:
    """Write or append ``pdf`` as the local raw input ``source`` (no Spark needed)."""
    target = local_source_path(prepare_state(state), source)
    DeltaStore(state / "warehouse").write_at(
        target, pa.Table.from_pandas(pdf, preserve_index=False), mode, commit_info
    )
    return target


def seed_local_source(state: Path, source: str) -> Path:
    """Lay down the default sample as ``source``, marked as a stand-in for a table that exists
    on Databricks before any job runs: its creation does not fire a table update trigger."""
    return write_local_source(state, source, generate_sample(), "overwrite", SEEDED_COMMIT)


def generate_sample(
    start: str | None = None,
    end: str | None = None,
    n_rows: int | None = None,
    seed: int | None = None,
    drift: bool = False,
) -> pd.DataFrame:
    """Seeded synthetic trips; unset arguments take the generator's defaults (Jan-Feb 2016)."""
    from . import sample

    return sample.generate_trips(
        start=start or sample.DEFAULT_START,
        end=end or sample.DEFAULT_END,
        n_rows=n_rows or sample.DEFAULT_ROWS,
        seed=sample.DEFAULT_SEED if seed is None else seed,
        drift=drift,
    )
