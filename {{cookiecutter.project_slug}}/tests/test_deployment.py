"""Promotion and rollback: alias moves and version tags in a real (SQLite) MLflow registry."""

from __future__ import annotations

import dataclasses
import logging
from datetime import datetime

import pytest

from {{ cookiecutter.package_name }}.deployment.events import (
    PROMOTED,
    ROLLED_BACK,
    events_table,
    record_alias_change,
    record_promotion,
)
from {{ cookiecutter.package_name }}.deployment.promote import (
    AliasChange,
    DeploymentError,
    parse_require_approval,
    promote,
    rollback,
)
from {{ cookiecutter.package_name }}.model_card import CARD_ARTIFACT, DESCRIPTION_LIMIT, description_of
from {{ cookiecutter.package_name }}.names import (
    TAG_APPROVAL,
    TAG_APPROVAL_BY,
    TAG_APPROVAL_REASON,
    TAG_CHAMPION_SINCE,
    TAG_ROLLBACK_BY,
    TAG_ROLLBACK_REASON,
    TAG_ROLLED_BACK,
    TAG_VALIDATION_STATUS,
    VALIDATION_ABANDONED,
)
from {{ cookiecutter.package_name }}.platform.base import ServingEndpointError, ServingSpec

from .registry import MODEL, RegistryPlatform, aliases, make_registry, tags

SERVING = ServingSpec("fare-endpoint", "", "", query_group="readers", inference_table="dev.taxi")


@pytest.fixture
def registry(tmp_path) -> RegistryPlatform:
    """Model versions 1-3, each passed the gate unless a test says otherwise."""
    return make_registry(tmp_path / "state")


def test_promote_keeps_the_old_champion_as_previous_and_serves_the_new_one(registry):
    registry.client.set_registered_model_alias(MODEL, "champion", "1")
    registry.client.set_registered_model_alias(MODEL, "challenger", "2")

    change = promote(registry, MODEL, "2", SERVING)

    assert (change.champion_version, change.replaced_version) == ("2", "1")
    assert aliases(registry) == {"champion": "2", "previous_champion": "1"}
    assert [(s.endpoint_name, s.model_name, s.model_version) for s in registry.served] == [
        ("fare-endpoint", MODEL, "2")
    ]
    assert datetime.fromisoformat(tags(registry, "2")[TAG_CHAMPION_SINCE]).tzinfo is not None


def test_promoting_the_champion_again_changes_nothing(registry):
    registry.client.set_registered_model_alias(MODEL, "champion", "2")
    change = promote(registry, MODEL, "2")
    assert change == AliasChange("2", None, changed=False)


def test_first_promotion_without_an_endpoint(registry):
    registry.client.set_registered_model_alias(MODEL, "challenger", "1")
    assert promote(registry, MODEL, "").champion_version == "1"
    assert aliases(registry) == {"champion": "1"}
    assert registry.served == []


def test_only_the_validated_challenger_is_promoted(registry):
    registry.client.set_registered_model_alias(MODEL, "champion", "1")
    registry.client.set_registered_model_alias(MODEL, "challenger", "2")
    with pytest.raises(DeploymentError, match="not the challenger"):
        promote(registry, MODEL, "3")
    registry.client.set_model_version_tag(MODEL, "2", TAG_VALIDATION_STATUS, VALIDATION_ABANDONED)
    with pytest.raises(DeploymentError, match="validation_status is abandoned"):
        promote(registry, MODEL, "2")
    assert aliases(registry) == {"champion": "1", "challenger": "2"}


def test_promoting_with_no_challenger_is_an_error(registry):
    with pytest.raises(DeploymentError, match="nothing validated"):
        promote(registry, MODEL, "")


def test_an_endpoint_that_does_not_become_ready_keeps_the_champion(registry):
    registry.client.set_registered_model_alias(MODEL, "champion", "1")
    registry.client.set_registered_model_alias(MODEL, "challenger", "2")
    failing = RegistryPlatform(registry.client, endpoint_fails=True)
    with pytest.raises(ServingEndpointError):
        promote(failing, MODEL, "2", SERVING)
    assert aliases(registry) == {"champion": "1", "challenger": "2"}


