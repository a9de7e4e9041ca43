"""Alias moves in the model registry (and the serving endpoint, when there is one)."""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from ..errors import ActionableError
from ..names import (
    APPROVED,
    CANARY_ROLLED_BACK,
    CANARY_RUNNING,
    CANARY_SUPERSEDED,
    CHALLENGER,
    CHAMPION,
    PREVIOUS_CHAMPION,
    REJECTED,
    TAG_APPROVAL,
    TAG_APPROVAL_BY,
    TAG_APPROVAL_REASON,
    TAG_CANARY,
    TAG_CANARY_BASELINE,
    TAG_CANARY_PERCENT,
    TAG_CANARY_STARTED_AT,
    TAG_CHAMPION_SINCE,
    TAG_ROLLBACK_BY,
    TAG_ROLLBACK_REASON,
    TAG_ROLLED_BACK,
    TAG_VALIDATION_STATUS,
    VALIDATION_PASSED,
)
from ..platform.base import Platform, ServingSpec
from ..registry import alias_version, version_tags

if TYPE_CHECKING:
    from mlflow import MlflowClient

log = logging.getLogger(__name__)


class DeploymentError(ActionableError, RuntimeError):
    """The requested alias move is not allowed (e.g. the version was never validated)."""


@dataclass(frozen=True)
class AliasChange:
    """Champion before and after a promotion or a rollback.

    ``changed`` is false when no alias moved: the version already was the champion, or it waits.
    ``promoted`` is false when the version waits as ``@challenger`` for a person's approval:
    then ``champion_version`` is the unchanged champion (``None`` before the first one) and
    ``note`` says what to do. ``canary_of`` is the proven version that keeps most of the
    endpoint's traffic while the new champion's canary runs (``None``: it took all at once).
    """

    champion_version: str | None
    replaced_version: str | None
    changed: bool = True
    promoted: bool = True
    note: str = ""
    canary_of: str | None = None


def parse_require_approval(value: str) -> bool:
    """The ``require_approval`` parameter: ``"true"`` or ``"false"``."""
    text = str(value).strip().lower()
    if text not in ("true", "false"):
        raise DeploymentError(f"require_approval must be 'true' or 'false', got {value!r}")
    return text == "true"


def parse_canary_percent(value: str) -> int:
    """The ``canary_percent`` parameter: a whole number from 0 to 100 (0 or 100: no canary, the
    new champion takes all of the traffic at once)."""
    text = str(value).strip()
    if not text.isdigit() or not 0 <= int(text) <= 100:
        raise DeploymentError(f"canary_percent must be a whole number from 0 to 100, got {value!r}")
    return int(text)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _has_endpoint(serving: ServingSpec | None) -> bool:
    return serving is not None and bool(serving.endpoint_name.strip())


def serve_version(
    platform: Platform,
    serving: ServingSpec | None,
    model_name: str,
    version: str,
    *,
    baseline: str | None = None,
) -> None:
    """Point the endpoint at ``version``: all of its traffic, or, with a ``baseline``, the
    canary share (the baseline keeps the rest). An empty endpoint name means none here."""
    if serving is None:
        return
    if not _has_endpoint(serving):
        log.warning(
            "serving endpoint skipped: serving_endpoint_name is empty in this target, so "
            "%s v%s is not served (set the variable to serve it)",
            model_name,
            version,
        )
        return
    missing = platform.missing_online_tables(serving.online_tables) if serving.online_tables else []
    if missing:
        raise DeploymentError(
            f"cannot serve {model_name} v{version}: its features are not in the online store "
            f"({', '.join(missing)} never published); run feature_refresh_job, whose "
            "publish_features task publishes them, then deploy again (the champion did not move)"
        )
    if baseline is None:
        spec = dataclasses.replace(
            serving, model_name=model_name, model_version=version, canary_version=""
        )
    else:
        spec = dataclasses.replace(
            serving, model_name=model_name, model_version=baseline, canary_version=version
        )
    platform.deploy_serving_endpoint(spec)


