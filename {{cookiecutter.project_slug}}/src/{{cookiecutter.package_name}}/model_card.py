"""Model cards: one Markdown page per model version, from the records the jobs keep.

Written when validation judges a version and again whenever a person's decision or a champion
change touches it: the training run's data window, row counts, features and hyperparameters,
its held-out metrics, every gate check with its threshold and result, the champion it was
compared with, who approved, rejected, promoted or rolled it back and why. The card is logged
as ``model_card.md`` of the version's training run and set as the version's description.
"""

from __future__ import annotations

import logging
from typing import Any

from pyspark.sql import functions as F  # noqa: N812

from .names import (
    CHALLENGER,
    CHAMPION,
    FEATURE_COLUMNS,
    MODEL_EVENTS_TABLE,
    PREVIOUS_CHAMPION,
    TAG_APPROVAL,
    TAG_APPROVAL_AT,
    TAG_APPROVAL_BY,
    TAG_APPROVAL_REASON,
    TAG_FEATURE_SOURCE,
    TAG_VALIDATION_RUN_ID,
    TAG_VALIDATION_STATUS,
    VALIDATION_RESULTS_TABLE,
    table,
)
from .platform.base import Platform
from .registry import alias_version

log = logging.getLogger(__name__)

CARD_ARTIFACT = "model_card.md"
# The description keeps the card whole up to this length (a registry description is meant to
# be read in the UI); a longer card is cut there and points to the artifact.
DESCRIPTION_LIMIT = 4000
DATA_PARAMS = ("start_date", "end_date", "train_rows", "heldout_rows", "heldout_from")
NOT_HYPERPARAMETERS = (*DATA_PARAMS, "heldout_fraction", TAG_FEATURE_SOURCE)


def _schema_of(model_name: str) -> tuple[str, str]:
    parts = model_name.split(".")
    if len(parts) != 3 or not all(parts):
        raise ValueError(
            f"expected a three-part model name catalog.schema.model, got {model_name!r}"
        )
    return parts[0], parts[1]


def _rows(platform: Platform, name: str, model_name: str, version: str) -> list[dict[str, Any]]:
    """The rows of ``name`` about ``model_name`` v``version`` (none before the table exists)."""
    if not platform.table_exists(name):
        return []
    frame = platform.read_table(name).where(
        (F.col("model_name") == model_name) & (F.col("model_version") == str(version))
    )
    return [row.asDict() for row in frame.collect()]


def _cell(value: Any) -> str:
    return str("" if value is None else value).replace("|", "\\|").replace("\n", " ")


def _table(header: list[str], rows: list[list[Any]]) -> list[str]:
    lines = [f"| {' | '.join(header)} |", f"|{'---|' * len(header)}"]
    lines += [f"| {' | '.join(_cell(v) for v in row)} |" for row in rows]
    return lines