def test_a_model_whose_features_are_not_online_is_not_served_and_stays_challenger(registry):
    """An endpoint that looks features up cannot become ready before they are published: the
    deploy task stops at once, naming what to run, and no alias moves."""
    registry.client.set_registered_model_alias(MODEL, "champion", "1")
    registry.client.set_registered_model_alias(MODEL, "challenger", "2")
    online = ("dev.taxi.pickup_features_online", "dev.taxi.dropoff_features_online")
    registry.online = {online[0]}
    serving = dataclasses.replace(SERVING, online_tables=online)
    with pytest.raises(
        DeploymentError,
        match=r"dropoff_features_online never published.*"
        r"feature_refresh_job",
    ):
        promote(registry, MODEL, "2", serving)
    assert aliases(registry) == {"champion": "1", "challenger": "2"}
    assert registry.served == []
    registry.online.add(online[1])
    assert promote(registry, MODEL, "2", serving).champion_version == "2"
    assert [s.online_tables for s in registry.served] == [online]


def test_an_empty_endpoint_name_promotes_without_serving_and_says_so(registry, caplog):
    registry.client.set_registered_model_alias(MODEL, "challenger", "1")
    serving = dataclasses.replace(SERVING, endpoint_name="", online_tables=("dev.taxi.x",))
    with caplog.at_level(logging.WARNING):
        assert promote(registry, MODEL, "1", serving).champion_version == "1"
    assert registry.served == []
    assert "serving endpoint skipped: serving_endpoint_name is empty" in caplog.text


def test_rollback_restores_the_previous_champion_once_and_records_why(registry):
    registry.client.set_registered_model_alias(MODEL, "champion", "2")
    registry.client.set_registered_model_alias(MODEL, "previous_champion", "1")

    change = rollback(
        registry, MODEL, reason="v2 misprices airport trips", requested_by="jane", serving=SERVING
    )

    assert (change.champion_version, change.replaced_version) == ("1", "2")
    assert aliases(registry) == {"champion": "1"}
    restored = tags(registry, "1")
    assert restored[TAG_ROLLBACK_REASON] == "v2 misprices airport trips"
    assert restored[TAG_ROLLBACK_BY] == "jane"
    assert TAG_CHAMPION_SINCE in restored
    assert tags(registry, "2")[TAG_ROLLED_BACK] == "true"
    assert [s.model_version for s in registry.served] == ["1"]
    with pytest.raises(DeploymentError, match="no @previous_champion"):
        rollback(registry, MODEL, reason="again", requested_by="jane")


def test_rollback_needs_a_reason_and_a_version_that_passed(registry):
    registry.client.set_registered_model_alias(MODEL, "champion", "2")
    registry.client.set_registered_model_alias(MODEL, "previous_champion", "1")
    with pytest.raises(DeploymentError, match="needs a reason"):
        rollback(registry, MODEL, reason=" ", requested_by="jane")
    registry.client.set_model_version_tag(MODEL, "1", TAG_VALIDATION_STATUS, VALIDATION_ABANDONED)
    with pytest.raises(DeploymentError, match="cannot roll back to"):
        rollback(registry, MODEL, reason="bad v2", requested_by="jane")
    assert aliases(registry) == {"champion": "2", "previous_champion": "1"}


def test_champion_changes_are_appended_to_model_events(local_platform):
    make_registry(local_platform.state, versions=2)  # the platform's own registry
    table = events_table(MODEL)
    assert table == "dev.taxi.model_events"
    assert record_alias_change(local_platform, MODEL, AliasChange("1", None), event=PROMOTED)
    assert not record_alias_change(
        local_platform, MODEL, AliasChange("1", None, changed=False), event=PROMOTED
    )
    record_alias_change(
        local_platform,
        MODEL,
        AliasChange("1", "2"),
        event=ROLLED_BACK,
        actor="jane",
        reason="v2 misprices airport trips",
    )
    rows = local_platform.read_table(table).orderBy("event_time").collect()
    assert [(r.event, r.model_version, r.previous_version) for r in rows] == [
        (PROMOTED, "1", None),
        (ROLLED_BACK, "1", "2"),
    ]
    assert rows[0].actor == local_platform.current_user() != ""
    assert (rows[1].actor, rows[1].reason, rows[1].alias) == (
        "jane",
        "v2 misprices airport trips",
        "champion",
    )
    with pytest.raises(ValueError, match="three-part"):
        events_table("model")