def running_canary(client: MlflowClient, model_name: str, version: str) -> tuple[str, int] | None:
    """The baseline and share of ``version``'s running canary (``None``: it runs none)."""
    tags = version_tags(client, model_name, version)
    if tags.get(TAG_CANARY) != CANARY_RUNNING or not tags.get(TAG_CANARY_BASELINE):
        return None
    percent = str(tags.get(TAG_CANARY_PERCENT, ""))
    return tags[TAG_CANARY_BASELINE], int(percent) if percent.isdigit() else 10


def canary_baseline(client: MlflowClient, model_name: str, champion: str | None) -> str | None:
    """The proven version a new champion's canary is compared with: the champion, or, while
    the champion's own canary still runs, that canary's baseline (never judged: not proven)."""
    if champion is None:
        return None
    running = running_canary(client, model_name, champion)
    return champion if running is None else running[0]


def _require_passed(platform: Platform, model_name: str, version: str, action: str) -> None:
    """The version passed the gate and no one rejected it."""
    tags = version_tags(platform.mlflow_client(), model_name, version)
    status = tags.get(TAG_VALIDATION_STATUS)
    if status != VALIDATION_PASSED:
        raise DeploymentError(
            f"cannot {action} {model_name} v{version}: its validation_status is "
            f"{status or 'unset'}, not {VALIDATION_PASSED}"
        )
    if tags.get(TAG_APPROVAL) == REJECTED:
        raise DeploymentError(
            f"cannot {action} {model_name} v{version}: {tags.get(TAG_APPROVAL_BY, 'someone')} "
            f"rejected it ({tags.get(TAG_APPROVAL_REASON, 'no reason recorded')}), and a "
            "rejected version is never promoted"
        )


def _awaiting_approval(model_name: str, version: str, champion: str | None) -> AliasChange:
    current = f"v{champion}" if champion else "none yet"
    note = (
        f"not promoted: {model_name} v{version} passed validation and waits as @{CHALLENGER} "
        f"for a person's approval (champion stays {current}); approve or reject it with "
        f"approval_job (version={version}, decision=approve or reject, reason=...)"
    )
    log.info(note)
    return AliasChange(champion, None, changed=False, promoted=False, note=note)