def build_card(platform: Platform, model_name: str, version: str) -> str:
    """The Markdown card of ``model_name`` v``version`` as the records stand now."""
    catalog, schema = _schema_of(model_name)
    client = platform.mlflow_client()
    mv = client.get_model_version(model_name, str(version))
    tags = dict(mv.tags or {})
    run = client.get_run(mv.run_id)
    params, metrics = run.data.params, run.data.metrics
    aliases = [
        alias
        for alias in (CHAMPION, CHALLENGER, PREVIOUS_CHAMPION)
        if alias_version(client, model_name, alias) == str(version)
    ]
    validation_run = tags.get(TAG_VALIDATION_RUN_ID, "")
    checks = [
        r
        for r in _rows(
            platform, table(catalog, schema, VALIDATION_RESULTS_TABLE), model_name, version
        )
        if not validation_run or r["run_id"] == validation_run
    ]
    events = sorted(
        _rows(platform, table(catalog, schema, MODEL_EVENTS_TABLE), model_name, version),
        key=lambda r: r["event_time"],
    )
    lines = [
        f"# {model_name} v{version}",
        "",
        *_table(
            ["", ""],
            [
                ["status", f"validation {tags.get(TAG_VALIDATION_STATUS, 'not run')}"],
                ["aliases", ", ".join(f"@{a}" for a in aliases) or "none"],
                [
                    "training run",
                    f"`{mv.run_id}` (experiment {run.info.experiment_id}: "
                    f"ml/experiments/{run.info.experiment_id}/runs/{mv.run_id})",
                ],
                [
                    "data window",
                    f"{params.get('start_date') or 'start'} .. {params.get('end_date') or 'end'}",
                ],
                [
                    "rows",
                    f"{params.get('train_rows', '?')} training, {params.get('heldout_rows', '?')} "
                    f"held out (the latest trips, from {params.get('heldout_from', '?')})",
                ],
                [
                    "features",
                    f"{', '.join(FEATURE_COLUMNS)} (source: "
                    f"{tags.get(TAG_FEATURE_SOURCE, params.get(TAG_FEATURE_SOURCE, '?'))})",
                ],
                [
                    "hyperparameters",
                    ", ".join(
                        f"{k}={v}"
                        for k, v in sorted(params.items())
                        if k not in NOT_HYPERPARAMETERS
                    ),
                ],
            ],
        ),
        "",
        "## Metrics on the held-out trips",
        "",
        *_table(
            ["metric", "value"],
            [
                [k.removeprefix("heldout_"), f"{v:.4f}"]
                for k, v in sorted(metrics.items())
                if k.startswith("heldout_")
            ],
        ),
        "",
        "## Validation gate",
        "",
    ]
    if checks:
        first = checks[0]
        champion = first.get("champion_version")
        lines += [
            f"Run `{first['run_id']}`, {first['validation_mode']} mode, "
            f"{first['validated_at']:%Y-%m-%d %H:%M} UTC; compared with "
            + (f"champion v{champion}." if champion else "no champion (none yet)."),
            "",
            *_table(
                ["check", "result", "threshold and values"],
                [[c["check"], "passed" if c["passed"] else "FAILED", c["detail"]] for c in checks],
            ),
        ]
    else:
        lines.append("Not judged yet.")
    lines += ["", "## Decisions", ""]
    decisions = []
    if tags.get(TAG_APPROVAL):
        decisions.append(
            [
                tags.get(TAG_APPROVAL_AT, ""),
                tags[TAG_APPROVAL],
                tags.get(TAG_APPROVAL_BY, ""),
                tags.get(TAG_APPROVAL_REASON, ""),
            ]
        )
    decisions += [
        [f"{e['event_time']:%Y-%m-%dT%H:%M:%S}", e["event"], e["actor"], e["reason"]]
        for e in events
    ]
    lines += _table(["time", "decision", "by", "reason"], decisions) if decisions else ["None yet."]
    return "\n".join(lines) + "\n"


def description_of(card: str, run_id: str) -> str:
    """The card as a version description, cut to :data:`DESCRIPTION_LIMIT` characters."""
    if len(card) <= DESCRIPTION_LIMIT:
        return card
    note = f"\n\n(cut: the whole card is {CARD_ARTIFACT} of run {run_id})\n"
    return card[: DESCRIPTION_LIMIT - len(note)].rsplit("\n", 1)[0] + note


def write_card(platform: Platform, model_name: str, version: str) -> str:
    """Build the card, log it as ``model_card.md`` of the training run and set it as the
    version's description; return it."""
    client = platform.mlflow_client()
    run_id = client.get_model_version(model_name, str(version)).run_id
    if not run_id:  # registered by hand, outside a training run: nothing to describe
        log.info("%s v%s has no training run: no model card", model_name, version)
        return ""
    card = build_card(platform, model_name, version)
    client.log_text(run_id, card, CARD_ARTIFACT)
    client.update_model_version(model_name, str(version), description=description_of(card, run_id))
    log.info("model card of %s v%s updated", model_name, version)
    return card
