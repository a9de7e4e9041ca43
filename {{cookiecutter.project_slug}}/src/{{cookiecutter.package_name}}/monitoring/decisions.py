"""``retrain_decisions``: one row per monitoring run saying whether it retrained, and why not.

A breach alone does not retrain: a cool-down after the last retraining and a minimum number of
consecutive breached runs keep a flapping metric from starting a training run every time, and a
challenger that waits for a person's approval is not replaced by a newer one behind their back.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from pyspark.sql import functions as F  # noqa: N812
from pyspark.sql import types as T  # noqa: N812

from ..names import (
    CHALLENGER,
    RETRAIN_DECISIONS_TABLE,
    TAG_APPROVAL,
    TAG_VALIDATION_STATUS,
    VALIDATION_PASSED,
    table,
)
from ..platform.base import Platform
from ..registry import alias_version, version_tags
from .monitor import MonitorResult

log = logging.getLogger(__name__)

RETRAIN = "retrain"
NO_BREACH = "no breach"
NOT_ENOUGH_ROWS = "skipped: not enough rows"
COOL_DOWN = "skipped: cool-down"
NOT_SUSTAINED = "skipped: breach not sustained"
CHALLENGER_WAITING = "skipped: challenger waiting for approval"

DECISIONS_SCHEMA = T.StructType(
    [
        T.StructField("decided_at", T.TimestampType()),
        T.StructField("model_name", T.StringType()),
        T.StructField("model_version", T.StringType()),
        T.StructField("breached", T.StringType()),
        T.StructField("consecutive_breaches", T.LongType()),
        T.StructField("decision", T.StringType()),
        T.StructField("reason", T.StringType()),
        T.StructField("job_run_id", T.StringType()),
    ]
)


@dataclass(frozen=True)
class RetrainPolicy:
    """When a breach retrains: not within ``cool_down_hours`` of the last retraining, and only
    after ``min_breached_runs`` consecutive breached runs (this one included)."""

    cool_down_hours: float = 24.0
    min_breached_runs: int = 1

    def __post_init__(self) -> None:
        if self.cool_down_hours < 0 or self.min_breached_runs < 1:
            raise ValueError(
                "retrain_cool_down_hours must be >= 0 and min_breached_runs >= 1, got "
                f"{self.cool_down_hours} and {self.min_breached_runs}"
            )


@dataclass(frozen=True)
class Decision:
    """What one monitoring run decided (a ``retrain_decisions`` row)."""

    decided_at: datetime
    model_name: str
    model_version: str | None
    breached: list[str]
    consecutive_breaches: int
    decision: str
    reason: str
    job_run_id: str

    @property
    def retrain(self) -> bool:
        return self.decision == RETRAIN


@dataclass(frozen=True)
class History:
    """What earlier decisions of the model say: when it last retrained, and how many runs in a
    row (the newest first) breached."""

    last_retrain: datetime | None = None
    breached_runs: int = 0


def history(platform: Platform, model_name: str, name: str) -> History:
    """The earlier decisions of ``model_name`` in the table ``name``."""
    if not platform.table_exists(name):
        return History()
    rows = (
        platform.read_table(name)
        .where(F.col("model_name") == model_name)
        .select("decided_at", "breached", "decision")
        .orderBy(F.col("decided_at").desc())
        .collect()
    )
    last = next((r["decided_at"] for r in rows if r["decision"] == RETRAIN), None)
    streak = 0
    for row in rows:
        if not row["breached"]:
            break
        streak += 1
    if last is not None and last.tzinfo is None:
        last = last.replace(tzinfo=UTC)
    return History(last, streak)


def waiting_challenger(platform: Platform, model_name: str) -> str | None:
    """The challenger that passed validation and waits for a person's decision, if any."""
    client = platform.mlflow_client()
    version = alias_version(client, model_name, CHALLENGER)
    if version is None:
        return None
    tags = version_tags(client, model_name, version)
    waiting = tags.get(TAG_VALIDATION_STATUS) == VALIDATION_PASSED and not tags.get(TAG_APPROVAL)
    return version if waiting else None


def decide(
    result: MonitorResult,
    *,
    model_name: str,
    policy: RetrainPolicy,
    past: History,
    challenger: str | None,
    now: datetime,
    job_run_id: str = "",
) -> Decision:
    """The decision of a monitoring run whose measurements are ``result``."""
    breached = result.breaches
    streak = past.breached_runs + 1 if breached else 0

    def decision(kind: str, reason: str) -> Decision:
        return Decision(
            now, model_name, result.model_version, breached, streak, kind, reason, job_run_id
        )

    if result.note and not breached:
        return decision(NOT_ENOUGH_ROWS, result.note)
    if not breached:
        return decision(NO_BREACH, "every statistic is within its threshold")
    if challenger is not None:
        return decision(
            CHALLENGER_WAITING,
            f"v{challenger} waits as @{CHALLENGER} for approval: approve or reject it first",
        )
    if streak < policy.min_breached_runs:
        return decision(
            NOT_SUSTAINED,
            f"{streak} consecutive breached runs of the {policy.min_breached_runs} required",
        )
    if past.last_retrain is not None:
        ready = past.last_retrain + timedelta(hours=policy.cool_down_hours)
        if now < ready:
            return decision(
                COOL_DOWN,
                f"retrained at {past.last_retrain:%Y-%m-%d %H:%M} UTC; the cool-down of "
                f"{policy.cool_down_hours:g} h ends at {ready:%Y-%m-%d %H:%M} UTC",
            )
    return decision(RETRAIN, f"breached: {', '.join(breached)}")


def decide_and_record(
    platform: Platform,
    result: MonitorResult,
    *,
    model_name: str,
    catalog: str,
    schema: str,
    policy: RetrainPolicy,
    job_run_id: str = "",
    now: datetime | None = None,
) -> Decision:
    """Decide whether this monitoring run retrains and append the decision to
    ``retrain_decisions`` (the ``retrain`` task of the same job run starts training)."""
    name = table(catalog, schema, RETRAIN_DECISIONS_TABLE)
    made = decide(
        result,
        model_name=model_name,
        policy=policy,
        past=history(platform, model_name, name),
        challenger=waiting_challenger(platform, model_name),
        now=now or datetime.now(UTC),
        job_run_id=job_run_id,
    )
    row = (
        made.decided_at,
        made.model_name,
        made.model_version,
        ", ".join(made.breached),
        made.consecutive_breaches,
        made.decision,
        made.reason,
        made.job_run_id,
    )
    platform.write_table(platform.spark.createDataFrame([row], DECISIONS_SCHEMA), name, "append")
    log.info("retraining decision for %s: %s (%s)", model_name, made.decision, made.reason)
    return made
