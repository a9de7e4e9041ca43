"""Training task: fit on the earliest rows, log to MLflow, register, keep the held-out rows."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import mlflow
import pandas as pd
from mlflow.models import infer_signature
from pyspark.sql import DataFrame
from pyspark.sql import types as T  # noqa: N812

from ..names import (
    FEATURE_COLUMNS,
    KEY_COLUMNS,
    LABEL,
    PICKUP_TS,
    PREDICTION,
    TAG_FEATURE_SOURCE,
    TAG_RUN_ID,
    TAG_TASK,
    TAG_WINDOW,
    TRAINING_BASELINE_TABLE,
    table,
)
from ..platform.base import Platform
from ..recovery import recover_from_killed_runs
from .dataset import TrainingData
from .model import (
    build_model,
    effective_params,
    pip_requirements,
    prediction_plot,
    regression_metrics,
    time_split,
)

log = logging.getLogger(__name__)

MIN_TRAINING_ROWS = 200


@dataclass(frozen=True)
class TrainResult:
    """What the train task publishes: the new version, its run and held-out metrics."""

    model_uri: str
    model_version: str
    run_id: str
    metrics: dict[str, float]


def baseline_schema() -> T.StructType:
    """Schema of ``training_baseline``: held-out rows with the model's prediction."""
    fields = [
        T.StructField("pickup_zip", T.IntegerType()),
        T.StructField("dropoff_zip", T.IntegerType()),
        T.StructField(PICKUP_TS, T.TimestampType()),
        T.StructField("tpep_dropoff_datetime", T.TimestampType()),
    ]
    fields += [
        T.StructField(name, T.DoubleType()) for name in [*FEATURE_COLUMNS, LABEL, PREDICTION]
    ]
    fields += [
        T.StructField("model_version", T.StringType()),
        T.StructField("run_id", T.StringType()),
        T.StructField("created_at", T.TimestampType()),
    ]
    return T.StructType(fields)


def to_spark_utc(platform: Platform, frame: pd.DataFrame, schema: T.StructType) -> DataFrame:
    """A Spark frame from pandas, reading naive timestamps as UTC whatever the local time zone."""
    frame = frame.copy()
    for field in schema.fields:
        if isinstance(field.dataType, T.TimestampType) and field.name in frame:
            column = pd.to_datetime(frame[field.name])
            frame[field.name] = column if column.dt.tz is not None else column.dt.tz_localize("UTC")
    return platform.spark.createDataFrame(frame[[f.name for f in schema.fields]], schema=schema)


def _window(start_date: str, end_date: str) -> str:
    return f"{start_date or 'min'}..{end_date or 'max'}"


def train_and_register(
    platform: Platform,
    data: TrainingData,
    *,
    model_name: str,
    experiment_name: str,
    catalog: str,
    schema: str,
    start_date: str = "",
    end_date: str = "",
    params: Mapping[str, Any] | None = None,
    heldout_fraction: float = 0.2,
) -> TrainResult:
    """Fit on the earliest rows, evaluate on the latest, log and register a new model version.

    The held-out rows (keys, features, label, prediction) are appended to ``training_baseline``
    under the new run: validation evaluates candidate and champion on them, monitoring uses them
    as the reference distribution. Before training, what killed runs left behind is cleaned up
    (:mod:`..recovery`).
    """
    columns = [*KEY_COLUMNS, *FEATURE_COLUMNS, LABEL]
    rows = data.frame.select(*columns).toPandas()  # the training set must fit in driver memory
    if len(rows) < MIN_TRAINING_ROWS:
        raise ValueError(
            f"only {len(rows)} training rows for {_window(start_date, end_date)} "
            f"(at least {MIN_TRAINING_ROWS} needed): widen start_date..end_date"
        )
    rows[FEATURE_COLUMNS] = rows[FEATURE_COLUMNS].astype("float64")
    train, heldout = time_split(rows, PICKUP_TS, heldout_fraction)

    platform.set_experiment(experiment_name)
    recover_from_killed_runs(platform.mlflow_client(), experiment_name, model_name)
    # Explicit: this task logs its parameters, metrics and model itself; Databricks
    # autologging would add a second, stray run for the same fit.
    mlflow.autolog(disable=True)
    with mlflow.start_run(
        run_name=f"train {_window(start_date, end_date)}", tags={TAG_TASK: "train"}
    ) as run:
        model = build_model(FEATURE_COLUMNS, params)
        model.fit(train[FEATURE_COLUMNS], train[LABEL])
        heldout_pred = model.predict(heldout[FEATURE_COLUMNS])
        train_metrics = regression_metrics(train[LABEL], model.predict(train[FEATURE_COLUMNS]))
        metrics = {f"train_{k}": v for k, v in train_metrics.items()}
        metrics |= {
            f"heldout_{k}": v for k, v in regression_metrics(heldout[LABEL], heldout_pred).items()
        }
        mlflow.log_params(
            {
                **effective_params(params),
                "heldout_fraction": heldout_fraction,
                "train_rows": len(train),
                "heldout_rows": len(heldout),
                "heldout_from": str(heldout[PICKUP_TS].min()),
                "start_date": start_date,
                "end_date": end_date,
                TAG_FEATURE_SOURCE: data.feature_source,
            }
        )
        mlflow.log_metrics(metrics)
        mlflow.log_figure(
            prediction_plot(heldout[LABEL].to_numpy(), heldout_pred, "held-out trips"),
            "plots/heldout_predictions.png",
        )
        example = heldout[FEATURE_COLUMNS].head(5)
        registered = platform.log_model(
            model,
            name="model",
            registered_model_name=model_name,
            training_set=data.training_set,
            signature=infer_signature(example, model.predict(example)),
            input_example=example,
            pip_requirements=pip_requirements(),
        )
        run_id = run.info.run_id

    client = platform.mlflow_client()
    client.update_model_version(
        model_name,
        registered.version,
        description=(
            f"{type(model[-1]).__name__} on {len(train)} trips "
            f"({_window(start_date, end_date)}), "
            f"features from {data.feature_source}; held-out RMSE {metrics['heldout_rmse']:.3f} "
            f"on the latest {len(heldout)} trips."
        ),
    )
    tags = {
        TAG_RUN_ID: run_id,
        TAG_WINDOW: _window(start_date, end_date),
        TAG_FEATURE_SOURCE: data.feature_source,
    }
    for key, value in tags.items():
        client.set_model_version_tag(model_name, registered.version, key, value)

    baseline = heldout.assign(
        **{PREDICTION: heldout_pred},
        model_version=registered.version,
        run_id=run_id,
        created_at=datetime.now(UTC),
    )
    platform.write_table(
        to_spark_utc(platform, baseline, baseline_schema()),
        table(catalog, schema, TRAINING_BASELINE_TABLE),
        mode="append",
    )
    log.info("registered %s version %s: %s", model_name, registered.version, metrics)
    return TrainResult(registered.model_uri, registered.version, run_id, metrics)
