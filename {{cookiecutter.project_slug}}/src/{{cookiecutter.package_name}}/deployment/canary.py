"""Canary rollout: a new champion first takes a share of the endpoint's traffic; after a soak
period its requests in the inference table are compared with the previous champion's, and it
either takes all of the traffic or is rolled back (endpoint, ``champion`` alias, model_events).

The deploy task starts a canary (:func:`..promote.promote` with ``canary_percent``); canary_job
runs :func:`check_canary` on a schedule. The evidence is the error rate and the 95th percentile
of the model's execution time of each version over the same period and, where the true labels of
requests have arrived (the endpoint's labels table, keyed by the ``client_request_id`` the
clients send), each version's RMSE on them. Batch scoring follows ``@champion`` throughout.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from pyspark.sql import DataFrame
from pyspark.sql import functions as F  # noqa: N812

from ..errors import ActionableError
from ..names import (
    CANARY_PASSED,
    CHAMPION,
    LABEL,
    PREVIOUS_CHAMPION,
    REQUEST_ID,
    SERVED_ENTITIES_TABLE,
    TAG_CANARY,
    TAG_CANARY_STARTED_AT,
)
from ..platform.base import Platform, ServingSpec
from ..registry import alias_version, version_tags
from .events import record_alias_change
from .promote import AliasChange, rollback, running_canary, serve_version

log = logging.getLogger(__name__)

# model_events rows: the new champion took all of the traffic, or lost and the baseline is back
CANARY_COMPLETED_EVENT = "canary_completed"
CANARY_ROLLED_BACK_EVENT = "canary_rolled_back"
# A latency difference smaller than this is noise, whatever the ratio (a 2 ms model at 4 ms).
LATENCY_NOISE_MS = 20.0
OK = 200


class CanaryError(ActionableError, ValueError):
    """A canary parameter is malformed, or the registry does not match the running canary."""


@dataclass(frozen=True)
class CanaryPolicy:
    """When a canary is judged and what makes it lose (bundle variables canary_*)."""

    soak_minutes: int = 60
    min_requests: int = 100
    max_error_rate_increase: float = 0.01
    max_latency_increase: float = 0.5
    min_labels: int = 400  # labelled requests each version needs before its RMSE counts
    max_rmse_increase: float = 0.2

    @classmethod
    def parse(
        cls,
        soak_minutes: str,
        min_requests: str,
        max_error_rate_increase: str,
        max_latency: str,
        min_labels: str = "400",
        max_rmse_increase: str = "0.2",
    ) -> CanaryPolicy:
        """The job parameters, each checked: whole numbers of minutes, requests and labels,
        fractions >= 0."""

        def number(name: str, value: str, kind: type) -> float:
            try:
                parsed = kind(str(value).strip())
            except ValueError:
                parsed = -1
            if not math.isfinite(parsed) or parsed < 0:
                raise CanaryError(f"{name} must be a non-negative {kind.__name__}, got {value!r}")
            return parsed

        return cls(
            int(number("canary_soak_minutes", soak_minutes, int)),
            max(int(number("canary_min_requests", min_requests, int)), 1),
            number("canary_max_error_rate_increase", max_error_rate_increase, float),
            number("canary_max_latency_increase", max_latency, float),
            max(int(number("canary_min_labels", min_labels, int)), 1),
            number("canary_max_rmse_increase", max_rmse_increase, float),
        )


@dataclass(frozen=True)
class EntityHealth:
    """One served version's requests over the canary period."""

    version: str
    requests: int = 0
    errors: int = 0
    p95_latency_ms: float | None = None
    labelled: int = 0  # answered requests whose true label has arrived
    rmse: float | None = None

    @property
    def error_rate(self) -> float:
        return self.errors / self.requests if self.requests else 0.0

    def describe(self) -> str:
        latency = "n/a" if self.p95_latency_ms is None else f"{self.p95_latency_ms:.0f} ms"
        accuracy = (
            f", RMSE {self.rmse:.2f} on {self.labelled} labelled"
            if self.labelled and self.rmse is not None
            else ""
        )
        return (
            f"v{self.version}: {self.requests} requests, error rate {self.error_rate:.1%}, "
            f"p95 latency {latency}{accuracy}"
        )


@dataclass(frozen=True)
class Verdict:
    """``promote``, ``roll back`` or ``wait`` (not enough requests yet), and why."""

    decision: str
    reasons: tuple[str, ...]


