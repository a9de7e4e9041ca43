"""DatabricksPlatform on this project's own local session: Spark Connect in a serverless
project, as serverless compute runs it (classic Spark for job clusters). Where Databricks' own
services are not needed, its code path runs for real: MLflow's Spark UDF scores, and a stream
hands its micro-batches to foreachBatch (on Spark Connect, pickled into a Python process of the
server's). Local Spark has no Delta, so the stream reads a Parquet table.
"""

from __future__ import annotations

import functools
import sys
import threading
import uuid
from unittest import mock

import mlflow
import numpy as np
import pandas as pd
import pytest
from databricks.feature_engineering import FeatureEngineeringClient
from mlflow.models import infer_signature
from pyspark import cloudpickle
from pyspark.errors import PySparkPicklingError
from pyspark.sql import DataFrame
from pyspark.sql import functions as F  # noqa: N812
from sklearn.linear_model import LinearRegression

from {{ cookiecutter.package_name }}.platform.databricks import DatabricksPlatform
from {{ cookiecutter.package_name }}_local.runner.dbutils import LocalDbutils
from {{ cookiecutter.package_name }}_local.spark import is_connect


@pytest.fixture
def databricks_platform(spark, local_platform, monkeypatch):
    """The Databricks platform on the local session; MLflow stays on the local store."""
    local_platform.set_experiment("databricks-platform-on-spark")  # in the local store
    monkeypatch.setattr(mlflow, "set_registry_uri", mock.Mock())
    return DatabricksPlatform(
        spark,
        LocalDbutils(),
        fe_client=mock.create_autospec(FeatureEngineeringClient, instance=True),
    )


def test_score_batch_runs_mlflows_spark_udf_on_this_session(databricks_platform, spark):
    rng = np.random.default_rng(3)
    features = pd.DataFrame({"distance": rng.uniform(0, 10, 200), "hour": rng.integers(0, 24, 200)})
    features["hour"] = features["hour"].astype(float)
    model = LinearRegression().fit(features, 2.5 + 3.0 * features["distance"])
    with mlflow.start_run():
        info = mlflow.sklearn.log_model(
            model,
            name="model",
            signature=infer_signature(features),
            pip_requirements=["scikit-learn"],
        )
    scored = databricks_platform.score_batch(info.model_uri, spark.createDataFrame(features))
    result = scored.toPandas()
    np.testing.assert_allclose(result["prediction"], model.predict(features), rtol=1e-9)
    databricks_platform.fe.score_batch.assert_not_called()  # not a feature-store model


def copy_batch(table: str, batch: DataFrame, batch_id: int) -> None:
    """The micro-batch function: append the batch, with its id, to ``table``."""
    batch.withColumn("batch_id", F.lit(batch_id)).write.mode("append").saveAsTable(table)


@pytest.fixture
def tables(spark):
    """A source and a sink table name, unique per test; the test module shipped by value (on
    Spark Connect the server's Python process cannot import the tests package)."""
    suffix = uuid.uuid4().hex[:8]
    cloudpickle.register_pickle_by_value(sys.modules[__name__])
    yield f"spark_catalog.default.orders_{suffix}", f"spark_catalog.default.copied_{suffix}"
    cloudpickle.unregister_pickle_by_value(sys.modules[__name__])


def test_run_stream_hands_each_new_micro_batch_to_foreach_batch(
    databricks_platform, spark, tables, tmp_path
):
    source, sink = tables
    spark.range(4).write.saveAsTable(source)
    checkpoint = str(tmp_path / "checkpoint")
    process = functools.partial(copy_batch, sink)
    progress = databricks_platform.run_stream(source, checkpoint, process)
    assert (progress.batches, progress.input_rows) == (1, 4)
    spark.range(4, 6).write.mode("append").saveAsTable(source)
    progress = databricks_platform.run_stream(source, checkpoint, process)
    assert (progress.batches, progress.input_rows) == (1, 2)
    copied = sorted((r.id, r.batch_id) for r in spark.table(sink).collect())
    assert copied == [(0, 0), (1, 0), (2, 0), (3, 0), (4, 1), (5, 1)]


def test_a_micro_batch_function_must_pickle_on_spark_connect(
    databricks_platform, spark, tables, tmp_path
):
    source, sink = tables
    spark.range(2).write.saveAsTable(source)
    lock = threading.Lock()

    def holds_a_lock(batch, batch_id):
        with lock:
            copy_batch(sink, batch, batch_id)

    checkpoint = str(tmp_path / "checkpoint")
    if is_connect(spark):
        with pytest.raises(PySparkPicklingError, match="STREAMING_CONNECT_SERIALIZATION_ERROR"):
            databricks_platform.run_stream(source, checkpoint, holds_a_lock)
    else:  # classic Spark calls it in the driver
        assert databricks_platform.run_stream(source, checkpoint, holds_a_lock).input_rows == 2
