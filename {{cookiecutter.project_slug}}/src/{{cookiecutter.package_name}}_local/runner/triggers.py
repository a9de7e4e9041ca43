"""Table update triggers: a write to a watched table starts the job that watches it.

A job's ``trigger.table_update`` names tables; with ``condition: ANY_UPDATED`` (the default) a
new Delta version of any of them starts the job, with ``ALL_UPDATED`` every one of them must
have changed since the job was last started by its trigger (locally remembered in
``<state>/triggers/<job>.json``). A paused trigger (development mode pauses every trigger, this
bundle unpauses them in prod only) starts nothing, as on Databricks. Unlike Databricks the
local run starts the job right after the write, without ``wait_after_last_change_seconds`` or
``min_time_between_triggers_seconds``. The sample trips a first local read generates stand in
for an input that exists before the job on Databricks: laying them down is not an update.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..delta_store import created_as_seed
from .bundle import Bundle
from .errors import BundleError

ANY_UPDATED = "ANY_UPDATED"
ALL_UPDATED = "ALL_UPDATED"
_COMMIT = re.compile(r"^(\d{20})\.json$")


@dataclass(frozen=True)
class TableTrigger:
    """One job's ``trigger.table_update``."""

    job_key: str
    tables: tuple[str, ...]
    condition: str
    pause_status: str

    @property
    def paused(self) -> bool:
        return self.pause_status == "PAUSED"


def table_triggers(bundle: Bundle) -> list[TableTrigger]:
    """The table update triggers of the bundle's jobs, checked as the Jobs API would."""
    triggers = []
    for key in bundle.job_keys:
        trigger = bundle.job(key).get("trigger") or {}
        update = trigger.get("table_update")
        if update is None:
            continue
        tables = update.get("table_names") or []
        if not tables or not all(isinstance(t, str) and len(t.split(".")) == 3 for t in tables):
            raise BundleError(
                f"job {key!r}: trigger.table_update.table_names must list catalog.schema.table "
                f"names, got {tables!r}"
            )
        condition = str(update.get("condition") or ANY_UPDATED)
        if condition not in (ANY_UPDATED, ALL_UPDATED):
            raise BundleError(
                f"job {key!r}: trigger.table_update.condition is {ANY_UPDATED} or "
                f"{ALL_UPDATED}, not {condition!r}"
            )
        pause = str(trigger.get("pause_status") or "UNPAUSED")
        triggers.append(TableTrigger(key, tuple(tables), condition, pause))
    return triggers


def table_version(state: Path, table: str) -> int | None:
    """The newest Delta version of a local table, or None when it does not exist."""
    from ..state import local_source_path  # ..state imports this package: not at import time

    log = local_source_path(state, table) / "_delta_log"
    if not log.is_dir():
        return None
    versions = [int(m.group(1)) for p in log.iterdir() if (m := _COMMIT.match(p.name))]
    return max(versions, default=None)


@dataclass(frozen=True)
class Firing:
    """A trigger whose tables were updated: which ones, why its job is not started (None: it
    is), and for ``ALL_UPDATED`` every table updated since the job was last started."""

    trigger: TableTrigger
    tables: tuple[str, ...]
    held: str | None
    pending: tuple[str, ...] = ()


class TriggerWatch:
    """Which triggers a stretch of work fired: snapshot the watched tables before, ask after."""

    def __init__(self, bundle: Bundle, state: Path) -> None:
        self.state = state
        self.triggers = table_triggers(bundle)

    @property
    def tables(self) -> set[str]:
        return {table for trigger in self.triggers for table in trigger.tables}

    def snapshot(self) -> dict[str, int | None]:
        """The current version of every watched table."""
        return {table: table_version(self.state, table) for table in sorted(self.tables)}

    def updated(self, before: dict[str, int | None]) -> list[tuple[TableTrigger, tuple[str, ...]]]:
        """Every trigger whose tables changed since ``before``, with the tables that did."""
        now = self.snapshot()
        updated = {t for t, v in now.items() if v is not None and v != before.get(t)}
        updated -= {t for t in updated if before.get(t) is None and self._seeded(t, now[t])}
        found = []
        for trigger in self.triggers:
            changed = tuple(t for t in trigger.tables if t in updated)
            if changed:
                found.append((trigger, changed))
        return found

    def firing(self, trigger: TableTrigger, changed: tuple[str, ...]) -> Firing:
        """Whether the update of ``changed`` starts the job of ``trigger``, decided now (an
        ``ALL_UPDATED`` trigger counts the updates remembered so far)."""
        if trigger.paused:
            return Firing(trigger, changed, "its trigger is paused in this target")
        pending = changed
        if trigger.condition == ALL_UPDATED:
            pending = tuple(sorted(set(self._pending(trigger)) | set(changed)))
            missing = [t for t in trigger.tables if t not in pending]
            if missing:
                waiting = f"{ALL_UPDATED} waits for {', '.join(missing)}"
                return Firing(trigger, changed, waiting, pending)
        return Firing(trigger, changed, None, pending)

    def started(self, trigger: TableTrigger) -> None:
        """The job of ``trigger`` was started: an ``ALL_UPDATED`` one waits for all again."""
        if trigger.condition == ALL_UPDATED:
            self._remember(trigger, [])

    def held(self, firing: Firing) -> None:
        """The job was not started: an ``ALL_UPDATED`` trigger keeps the updates it saw."""
        trigger = firing.trigger
        if trigger.condition == ALL_UPDATED and not trigger.paused:
            self._remember(trigger, list(firing.pending))  # firing counted those remembered

    def _seeded(self, table: str, version: int | None) -> bool:
        """Whether ``table`` was only just laid down as the local stand-in for data that
        exists on Databricks (the sample a first read generates): not an update."""
        from ..state import local_source_path

        return version == 0 and created_as_seed(local_source_path(self.state, table))

    def _file(self, trigger: TableTrigger) -> Path:
        return self.state / "triggers" / f"{trigger.job_key}.json"

    def _pending(self, trigger: TableTrigger) -> list[str]:
        path = self._file(trigger)
        if not path.is_file():
            return []
        data: dict[str, Any] = json.loads(path.read_text())
        if data.get("tables") != list(trigger.tables):  # the trigger changed: start over
            return []
        return [str(t) for t in data.get("updated") or []]

    def _remember(self, trigger: TableTrigger, updated: list[str]) -> None:
        path = self._file(trigger)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"tables": list(trigger.tables), "updated": updated}) + "\n")
