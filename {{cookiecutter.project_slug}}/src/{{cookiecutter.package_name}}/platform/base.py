"""The platform seam: everything that differs between a laptop and a Databricks workspace."""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from ..errors import ActionableError

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd
    from mlflow import MlflowClient
    from pyspark.sql import DataFrame, SparkSession


@dataclass(frozen=True)
class FeatureLookupSpec:
    """A feature-table lookup: join ``table_name`` on ``lookup_key`` as of a timestamp column."""

    table_name: str
    lookup_key: list[str]
    timestamp_lookup_key: str
    feature_names: list[str] | None = None
    rename_outputs: dict[str, str] | None = None


@dataclass(frozen=True)
class RegisteredVersion:
    """A model version created by :meth:`Platform.log_model`."""

    model_uri: str
    version: str


TABLE_NAME = re.compile(r"`?[\w-]+`?\.`?[\w-]+`?\.`?[\w-]+`?")


def is_table_name(source: str) -> bool:
    """Whether ``source`` is a three-part table name ``catalog.schema.table`` (not a path)."""
    return bool(TABLE_NAME.fullmatch(source.strip()))


@dataclass(frozen=True)
class ServingSpec:
    """What the deploy task makes the serving endpoint serve, and who may query it.

    The deploy task owns the endpoint (it creates it on the first promotion): a later
    ``bundle deploy`` never reverts what it serves. ``inference_table`` is ``catalog.schema``
    for the AI Gateway inference table that logs requests and responses.

    With a ``canary_version`` the endpoint serves two entities: ``model_version`` takes
    ``100 - canary_percent`` percent of the requests and ``canary_version`` the rest.
    """

    endpoint_name: str
    model_name: str
    model_version: str
    query_group: str = ""
    inference_table: str = ""
    timeout_minutes: int = 30
    # Online tables the model looks its features up in: each must be published first.
    online_tables: tuple[str, ...] = ()
    canary_version: str = ""
    canary_percent: int = 0

    def routes(self) -> list[tuple[str, int]]:
        """Each served version with its share of the traffic in percent (summing to 100)."""
        if not self.canary_version or self.canary_version == self.model_version:
            return [(str(self.model_version), 100)]
        if not 0 < self.canary_percent < 100:
            raise ValueError(f"canary_percent must be between 1 and 99, got {self.canary_percent}")
        return [
            (str(self.model_version), 100 - self.canary_percent),
            (str(self.canary_version), self.canary_percent),
        ]

    def entity_name(self, version: str) -> str:
        """The served entity of ``version``: ``<model>-<version>``, as Databricks names it."""
        return f"{self.model_name.split('.')[-1]}-{version}"[-63:]

    @property
    def payload_table(self) -> str:
        """The AI Gateway inference table: ``<catalog>.<schema>.<endpoint>_payload``."""
        if not self.inference_table:
            raise ValueError(f"endpoint {self.endpoint_name} has no inference table schema")
        return f"{self.inference_table}.{self.endpoint_name.replace('-', '_')}_payload"

    @property
    def labels_table(self) -> str:
        """Where the true labels of requests arrive: ``<catalog>.<schema>.<endpoint>_labels``
        (``client_request_id`` and the label; written by the application, not by a job)."""
        return self.payload_table.removesuffix("_payload") + "_labels"


@dataclass(frozen=True)
class OnlineStoreSpec:
    """The online feature store that feature tables are published to (created if missing)."""

    name: str
    capacity: str = "CU_1"
    timeout_minutes: int = 30


@dataclass(frozen=True)
class PublishedTable:
    """A feature table's online copy after a publish: the offline Delta version it holds, and
    whether this publish changed it (``False``: it held that version already)."""

    source_table: str
    online_table: str
    source_version: int
    changed: bool