def judge(baseline: EntityHealth, canary: EntityHealth, policy: CanaryPolicy) -> Verdict:
    """Whether the canary is worse than the baseline beyond the policy's thresholds."""
    short = [h for h in (canary, baseline) if h.requests < policy.min_requests]
    if short:
        return Verdict(
            "wait",
            tuple(
                f"v{h.version} has {h.requests} of {policy.min_requests} requests" for h in short
            ),
        )
    worse = []
    increase = canary.error_rate - baseline.error_rate
    if increase > policy.max_error_rate_increase:
        worse.append(
            f"error rate {canary.error_rate:.1%} against {baseline.error_rate:.1%} "
            f"(at most +{policy.max_error_rate_increase:.1%})"
        )
    new, old = canary.p95_latency_ms, baseline.p95_latency_ms
    if (
        new is not None
        and old is not None
        and new > old * (1 + policy.max_latency_increase)
        and new - old > LATENCY_NOISE_MS
    ):
        worse.append(
            f"p95 latency {new:.0f} ms against {old:.0f} ms "
            f"(at most +{policy.max_latency_increase:.0%})"
        )
    unlabelled = [h for h in (canary, baseline) if h.labelled < policy.min_labels or h.rmse is None]
    if not unlabelled and canary.rmse > baseline.rmse * (1 + policy.max_rmse_increase):
        worse.append(
            f"RMSE {canary.rmse:.2f} against {baseline.rmse:.2f} on {canary.labelled} and "
            f"{baseline.labelled} labelled requests (at most +{policy.max_rmse_increase:.0%})"
        )
    if worse:
        return Verdict("roll back", tuple(worse))
    reasons = [canary.describe(), baseline.describe()]
    if unlabelled:  # labels arrive late or never: errors and latency decide alone
        reasons.append(
            "RMSE not judged: "
            + ", ".join(
                f"v{h.version} has {h.labelled} of {policy.min_labels} labelled requests"
                for h in unlabelled
            )
        )
    return Verdict("promote", tuple(reasons))


def entity_health(
    platform: Platform, serving: ServingSpec, since: datetime, versions: list[str]
) -> dict[str, EntityHealth]:
    """Requests, errors and p95 execution time per version since ``since``, from the endpoint's
    inference table joined with ``system.serving.served_entities`` (entity id -> version), and
    the RMSE of the answered requests whose label is in the endpoint's labels table."""
    empty = {v: EntityHealth(v) for v in versions}
    if not platform.table_exists(serving.payload_table):
        return empty  # no request logged yet
    entities = (
        platform.read_table(SERVED_ENTITIES_TABLE)
        .where(F.col("endpoint_name") == serving.endpoint_name)
        .select("served_entity_id", F.col("entity_version").cast("string").alias("version"))
        .distinct()
    )
    requests = (
        platform.read_table(serving.payload_table)
        .where(F.col("request_time") >= F.lit(since))
        .join(entities, "served_entity_id")
    )
    accuracy = _labelled_accuracy(platform, serving.labels_table, requests)
    rows = (
        requests.groupBy("version")
        .agg(
            F.count(F.lit(1)).alias("requests"),
            F.sum(F.when(F.col("status_code") != OK, 1).otherwise(0)).alias("errors"),
            F.percentile_approx("execution_duration_ms", 0.95).alias("p95"),
        )
        .collect()
    )
    found = {
        str(r["version"]): EntityHealth(
            str(r["version"]),
            int(r["requests"]),
            int(r["errors"] or 0),
            None if r["p95"] is None else float(r["p95"]),
            *accuracy.get(str(r["version"]), (0, None)),
        )
        for r in rows
    }
    return {v: found.get(v, empty[v]) for v in versions}


def _labelled_accuracy(
    platform: Platform, labels_table: str, requests: DataFrame
) -> dict[str, tuple[int, float]]:
    """``version -> (labelled requests, RMSE)`` over the answered requests whose
    ``client_request_id`` has a label (one prediction per request: the first one)."""
    if REQUEST_ID not in requests.columns or not platform.table_exists(labels_table):
        return {}  # an inference table without request ids, or no label yet
    labels = platform.read_table(labels_table)
    missing = [c for c in (REQUEST_ID, LABEL) if c not in labels.columns]
    if missing:
        raise CanaryError(
            f"{labels_table} has no column {', '.join(missing)}: it holds {REQUEST_ID} and "
            f"{LABEL}, one row per request whose true label is known"
        )
    # ids compared as strings, values read with try_cast: under ANSI SQL (serverless, Spark 4)
    # a request id or answer that is not a number must not fail the check
    truth = labels.select(
        F.col(REQUEST_ID).cast("string").alias(REQUEST_ID),
        F.col(LABEL).try_cast("double").alias("_label"),
    ).dropDuplicates([REQUEST_ID])
    prediction = F.get_json_object(F.col("response"), "$.predictions[0]").try_cast("double")
    rows = (
        requests.where((F.col("status_code") == OK) & F.col(REQUEST_ID).isNotNull())
        .join(truth, REQUEST_ID)
        .withColumn("_error", prediction - F.col("_label"))
        .where(F.col("_error").isNotNull())
        .groupBy("version")
        .agg(
            F.count(F.lit(1)).alias("labelled"),
            F.sqrt(F.avg(F.col("_error") * F.col("_error"))).alias("rmse"),
        )
        .collect()
    )
    return {str(r["version"]): (int(r["labelled"]), float(r["rmse"])) for r in rows}


