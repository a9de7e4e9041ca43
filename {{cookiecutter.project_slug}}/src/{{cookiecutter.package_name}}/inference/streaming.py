"""Streaming scoring task: new trips -> ``@champion`` predictions -> ``inference_log``.

Each run reads what the input table gained since the last run (Structured Streaming with the
``availableNow`` trigger, checkpointed), scores it in micro-batches and stops, so a scheduled job
behaves like an always-on stream without keeping compute up. Rows go to the same inference log
as batch inference, each trip once whichever job scored it first.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from pyspark.sql import DataFrame
from pyspark.sql import functions as F  # noqa: N812

from ..data.trips import prepare_trips
from ..names import CHAMPION, INFERENCE_LOG_TABLE, PICKUP_TS, table
from ..platform import get_platform
from ..platform.base import Platform
from ..registry import alias_version, feature_source
from .batch import score_into_log

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class StreamResult:
    """Micro-batches and new trips one run processed, and the version that scored them.

    ``model_version`` is ``None`` when there is no champion yet: nothing is read, so the trips
    stay waiting in the source for the first run after a champion exists.
    """

    model_version: str | None
    batches: int = 0
    input_rows: int = 0

    @property
    def skipped(self) -> bool:
        return self.model_version is None


@dataclass(frozen=True)
class BatchScorer:
    """The function each micro-batch is handed to (``foreachBatch``).

    It holds names only, resolved on the driver when the stream starts (the champion's version
    and its feature source), and builds its platform from the batch's own Spark session: on
    Spark Connect (serverless) the function is pickled and runs in a separate Python process on
    the server, where it makes no registry lookup of its own.
    """

    input_table: str
    model_name: str
    model_version: str
    features: str
    log_table: str

    def __call__(self, batch: DataFrame, batch_id: int) -> None:
        platform = get_platform(batch.sparkSession)
        trips = prepare_trips(batch)
        days = trips.agg(F.min(PICKUP_TS).alias("first"), F.max(PICKUP_TS).alias("last"))
        first, last = days.first() or (None, None)
        if first is None:
            log.info("micro-batch %s: no trip left after cleaning", batch_id)
            return
        rows = score_into_log(
            platform,
            trips,
            model_name=self.model_name,
            model_version=self.model_version,
            features=self.features,
            input_table=self.input_table,
            log_table=self.log_table,
            start_date=first.date().isoformat(),
            end_date=last.date().isoformat(),
        )
        log.info("micro-batch %s: %d trips scored with v%s", batch_id, rows, self.model_version)


def stream_trips(
    platform: Platform,
    *,
    input_table: str,
    model_name: str,
    catalog: str,
    schema: str,
    checkpoint: str,
) -> StreamResult:
    """Score every trip ``input_table`` gained since ``checkpoint`` with the current champion.

    The champion is resolved when the run starts, so each run (each restart of the stream)
    scores with the champion of that moment, and every micro-batch of a run with the same one.
    """
    client = platform.mlflow_client()
    version = alias_version(client, model_name, CHAMPION)
    if version is None:
        log.warning(
            "%s has no @%s yet: the stream did not start (run training_job first)",
            model_name,
            CHAMPION,
        )
        return StreamResult(None)
    scorer = BatchScorer(
        input_table=input_table,
        model_name=model_name,
        model_version=version,
        features=feature_source(client, model_name, version),
        log_table=table(catalog, schema, INFERENCE_LOG_TABLE),
    )
    progress = platform.run_stream(input_table, checkpoint, scorer)
    log.info(
        "stream of %s: %d micro-batches, %d new trips, scored with v%s",
        input_table,
        progress.batches,
        progress.input_rows,
        version,
    )
    return StreamResult(version, progress.batches, progress.input_rows)