@dataclass(frozen=True)
class OnlineFreshness:
    """How far the online copy of a feature table lags behind the offline table.

    ``online_version`` is the offline Delta version the online copy was last synced from
    (``None``: never published); ``online_committed_at`` is when that version was committed.
    """

    source_table: str
    online_table: str
    offline_version: int
    offline_committed_at: datetime
    online_version: int | None
    online_committed_at: datetime | None
    synced_at: datetime | None

    @property
    def versions_behind(self) -> int | None:
        if self.online_version is None:
            return None
        return max(self.offline_version - self.online_version, 0)

    @property
    def lag_seconds(self) -> float | None:
        """Seconds between the newest offline commit and the one the online copy holds."""
        if self.online_committed_at is None:
            return None
        if self.versions_behind == 0:
            return 0.0
        return max((self.offline_committed_at - self.online_committed_at).total_seconds(), 0.0)


def feature_table_keys(primary_keys: Sequence[str], timestamp_key: str) -> list[str]:
    """The columns a feature table is merged on: its primary keys plus its timestamp key."""
    return [*primary_keys, timestamp_key] if timestamp_key not in primary_keys else [*primary_keys]


class ServingEndpointError(ActionableError, RuntimeError):
    """The serving endpoint did not become ready with the new model version."""


class OnlineStoreError(ActionableError, RuntimeError):
    """The online store or an online table did not become available."""


@dataclass(frozen=True)
class StreamProgress:
    """What one availableNow run of a stream processed: micro-batches and rows read."""

    batches: int
    input_rows: int


# The function a stream calls once per micro-batch: (rows of the batch, batch id).
BatchFunction = Callable[["DataFrame", int], None]


class MissingParameterError(ActionableError, ValueError):
    """A required notebook parameter was not passed."""


class TrainingSetHandle(Protocol):
    """A training set built from feature lookups (feature-joined on ``load_df``)."""

    def load_df(self) -> DataFrame: ...


def _caching_unsupported(exc: Exception) -> bool:
    """Serverless compute refuses ``cache``/``persist`` (NOT_SUPPORTED_WITH_SERVERLESS)."""
    text = str(exc).upper()
    return "NOT_SUPPORTED_WITH_SERVERLESS" in text or "PERSIST TABLE" in text


