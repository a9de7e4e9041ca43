"""A task's ``timeout_seconds``: a task that ran longer fails as timed out, as on Databricks.

Databricks stops the task at that moment; the local runner checks when the task returns (an
in-process task cannot be stopped safely in the middle of a py4j or gRPC call), so the outcome
is the same and the task's writes up to its end are not.
"""

from __future__ import annotations

from typing import Any

from .errors import RunnerError


def task_timeout(task: dict[str, Any]) -> float | None:
    """The task's ``timeout_seconds`` (None: unset or 0, no limit), checked as the API does."""
    raw = task.get("timeout_seconds", 0)
    seconds = -1
    if isinstance(raw, int | str) and not isinstance(raw, bool):
        try:
            seconds = int(raw)
        except ValueError:
            seconds = -1
    if seconds < 0:
        raise RunnerError(
            f"task {task['task_key']!r}: timeout_seconds is a whole number of seconds "
            f"(0: no limit), not {raw!r}"
        )
    return float(seconds) or None


def timed_out_message(task_key: str, limit: float, took: float) -> str:
    """Why a task that ran ``took`` seconds against its ``limit`` failed."""
    return (
        f"task {task_key!r} timed out: it ran {took:.1f}s, over its timeout_seconds {limit:.0f} "
        "(Databricks stops it then; locally it is failed when it returns)"
    )