def promote(
    platform: Platform,
    model_name: str,
    model_version: str = "",
    serving: ServingSpec | None = None,
    *,
    require_approval: bool = False,
) -> AliasChange:
    """Make ``@challenger`` the ``@champion``; the replaced champion becomes ``@previous_champion``.

    ``model_version`` (the version this job trained) must be the challenger and must have passed
    the gate, so a version that did not pass validation is never promoted, and neither is a
    rejected one. With ``require_approval`` the version must also carry ``approval=approved``
    (set by approval_job); until then nothing moves and the result says it waits
    (``promoted=False``). Promoting the current champion again is a no-op (the endpoint is still
    pointed at it, with its canary split while one runs).

    With an endpoint whose ``canary_percent`` is between 1 and 99 and a proven version to compare
    with, the new champion takes only that share of the traffic and is tagged ``canary=running``
    until canary_job judges it (:mod:`.canary`); the aliases move at once.
    """
    client = platform.mlflow_client()
    challenger = alias_version(client, model_name, CHALLENGER)
    champion = alias_version(client, model_name, CHAMPION)
    target = str(model_version).strip() or challenger
    if target is None:
        raise DeploymentError(f"{model_name} has no @{CHALLENGER}: nothing validated to promote")
    if target == champion:
        log.info("%s v%s is already the champion", model_name, target)
        if challenger == target:
            client.delete_registered_model_alias(model_name, CHALLENGER)
        running = running_canary(client, model_name, target)
        if running is not None and serving is not None:  # a running canary keeps its split
            baseline, percent = running
            serving = dataclasses.replace(serving, canary_percent=percent)
            serve_version(platform, serving, model_name, target, baseline=baseline)
        else:
            serve_version(platform, serving, model_name, target)
        return AliasChange(target, None, changed=False)
    if target != challenger:
        raise DeploymentError(
            f"{model_name} v{target} is not the challenger (challenger is {challenger}): "
            "only a version that passed validation can be promoted"
        )
    _require_passed(platform, model_name, target, "promote")
    if require_approval and version_tags(client, model_name, target).get(TAG_APPROVAL) != APPROVED:
        return _awaiting_approval(model_name, target, champion)
    baseline = canary_baseline(client, model_name, champion)
    canary = _has_endpoint(serving) and 0 < serving.canary_percent < 100 and baseline is not None
    # Serve first: if the endpoint does not become ready, the champion alias stays where it was.
    serve_version(platform, serving, model_name, target, baseline=baseline if canary else None)
    if baseline is not None:
        client.set_registered_model_alias(model_name, PREVIOUS_CHAMPION, baseline)
    if champion is not None and baseline != champion:  # its canary ends unjudged
        client.set_model_version_tag(model_name, champion, TAG_CANARY, CANARY_SUPERSEDED)
    now = _now()
    if canary:
        for key, value in {
            TAG_CANARY: CANARY_RUNNING,
            TAG_CANARY_BASELINE: str(baseline),
            TAG_CANARY_STARTED_AT: now,
            TAG_CANARY_PERCENT: str(serving.canary_percent),
        }.items():
            client.set_model_version_tag(model_name, target, key, value)
    client.set_model_version_tag(model_name, target, TAG_CHAMPION_SINCE, now)
    client.set_registered_model_alias(model_name, CHAMPION, target)
    client.delete_registered_model_alias(model_name, CHALLENGER)
    if canary:
        log.info(
            "%s: champion %s -> %s, canary: %s%% of the endpoint's traffic (v%s keeps the rest) "
            "until canary_job judges it",
            model_name,
            champion,
            target,
            serving.canary_percent,
            baseline,
        )
    else:
        log.info("%s: champion %s -> %s", model_name, champion, target)
    return AliasChange(target, champion, canary_of=baseline if canary else None)


def rollback(
    platform: Platform,
    model_name: str,
    *,
    reason: str,
    requested_by: str,
    serving: ServingSpec | None = None,
) -> AliasChange:
    """Restore ``@previous_champion`` as ``@champion``: an operator's decision, recorded.

    The restored version gets the tags ``rollback_reason``, ``rollback_by`` and a new
    ``champion_since`` (monitoring judges it only on predictions made from then on); the replaced
    version is tagged ``rolled_back=true``. The alias ``previous_champion`` is removed, so a
    second rollback fails instead of flipping back.
    """
    if not reason.strip():
        raise DeploymentError("a rollback needs a reason (the job parameter 'reason')")
    client = platform.mlflow_client()
    previous = alias_version(client, model_name, PREVIOUS_CHAMPION)
    if previous is None:
        raise DeploymentError(f"{model_name} has no @{PREVIOUS_CHAMPION} to roll back to")
    _require_passed(platform, model_name, previous, "roll back to")
    champion = alias_version(client, model_name, CHAMPION)
    serve_version(platform, serving, model_name, previous)
    for key, value in {
        TAG_ROLLBACK_REASON: reason.strip(),
        TAG_ROLLBACK_BY: requested_by.strip() or "unknown",
        TAG_CHAMPION_SINCE: _now(),
    }.items():
        client.set_model_version_tag(model_name, previous, key, value)
    client.set_registered_model_alias(model_name, CHAMPION, previous)
    client.delete_registered_model_alias(model_name, PREVIOUS_CHAMPION)
    if champion is not None and champion != previous:
        client.set_model_version_tag(model_name, champion, TAG_ROLLED_BACK, "true")
        if version_tags(client, model_name, champion).get(TAG_CANARY) == CANARY_RUNNING:
            client.set_model_version_tag(model_name, champion, TAG_CANARY, CANARY_ROLLED_BACK)
    log.info("%s: rolled back champion %s -> %s (%s)", model_name, champion, previous, reason)
    return AliasChange(previous, champion)
