"""Batch scoring task: trips -> ``@champion`` predictions -> ``inference_log``."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from pyspark.sql import DataFrame
from pyspark.sql import functions as F  # noqa: N812

from ..data.trips import load_trips, trip_history
from ..features.inline import join_features_inline
from ..names import (
    CHAMPION,
    FEATURE_COLUMNS,
    FEATURE_SOURCE_STORE,
    INFERENCE_LOG_TABLE,
    KEY_COLUMNS,
    LABEL,
    PREDICTION,
    TRIP_FEATURES,
    table,
)
from ..platform.base import Platform
from ..registry import alias_version, feature_source, version_uri

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ScoringResult:
    """Rows appended to the inference log and the model version that scored them.

    ``model_version`` is ``None`` when there is no champion yet: the run is skipped, not failed
    (a freshly deployed target has scheduled scoring before its first training run).
    """

    rows_scored: int
    model_version: str | None

    @property
    def skipped(self) -> bool:
        return self.model_version is None


def inference_log_frame(scored: DataFrame, model_version: str) -> DataFrame:
    """The ``inference_log`` columns: keys, features, prediction, version, time, label (or null)."""
    label = F.col(LABEL).cast("double") if LABEL in scored.columns else F.lit(None).cast("double")
    return scored.select(
        *[F.col(c) for c in KEY_COLUMNS],
        *[F.col(c).cast("double").alias(c) for c in FEATURE_COLUMNS],
        F.col(PREDICTION).cast("double").alias(PREDICTION),
        label.alias(LABEL),
        F.lit(str(model_version)).alias("model_version"),
        F.current_timestamp().alias("scored_at"),
    )


def score_into_log(
    platform: Platform,
    trips: DataFrame,
    *,
    model_name: str,
    model_version: str,
    features: str,
    input_table: str,
    log_table: str,
    start_date: str = "",
    end_date: str = "",
) -> int:
    """Score the ``trips`` (cleaned, with trip features) that ``log_table`` does not hold yet
    with ``model_version`` and add them to it; return how many were added.

    ``features`` is the version's feature source (:func:`~..registry.feature_source`, read by
    the caller, so a streaming micro-batch makes no registry call): a model packaged with
    feature lookups fetches its zip features itself; otherwise they are aggregated from the raw
    history of ``input_table`` (``start_date`` .. ``end_date``, read from a week earlier), as in
    training. Trips already in the log are left out before scoring, and the write is an
    insert-only merge on the trip keys: a rerun, a replayed micro-batch or another job scoring
    the same trips never adds a trip twice.
    """
    if platform.table_exists(log_table):
        scored_keys = platform.read_table(log_table).select(*KEY_COLUMNS)
        trips = trips.join(scored_keys, on=KEY_COLUMNS, how="left_anti")
    if features == FEATURE_SOURCE_STORE:
        inputs = trips.select(*KEY_COLUMNS, *TRIP_FEATURES, LABEL)
    else:
        history = trip_history(platform, input_table, start_date, end_date)
        inputs = join_features_inline(trips.select(*KEY_COLUMNS, *TRIP_FEATURES, LABEL), history)
    scored = platform.score_batch(version_uri(model_name, model_version), inputs)
    result = platform.cache(inference_log_frame(scored, model_version))
    rows = result.count()
    if rows:
        platform.append_new(result, log_table, KEY_COLUMNS)
    platform.uncache(result)
    return rows


def score_trips(
    platform: Platform,
    *,
    input_table: str,
    model_name: str,
    catalog: str,
    schema: str,
    start_date: str = "",
    end_date: str = "",
) -> ScoringResult:
    """Score the trips picked up in ``start_date`` .. ``end_date`` with the current champion.

    Trips already in the inference log are skipped, so a scheduled run with an open window
    scores only what is new, and a rerun of the same window appends nothing. The champion
    version is resolved once, so every row of the batch is scored (and logged) with the same
    version.
    """
    version = alias_version(platform.mlflow_client(), model_name, CHAMPION)
    if version is None:
        log.warning(
            "%s has no @%s yet: nothing scored (run training_job first)", model_name, CHAMPION
        )
        return ScoringResult(0, None)
    rows = score_into_log(
        platform,
        load_trips(platform, input_table, start_date, end_date),
        model_name=model_name,
        model_version=version,
        features=feature_source(platform.mlflow_client(), model_name, version),
        input_table=input_table,
        log_table=table(catalog, schema, INFERENCE_LOG_TABLE),
        start_date=start_date,
        end_date=end_date,
    )
    log.info("scored %d trips with %s v%s", rows, model_name, version)
    return ScoringResult(rows, version)
