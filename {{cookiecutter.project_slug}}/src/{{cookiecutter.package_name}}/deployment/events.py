"""``model_events``: one row per champion change, appended by the deploy and rollback tasks.

The registry keeps only the current aliases; this table keeps their history (which version
became champion when, replacing which, by whom and why) for the monitoring dashboard.
"""

from __future__ import annotations

from datetime import UTC, datetime

from pyspark.sql import types as T  # noqa: N812

from ..model_card import write_card
from ..names import (
    APPROVED,
    CHAMPION,
    MODEL_EVENTS_TABLE,
    TAG_APPROVAL,
    TAG_APPROVAL_BY,
    TAG_APPROVAL_REASON,
)
from ..platform.base import Platform
from ..registry import version_tags
from .promote import AliasChange

PROMOTED = "promoted"
ROLLED_BACK = "rolled_back"

EVENTS_SCHEMA = T.StructType(
    [
        T.StructField("event_time", T.TimestampType()),
        T.StructField("model_name", T.StringType()),
        T.StructField("alias", T.StringType()),
        T.StructField("event", T.StringType()),
        T.StructField("model_version", T.StringType()),
        T.StructField("previous_version", T.StringType()),
        T.StructField("actor", T.StringType()),
        T.StructField("reason", T.StringType()),
    ]
)


def events_table(model_name: str) -> str:
    """``catalog.schema.model_events`` beside the model ``catalog.schema.model``."""
    parts = model_name.split(".")
    if len(parts) != 3 or not all(parts):
        raise ValueError(
            f"expected a three-part model name catalog.schema.model, got {model_name!r}"
        )
    return f"{parts[0]}.{parts[1]}.{MODEL_EVENTS_TABLE}"


def record_alias_change(
    platform: Platform,
    model_name: str,
    change: AliasChange,
    *,
    event: str,
    actor: str = "",
    reason: str = "",
) -> bool:
    """Append the champion change to ``model_events``; a no-op promotion records nothing.

    ``actor`` defaults to the identity the task runs as (``current_user()``).
    """
    if not change.changed:
        return False
    row = (
        datetime.now(UTC),
        model_name,
        CHAMPION,
        event,
        str(change.champion_version),
        None if change.replaced_version is None else str(change.replaced_version),
        actor.strip() or platform.current_user(),
        reason.strip(),
    )
    frame = platform.spark.createDataFrame([row], EVENTS_SCHEMA)
    platform.write_table(frame, events_table(model_name), "append")
    for version in (change.champion_version, change.replaced_version):
        if version is not None:  # their cards list the change (and the aliases it moved)
            write_card(platform, model_name, str(version))
    return True


def record_promotion(platform: Platform, model_name: str, change: AliasChange) -> bool:
    """Append a promotion to ``model_events``: by the approver, with their reason, when a person
    approved the version (approval_job); otherwise by the task's identity, for passing the gate."""
    if not change.changed:
        return False
    tags = version_tags(platform.mlflow_client(), model_name, str(change.champion_version))
    if tags.get(TAG_APPROVAL) == APPROVED:
        actor = tags.get(TAG_APPROVAL_BY, "")
        reason = f"approved: {tags.get(TAG_APPROVAL_REASON, '')}".rstrip(": ")
    else:
        actor, reason = "", "passed the validation gate"
    return record_alias_change(
        platform, model_name, change, event=PROMOTED, actor=actor, reason=reason
    )
