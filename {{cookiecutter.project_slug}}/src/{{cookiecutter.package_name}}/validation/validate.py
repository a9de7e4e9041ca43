"""Validation task: evaluate the candidate and the champion, record every check, gate the alias."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import mlflow
import numpy as np
import pandas as pd
from mlflow.models import EvaluationResult
from mlflow.models.evaluation.validation import ModelValidationFailedException
from pyspark.sql import functions as F  # noqa: N812
from pyspark.sql import types as T  # noqa: N812

from ..errors import ActionableError
from ..model_card import write_card
from ..names import (
    CHALLENGER,
    CHAMPION,
    FEATURE_COLUMNS,
    FEATURE_SOURCE_STORE,
    KEY_COLUMNS,
    LABEL,
    REQUIRED_VERSION_TAGS,
    TAG_RUN_ID,
    TAG_TASK,
    TAG_VALIDATION_RUN_ID,
    TAG_VALIDATION_STATUS,
    TRAINING_BASELINE_TABLE,
    TRIP_FEATURES,
    VALIDATION_FAILED,
    VALIDATION_PASSED,
    VALIDATION_RESULTS_TABLE,
    table,
)
from ..platform.base import Platform
from ..registry import alias_version, feature_source, version_uri
from .gate import (
    ENFORCE,
    RMSE,
    CheckResult,
    GateConfig,
    build_thresholds,
    check_compliance,
    check_improvement,
    check_metrics,
    check_smoke,
    evaluation_metrics,
    gate_passed,
    parse_mode,
    summarize,
)

log = logging.getLogger(__name__)

SMOKE_ROWS = 20

RESULTS_SCHEMA = T.StructType(
    [
        T.StructField("run_id", T.StringType()),
        T.StructField("model_name", T.StringType()),
        T.StructField("model_version", T.StringType()),
        T.StructField("champion_version", T.StringType()),
        T.StructField("check", T.StringType()),
        T.StructField("passed", T.BooleanType()),
        T.StructField("detail", T.StringType()),
        T.StructField("validation_mode", T.StringType()),
        T.StructField("validated_at", T.TimestampType()),
    ]
)


class ModelValidationError(ActionableError, RuntimeError):
    """The candidate failed the gate in ``enforce`` mode; nothing was promoted."""


@dataclass
class ValidationReport:
    """Outcome of the gate for one model version."""

    model_version: str
    champion_version: str | None
    passed: bool
    run_id: str
    checks: list[CheckResult] = field(default_factory=list)


def _evaluate(
    predict: Callable[[pd.DataFrame], np.ndarray], data: pd.DataFrame, run_name: str
) -> EvaluationResult:
    """Held-out metrics of one model under the names MLflow's regressor evaluation uses, logged
    to a nested run. (Computed directly: ``mlflow.models.evaluate`` computes and logs much more
    than the gate reads, which took seconds per model.)"""
    metrics = evaluation_metrics(data[LABEL].to_numpy(), predict(data[FEATURE_COLUMNS]))
    with mlflow.start_run(run_name=run_name, nested=True, tags={TAG_TASK: "validate"}):
        mlflow.log_metrics(metrics)
    return EvaluationResult(metrics=metrics, artifacts={})


def _smoke_test(platform: Platform, uri: str, heldout: Any, source: str) -> CheckResult:
    """Score a few held-out trips through ``score_batch`` (the batch inference path)."""
    inputs = [*KEY_COLUMNS, *(TRIP_FEATURES if source == FEATURE_SOURCE_STORE else FEATURE_COLUMNS)]
    sample = platform.cache(heldout.select(*inputs).limit(SMOKE_ROWS))
    try:
        expected = sample.count()
        scored = platform.score_batch(uri, sample).select("prediction").toPandas()
        return check_smoke(scored["prediction"].to_numpy(), expected)
    except Exception as exc:
        return CheckResult("smoke_test", False, f"{type(exc).__name__}: {exc}"[:1000])
    finally:
        platform.uncache(sample)


def write_results(
    platform: Platform,
    results_table: str,
    *,
    run_id: str,
    model_name: str,
    model_version: str,
    champion_version: str | None,
    mode: str,
    checks: Sequence[CheckResult],
) -> None:
    """Append one row per check to ``validation_results``."""
    now = datetime.now(UTC)
    rows = [
        (
            run_id,
            model_name,
            model_version,
            champion_version,
            c.check,
            c.passed,
            c.detail,
            mode,
            now,
        )
        for c in checks
    ]
    platform.write_table(
        platform.spark.createDataFrame(rows, RESULTS_SCHEMA), results_table, "append"
    )


def validate_model(
    platform: Platform,
    *,
    model_name: str,
    model_version: str,
    experiment_name: str,
    catalog: str,
    schema: str,
    validation_mode: str = ENFORCE,
    config: GateConfig | None = None,
) -> ValidationReport:
    """Gate ``model_version``: metrics (absolute and against ``@champion`` on the same held-out
    rows), compliance and a smoke test. One row per check goes to ``validation_results``.

    Passed: the version becomes ``@challenger``. Failed in ``enforce`` mode: raises
    :class:`ModelValidationError` and no alias moves. ``report`` mode records the checks and
    sets ``@challenger`` whatever the outcome.
    """
    mode = parse_mode(validation_mode)
    config = config or GateConfig()
    client = platform.mlflow_client()
    version = client.get_model_version(model_name, model_version)
    uri = version_uri(model_name, model_version)
    champion = alias_version(client, model_name, CHAMPION)
    baseline_version = champion if champion not in (None, str(model_version)) else None

    training_run = version.run_id or (version.tags or {}).get(TAG_RUN_ID, "")
    # Keyed by the training run, not the version number: versions restart at 1 when a model is
    # deleted and registered again, runs do not.
    heldout = platform.read_table(table(catalog, schema, TRAINING_BASELINE_TABLE)).where(
        F.col("run_id") == training_run
    )
    data = heldout.select(*FEATURE_COLUMNS, LABEL).toPandas()
    checks: list[CheckResult] = [
        CheckResult(
            "heldout_rows",
            len(data) > 0,
            f"{len(data)} held-out rows of version {model_version} (run {training_run})",
        )
    ]

    platform.set_experiment(experiment_name)
    with mlflow.start_run(run_name=f"validate v{model_version}") as run:
        mlflow.set_tags(
            {
                TAG_TASK: "validate",
                "model_name": model_name,
                "model_version": str(model_version),
                "mode": mode,
            }
        )
        if len(data):
            candidate = _evaluate(
                platform.load_model_for_evaluation(uri), data, f"candidate v{model_version}"
            )
            baseline = None
            if baseline_version:
                baseline = _evaluate(
                    platform.load_model_for_evaluation(version_uri(model_name, baseline_version)),
                    data,
                    f"champion v{baseline_version}",
                )
            thresholds = build_thresholds(config)
            checks += check_metrics(thresholds, candidate.metrics)
            if baseline is not None:
                checks.append(
                    check_improvement(
                        candidate.metrics.get(RMSE),
                        baseline.metrics.get(RMSE),
                        config.min_relative_improvement,
                    )
                )
            try:
                mlflow.validate_evaluation_results(thresholds, candidate)
                checks.append(CheckResult("mlflow_validation", True, "thresholds met"))
            except ModelValidationFailedException as exc:
                checks.append(CheckResult("mlflow_validation", False, exc.message[:1000]))
            mlflow.log_metrics({f"candidate_{k}": float(v) for k, v in candidate.metrics.items()})
            if baseline:
                mlflow.log_metrics({f"champion_{k}": float(v) for k, v in baseline.metrics.items()})

        info = mlflow.models.get_model_info(uri)
        checks += check_compliance(
            has_signature=info.signature is not None and info.signature.inputs is not None,
            description=version.description,
            tags=version.tags or {},
            required_tags=REQUIRED_VERSION_TAGS,
        )
        source = feature_source(client, model_name, model_version)
        checks.append(
            _smoke_test(platform, uri, heldout, source)
            if len(data)
            else CheckResult("smoke_test", False, "no held-out rows to score")
        )
        passed = gate_passed(checks)
        mlflow.log_metric("gate_passed", float(passed))
        run_id = run.info.run_id

    write_results(
        platform,
        table(catalog, schema, VALIDATION_RESULTS_TABLE),
        run_id=run_id,
        model_name=model_name,
        model_version=str(model_version),
        champion_version=baseline_version,
        mode=mode,
        checks=checks,
    )
    client.set_model_version_tag(
        model_name,
        model_version,
        TAG_VALIDATION_STATUS,
        VALIDATION_PASSED if passed else VALIDATION_FAILED,
    )
    client.set_model_version_tag(model_name, model_version, TAG_VALIDATION_RUN_ID, run_id)
    report = ValidationReport(str(model_version), baseline_version, passed, run_id, checks)
    if passed:
        client.set_registered_model_alias(model_name, CHALLENGER, str(model_version))
    write_card(platform, model_name, str(model_version))
    if not passed and mode == ENFORCE:
        raise ModelValidationError(
            f"{model_name} version {model_version} failed validation (run {run_id}):\n"
            + summarize(checks)
        )
    log.info(
        "%s v%s: gate %s (%s mode)",
        model_name,
        model_version,
        "passed" if passed else "failed",
        mode,
    )
    return report
