"""Alias moves in the model registry (and the serving endpoint, when there is one)."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from ..names import CHALLENGER, CHAMPION, PREVIOUS_CHAMPION
from ..platform.base import Platform
from ..registry import alias_version

log = logging.getLogger(__name__)


class DeploymentError(RuntimeError):
    """The requested alias move is not allowed (e.g. the version was never validated)."""


@dataclass(frozen=True)
class AliasChange:
    """Champion before and after a promotion or a rollback."""

    champion_version: str
    replaced_version: str | None


def _point_endpoint(platform: Platform, endpoint_name: str, model_name: str, version: str) -> None:
    if endpoint_name.strip():
        platform.update_serving_endpoint(endpoint_name.strip(), model_name, version)


def promote(
    platform: Platform, model_name: str, model_version: str = "", serving_endpoint_name: str = ""
) -> AliasChange:
    """Make ``@challenger`` the ``@champion``; the replaced champion becomes ``@previous_champion``.

    ``model_version`` (the version this job trained) must be the challenger, so a version that
    did not pass validation is never promoted. Promoting the current champion again is a no-op.
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
        _point_endpoint(platform, serving_endpoint_name, model_name, target)
        return AliasChange(target, None)
    if target != challenger:
        raise DeploymentError(
            f"{model_name} v{target} is not the challenger (challenger is {challenger}): "
            "only a version that passed validation can be promoted"
        )
    if champion is not None:
        client.set_registered_model_alias(model_name, PREVIOUS_CHAMPION, champion)
    client.set_registered_model_alias(model_name, CHAMPION, target)
    client.delete_registered_model_alias(model_name, CHALLENGER)
    _point_endpoint(platform, serving_endpoint_name, model_name, target)
    log.info("%s: champion %s -> %s", model_name, champion, target)
    return AliasChange(target, champion)


def rollback(platform: Platform, model_name: str, serving_endpoint_name: str = "") -> AliasChange:
    """Restore ``@previous_champion`` as ``@champion``.

    The alias ``previous_champion`` is removed afterwards, so a second rollback fails instead of
    flipping back; the rolled-back version is tagged ``rolled_back=true``.
    """
    client = platform.mlflow_client()
    previous = alias_version(client, model_name, PREVIOUS_CHAMPION)
    if previous is None:
        raise DeploymentError(f"{model_name} has no @{PREVIOUS_CHAMPION} to roll back to")
    champion = alias_version(client, model_name, CHAMPION)
    client.set_registered_model_alias(model_name, CHAMPION, previous)
    client.delete_registered_model_alias(model_name, PREVIOUS_CHAMPION)
    if champion is not None and champion != previous:
        client.set_model_version_tag(model_name, champion, "rolled_back", "true")
    _point_endpoint(platform, serving_endpoint_name, model_name, previous)
    log.info("%s: rolled back champion %s -> %s", model_name, champion, previous)
    return AliasChange(previous, champion)
