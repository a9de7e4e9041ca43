"""A person's decision on a model version, recorded on the version (real SQLite registry)."""

from __future__ import annotations

from datetime import datetime

import pytest

from {{ cookiecutter.package_name }}.deployment.approval import ApprovalError, decide
from {{ cookiecutter.package_name }}.deployment.promote import promote
from {{ cookiecutter.package_name }}.names import (
    TAG_APPROVAL,
    TAG_APPROVAL_AT,
    TAG_APPROVAL_BY,
    TAG_APPROVAL_REASON,
    TAG_APPROVAL_RUN_ID,
    TAG_VALIDATION_STATUS,
)

from .registry import MODEL, RegistryPlatform, aliases, make_registry, tags


@pytest.fixture
def registry(tmp_path) -> RegistryPlatform:
    """Versions 1-3 passed the gate; v1 is champion, v2 waits as challenger."""
    platform = make_registry(tmp_path / "state")
    platform.client.set_registered_model_alias(MODEL, "champion", "1")
    platform.client.set_registered_model_alias(MODEL, "challenger", "2")
    return platform


def _decide(platform, version="2", decision="approve", reason="beats v1 on airport trips"):
    return decide(
        platform,
        MODEL,
        version=version,
        decision=decision,
        reason=reason,
        decided_by="jane@example.com",
        run_id="42",
    )


def test_approval_is_recorded_on_the_version_then_promotion_goes_through(registry):
    result = _decide(registry)

    assert result.approved and result.model_version == "2"
    recorded = tags(registry, "2")
    assert recorded[TAG_APPROVAL] == "approved"
    assert recorded[TAG_APPROVAL_BY] == "jane@example.com"
    assert recorded[TAG_APPROVAL_REASON] == "beats v1 on airport trips"
    assert recorded[TAG_APPROVAL_RUN_ID] == "42"
    assert datetime.fromisoformat(recorded[TAG_APPROVAL_AT]).tzinfo is not None
    assert aliases(registry) == {"champion": "1", "challenger": "2"}  # deciding moves nothing
    assert promote(registry, MODEL, "2", require_approval=True).promoted
    assert aliases(registry) == {"champion": "2", "previous_champion": "1"}


def test_a_rejected_challenger_loses_its_alias_and_stays_rejected(registry):
    result = _decide(registry, decision="Reject", reason="unstable on weekends")

    assert not result.approved
    assert tags(registry, "2")[TAG_APPROVAL] == "rejected"
    assert aliases(registry) == {"champion": "1"}
    for decision in ("approve", "reject"):
        with pytest.raises(ApprovalError, match=r"already rejected by jane@example\.com"):
            _decide(registry, decision=decision)


def test_only_the_waiting_challenger_can_be_approved(registry):
    with pytest.raises(ApprovalError, match="v3 is not the challenger \\(the challenger is v2\\)"):
        _decide(registry, version="3")
    registry.client.set_model_version_tag(MODEL, "2", TAG_VALIDATION_STATUS, "failed")
    with pytest.raises(ApprovalError, match="did not pass validation"):
        _decide(registry)
    with pytest.raises(ApprovalError, match="already the champion: nothing to approve"):
        _decide(registry, version="1")
    with pytest.raises(ApprovalError, match="use rollback_job"):
        _decide(registry, version="1", decision="reject")
    assert TAG_APPROVAL not in tags(registry, "3")


def test_any_other_version_can_be_rejected_ahead(registry):
    _decide(registry, version="3", decision="reject", reason="trained on a bad window")
    assert tags(registry, "3")[TAG_APPROVAL] == "rejected"
    assert aliases(registry) == {"champion": "1", "challenger": "2"}


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"decision": "maybe"}, "decision must be 'approve' or 'reject'"),
        ({"decision": ""}, "decision must be 'approve' or 'reject'"),
        ({"version": ""}, "version must be a model version number"),
        ({"version": "v2"}, "version must be a model version number"),
        ({"reason": "  "}, "needs a reason"),
        ({"version": "9"}, "has no version 9"),
    ],
)
def test_bad_parameters_are_named(registry, changes, message):
    with pytest.raises(ApprovalError, match=message):
        _decide(registry, **changes)
    assert TAG_APPROVAL not in tags(registry, "2")


def test_a_decision_needs_an_author(registry):
    with pytest.raises(ApprovalError, match="who decided is unknown"):
        decide(registry, MODEL, version="2", decision="approve", reason="ok", decided_by=" ")