class Platform(ABC):
    """Tables, feature store, MLflow, widgets and task values, local or on Databricks."""

    spark: SparkSession

    # --- tables ---------------------------------------------------------------------------
    @abstractmethod
    def read_table(self, name: str) -> DataFrame:
        """Read the table ``catalog.schema.table``."""

    @abstractmethod
    def table_exists(self, name: str) -> bool:
        """Whether the table ``catalog.schema.table`` exists."""

    @abstractmethod
    def write_table(self, df: DataFrame, name: str, mode: str = "append") -> None:
        """Write ``df`` with ``mode`` ``append`` or ``overwrite`` (creating the table if needed)."""

    @abstractmethod
    def merge_table(self, df: DataFrame, name: str, keys: Sequence[str]) -> None:
        """Upsert ``df`` into the table on ``keys``, creating it if missing."""

    @abstractmethod
    def append_new(self, df: DataFrame, name: str, keys: Sequence[str]) -> None:
        """Insert the rows of ``df`` whose ``keys`` are not in the table yet (an insert-only
        merge, creating the table if missing): rows already there are never touched."""

    @abstractmethod
    def read_source(self, source: str) -> DataFrame:
        """Read the raw input: a table ``catalog.schema.table`` or a Delta folder path."""

    def current_user(self) -> str:
        """The identity this code runs as (a job's run_as; locally the login name)."""
        return str(self.spark.sql("SELECT current_user()").first()[0])

    @abstractmethod
    def run_stream(self, source: str, checkpoint: str, process: BatchFunction) -> StreamProgress:
        """Stream what the Delta ``source`` gained since ``checkpoint`` through ``process``, one
        micro-batch at a time, until everything available at the start is processed; then stop
        (Structured Streaming's ``availableNow`` trigger). ``checkpoint`` (a folder, on
        Databricks a ``/Volumes/...`` path) records the progress: a batch whose processing
        failed is given to ``process`` again on the next run, so ``process`` must be idempotent.
        ``process`` gets only the batch's rows and id: it must not hold the platform (Spark
        Connect ships it to the server), and builds what it needs from the batch's session."""

    def cache(self, df: DataFrame) -> DataFrame:
        """``df.cache()`` where the compute allows it (serverless compute does not: there the
        frame is returned as it is and recomputed when used again)."""
        try:
            return df.cache()
        except Exception as exc:  # Spark Connect raises its own error types
            if _caching_unsupported(exc):
                return df
            raise

    def uncache(self, df: DataFrame) -> None:
        """Release what :meth:`cache` kept (nothing on serverless)."""
        try:
            df.unpersist()
        except Exception as exc:
            if not _caching_unsupported(exc):
                raise

    # --- feature store --------------------------------------------------------------------
    @abstractmethod
    def write_feature_table(
        self,
        df: DataFrame,
        name: str,
        primary_keys: list[str],
        timestamp_key: str,
        description: str,
    ) -> None:
        """Create the feature table if needed and merge ``df`` into it."""

    @abstractmethod
    def create_training_set(
        self,
        df: DataFrame,
        lookups: list[FeatureLookupSpec],
        label: str,
        exclude_columns: list[str],
    ) -> TrainingSetHandle:
        """Join point-in-time features onto ``df`` (lazily, see ``load_df``)."""

    @abstractmethod
    def publish_online_table(
        self, source_table: str, online_table: str, store: OnlineStoreSpec
    ) -> PublishedTable:
        """Copy the latest row per primary key of the feature table ``source_table`` to
        ``online_table`` in the online store ``store`` (created if missing) and wait until the
        copy holds the table's current version. Idempotent: when it does already, nothing is
        written (``changed=False``)."""

    @abstractmethod
    def online_freshness(self, source_table: str, online_table: str) -> OnlineFreshness:
        """The offline table's newest version against the one its online copy holds."""

    @abstractmethod
    def missing_online_tables(self, online_tables: Sequence[str]) -> list[str]:
        """Those of ``online_tables`` that were never published."""

    # --- MLflow ---------------------------------------------------------------------------
    @abstractmethod
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
        """Log an sklearn model in the active run and register it as a new version."""

    @abstractmethod
    def score_batch(self, model_uri: str, df: DataFrame) -> DataFrame:
        """Add a ``prediction`` column; feature-store models look their features up first."""

    @abstractmethod
    def load_model_for_evaluation(self, model_uri: str) -> Callable[[pd.DataFrame], np.ndarray]:
        """A predict function for an already feature-joined pandas frame."""

    @abstractmethod
    def mlflow_client(self) -> MlflowClient:
        """An MLflow client bound to this platform's tracking server and registry."""

    @abstractmethod
    def set_experiment(self, name: str) -> None:
        """Make ``name`` the active MLflow experiment (creating it if needed)."""

    # --- job plumbing: notebook widgets and task values, through dbutils on both sides -------
    # (on a cluster the real ``dbutils``; locally the runner's stand-in with the same API)
    dbutils: Any

    def get_param(self, name: str, default: str | None = None) -> str:
        """Declare a text widget and return its value.

        The job passes every parameter (resources/*.yml is their one source), so a parameter
        without ``default`` is required: an empty value means the notebook was run by hand
        without filling its widget.
        """
        self.dbutils.widgets.text(name, default or "")
        value = self.dbutils.widgets.get(name)
        if default is None and not value.strip():
            raise MissingParameterError(
                f"parameter {name!r} is empty: run this notebook through its job "
                "(databricks bundle run <job>), or fill the widget when running it by hand"
            )
        return value

    def set_task_value(self, key: str, value: Any) -> None:
        """Publish a task value for downstream tasks."""
        self.dbutils.jobs.taskValues.set(key=key, value=value)

    def get_task_value(self, task_key: str, key: str, default: Any = None) -> Any:
        """Read a task value set by ``task_key`` in the same job run."""
        return self.dbutils.jobs.taskValues.get(
            taskKey=task_key, key=key, default=default, debugValue=default
        )

    @abstractmethod
    def triggered_by(self, job_run_id: str) -> str:
        """Who started the job run ``job_run_id`` (a person's user name), for audit records."""

    @abstractmethod
    def deploy_serving_endpoint(self, spec: ServingSpec) -> None:
        """Create or update the endpoint to serve ``spec.model_version``; wait until it is ready
        (raise :class:`ServingEndpointError` when it does not become ready)."""