@dataclass(frozen=True)
class CanaryOutcome:
    """What a check found: ``none``, ``soaking``, ``wait``, ``promote`` or ``roll back``."""

    decision: str
    message: str
    canary_version: str | None = None
    baseline_version: str | None = None
    health: dict[str, EntityHealth] = field(default_factory=dict)


def _started(value: str | None, version: str) -> datetime:
    try:
        started = datetime.fromisoformat(str(value))
    except ValueError as exc:
        raise CanaryError(
            f"v{version} has no readable {TAG_CANARY_STARTED_AT} tag ({value!r}): set it to an "
            "ISO time, or end the canary with rollback_job"
        ) from exc
    return started if started.tzinfo else started.replace(tzinfo=UTC)


def check_canary(
    platform: Platform,
    model_name: str,
    serving: ServingSpec,
    policy: CanaryPolicy,
    now: datetime | None = None,
) -> CanaryOutcome:
    """Judge the running canary (the champion tagged ``canary=running``), and act on it."""
    if not serving.endpoint_name.strip():
        return CanaryOutcome("none", "no serving endpoint in this target: nothing to check")
    client = platform.mlflow_client()
    champion = alias_version(client, model_name, CHAMPION)
    running = running_canary(client, model_name, champion) if champion else None
    if champion is None or running is None:
        current = f"v{champion} serves all of it" if champion else "no champion yet"
        return CanaryOutcome(
            "none", f"no canary in progress on {serving.endpoint_name} ({current})"
        )
    baseline, _ = running
    tags = version_tags(client, model_name, champion)
    started = _started(tags.get(TAG_CANARY_STARTED_AT), champion)
    now = now or datetime.now(UTC)
    ends = started + timedelta(minutes=policy.soak_minutes)
    if now < ends:
        left = max(round((ends - now).total_seconds() / 60), 1)
        return CanaryOutcome(
            "soaking",
            f"canary v{champion} soaks until {ends.astimezone(UTC):%Y-%m-%d %H:%M} UTC "
            f"({left} min left; "
            f"v{baseline} keeps the rest of the traffic)",
            champion,
            baseline,
        )
    if not platform.table_exists(serving.payload_table):
        return CanaryOutcome(
            "wait",
            f"canary v{champion} waits for traffic: no request logged in "
            f"{serving.payload_table} yet (an endpoint created without AI Gateway inference "
            "tables never logs any: enable them on the endpoint)",
            champion,
            baseline,
        )
    health = entity_health(platform, serving, started, [baseline, champion])
    verdict = judge(health[baseline], health[champion], policy)
    if verdict.decision == "wait":
        return CanaryOutcome(
            "wait",
            f"canary v{champion} waits for traffic: {'; '.join(verdict.reasons)}",
            champion,
            baseline,
            health,
        )
    if alias_version(client, model_name, CHAMPION) != champion:  # a deploy while we judged
        return CanaryOutcome(
            "none", f"v{champion} stopped being the champion during the check: nothing done"
        )
    summary = "; ".join(verdict.reasons)
    if verdict.decision == "promote":
        serve_version(platform, serving, model_name, champion)
        client.set_model_version_tag(model_name, champion, TAG_CANARY, CANARY_PASSED)
        reason = f"canary passed: {summary}"
        record_alias_change(
            platform,
            model_name,
            AliasChange(champion, baseline),
            event=CANARY_COMPLETED_EVENT,
            reason=reason,
        )
        message = f"canary v{champion} takes all of the traffic ({summary})"
        log.info(message)
        return CanaryOutcome("promote", message, champion, baseline, health)
    previous = alias_version(client, model_name, PREVIOUS_CHAMPION)
    if previous != baseline:
        raise CanaryError(
            f"canary v{champion} lost ({summary}) but @{PREVIOUS_CHAMPION} is "
            f"{previous or 'unset'}, not its baseline v{baseline}: point the endpoint and the "
            "aliases by hand (rollback_job restores @previous_champion)"
        )
    reason = f"canary: {summary}"
    change = rollback(
        platform, model_name, reason=reason, requested_by="canary_job", serving=serving
    )
    record_alias_change(platform, model_name, change, event=CANARY_ROLLED_BACK_EVENT, reason=reason)
    message = f"canary v{champion} rolled back to v{baseline} ({summary})"
    log.warning(message)
    return CanaryOutcome("roll back", message, champion, baseline, health)