def test_a_promotion_is_recorded_with_its_approver_or_as_passing_the_gate(local_platform, tmp_path):
    registry = make_registry(tmp_path / "state", versions=2)  # the platform's own registry
    approval = {TAG_APPROVAL: "approved", TAG_APPROVAL_BY: "jane", TAG_APPROVAL_REASON: "beats v1"}
    for key, value in approval.items():
        registry.client.set_model_version_tag(MODEL, "2", key, value)
    assert record_promotion(local_platform, MODEL, AliasChange("1", None))
    waiting = AliasChange("1", None, changed=False, promoted=False, note="waits")
    assert not record_promotion(local_platform, MODEL, waiting)
    assert record_promotion(local_platform, MODEL, AliasChange("2", "1"))
    rows = local_platform.read_table(events_table(MODEL)).orderBy("event_time").collect()
    assert [(r.model_version, r.previous_version, r.actor, r.reason) for r in rows] == [
        ("1", None, local_platform.current_user(), "passed the validation gate"),
        ("2", "1", "jane", "approved: beats v1"),
    ]


def _reject(platform: RegistryPlatform, version: str) -> None:
    for key, value in {TAG_APPROVAL: "rejected", TAG_APPROVAL_BY: "jane"}.items():
        platform.client.set_model_version_tag(MODEL, version, key, value)
    platform.client.set_model_version_tag(MODEL, version, TAG_APPROVAL_REASON, "overfits")


def test_with_approval_required_an_unapproved_challenger_waits(registry):
    registry.client.set_registered_model_alias(MODEL, "champion", "1")
    registry.client.set_registered_model_alias(MODEL, "challenger", "2")

    change = promote(registry, MODEL, "2", SERVING, require_approval=True)

    assert not change.promoted
    assert (change.champion_version, change.replaced_version) == ("1", None)
    assert "v2 passed validation and waits as @challenger" in change.note
    assert "approval_job (version=2" in change.note
    assert aliases(registry) == {"champion": "1", "challenger": "2"}
    assert registry.served == []


def test_with_approval_required_an_approved_challenger_is_promoted(registry):
    registry.client.set_registered_model_alias(MODEL, "challenger", "2")
    registry.client.set_model_version_tag(MODEL, "2", TAG_APPROVAL, "approved")

    change = promote(registry, MODEL, "2", SERVING, require_approval=True)

    assert change.promoted and change.champion_version == "2"
    assert aliases(registry) == {"champion": "2"}
    assert [s.model_version for s in registry.served] == ["2"]


def test_a_rejected_version_is_never_promoted_or_rolled_back_to(registry):
    registry.client.set_registered_model_alias(MODEL, "challenger", "2")
    _reject(registry, "2")
    for require_approval in (True, False):
        with pytest.raises(DeploymentError, match="jane rejected it \\(overfits\\)"):
            promote(registry, MODEL, "2", require_approval=require_approval)
    registry.client.set_registered_model_alias(MODEL, "champion", "3")
    registry.client.set_registered_model_alias(MODEL, "previous_champion", "2")
    with pytest.raises(DeploymentError, match=r"cannot roll back to .* v2: jane rejected it"):
        rollback(registry, MODEL, reason="v3 is worse", requested_by="ops")
    assert aliases(registry) == {"champion": "3", "challenger": "2", "previous_champion": "2"}


@pytest.mark.parametrize(("text", "expected"), [("true", True), (" False ", False)])
def test_require_approval_parameter(text, expected):
    assert parse_require_approval(text) is expected


def test_require_approval_parameter_rejects_anything_else():
    with pytest.raises(DeploymentError, match="require_approval must be 'true' or 'false'"):
        parse_require_approval("yes")


def test_a_card_longer_than_the_description_limit_is_cut_and_points_to_the_artifact():
    card = "# m v1\n" + "".join(f"| check_{i} | passed | detail |\n" for i in range(400))
    assert len(card) > DESCRIPTION_LIMIT
    cut = description_of(card, "run-7")
    assert len(cut) <= DESCRIPTION_LIMIT
    assert cut.endswith(f"(cut: the whole card is {CARD_ARTIFACT} of run run-7)\n")
    assert card.startswith(cut.split("\n\n(cut")[0])  # whole lines only
    assert description_of("# short\n", "run-7") == "# short\n"
