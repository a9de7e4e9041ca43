"""A person's decision on a model version: approve the waiting challenger, or reject a version.

The decision is recorded on the version itself, as tags anyone can see on its page in Catalog
Explorer: ``approval`` (``approved`` / ``rejected``), ``approval_by`` (who started the approval
run), ``approval_reason``, ``approval_at`` and ``approval_run_id``. The deploy task promotes only
a version tagged ``approved`` (when approval is required) and never one tagged ``rejected``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime

from mlflow.exceptions import MlflowException

from ..errors import ActionableError
from ..model_card import write_card
from ..names import (
    APPROVED,
    CHALLENGER,
    CHAMPION,
    REJECTED,
    TAG_APPROVAL,
    TAG_APPROVAL_AT,
    TAG_APPROVAL_BY,
    TAG_APPROVAL_REASON,
    TAG_APPROVAL_RUN_ID,
    TAG_VALIDATION_STATUS,
    VALIDATION_PASSED,
)
from ..platform.base import Platform
from ..registry import alias_version

log = logging.getLogger(__name__)

DECISIONS = {"approve": APPROVED, "reject": REJECTED}


class ApprovalError(ActionableError, ValueError):
    """The decision cannot be recorded (unknown version, not the challenger, no reason...)."""


@dataclass(frozen=True)
class Decision:
    """What was recorded on ``model_version``: ``approved`` or ``rejected``, by whom and why."""

    model_version: str
    decision: str
    decided_by: str
    reason: str

    @property
    def approved(self) -> bool:
        return self.decision == APPROVED


def _parse(version: str, decision: str, reason: str, decided_by: str) -> tuple[str, str]:
    """The version and the recorded decision, or an error naming the missing parameter."""
    verdict = DECISIONS.get(decision.strip().lower())
    if verdict is None:
        raise ApprovalError(f"decision must be 'approve' or 'reject', got {decision!r}")
    if not version.strip().isdigit():
        raise ApprovalError(f"version must be a model version number, got {version!r}")
    if not reason.strip():
        raise ApprovalError("a decision needs a reason (the job parameter 'reason')")
    if not decided_by.strip():
        raise ApprovalError("who decided is unknown: run approval_job to record a decision")
    return version.strip(), verdict


def decide(
    platform: Platform,
    model_name: str,
    *,
    version: str,
    decision: str,
    reason: str,
    decided_by: str,
    run_id: str = "",
) -> Decision:
    """Record ``decision`` (``approve`` or ``reject``) on ``version`` of ``model_name``.

    Approving needs the version to be the ``@challenger`` (it passed the gate and no newer
    version replaced it); approving it again after a failed deploy is allowed. Rejecting works on
    any version but the champion (replace the champion with rollback_job) and removes
    ``@challenger`` from it. A rejected version stays rejected: it can be neither approved nor
    rejected again.
    """
    version, verdict = _parse(version, decision, reason, decided_by)
    client = platform.mlflow_client()
    try:
        tags = dict(client.get_model_version(model_name, version).tags or {})
    except MlflowException as exc:
        raise ApprovalError(f"{model_name} has no version {version}") from exc
    if tags.get(TAG_APPROVAL) == REJECTED:
        raise ApprovalError(
            f"{model_name} v{version} was already rejected by "
            f"{tags.get(TAG_APPROVAL_BY, 'someone')} ({tags.get(TAG_APPROVAL_REASON, '')}): "
            "a rejected version is never promoted; train a new one"
        )
    champion = alias_version(client, model_name, CHAMPION)
    challenger = alias_version(client, model_name, CHALLENGER)
    if version == champion:
        hint = "nothing to approve" if verdict == APPROVED else "use rollback_job to replace it"
        raise ApprovalError(f"{model_name} v{version} is already the champion: {hint}")
    if verdict == APPROVED:
        if tags.get(TAG_VALIDATION_STATUS) != VALIDATION_PASSED:
            raise ApprovalError(
                f"{model_name} v{version} did not pass validation "
                f"(validation_status {tags.get(TAG_VALIDATION_STATUS) or 'unset'}): "
                "only a validated challenger can be approved"
            )
        if version != challenger:
            raise ApprovalError(
                f"{model_name} v{version} is not the challenger (the challenger is "
                f"{'v' + challenger if challenger else 'none'}): only the version waiting "
                "as @challenger can be approved"
            )
    record = {
        TAG_APPROVAL: verdict,
        TAG_APPROVAL_BY: decided_by.strip(),
        TAG_APPROVAL_REASON: reason.strip(),
        TAG_APPROVAL_AT: datetime.now(UTC).isoformat(timespec="seconds"),
    }
    if run_id.strip():
        record[TAG_APPROVAL_RUN_ID] = run_id.strip()
    for key, value in record.items():
        client.set_model_version_tag(model_name, version, key, value)
    if verdict == REJECTED and challenger == version:
        client.delete_registered_model_alias(model_name, CHALLENGER)
    write_card(platform, model_name, version)
    log.info("%s v%s %s by %s: %s", model_name, version, verdict, decided_by, reason)
    return Decision(version, verdict, decided_by.strip(), reason.strip())
