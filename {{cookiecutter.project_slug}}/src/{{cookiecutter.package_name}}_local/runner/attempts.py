"""A task's retries and timeout, as the Jobs service applies them to a task run.

``max_retries``: a failed task runs again that many times (-1, without end on Databricks, is
capped locally). ``timeout_seconds``: Databricks stops a task that runs longer; the local runner
checks when the task returns (an in-process task cannot be stopped safely in the middle of a
py4j or gRPC call), so the outcome is the same but the task's writes up to its end happen.
"""

from __future__ import annotations

from contextlib import suppress
from typing import Any

from .errors import RunnerError

LOCAL_RETRY_CAP = 3  # for max_retries: -1, which Databricks retries without end


def _whole_number(task: dict[str, Any], field: str, default: int, lowest: int, meaning: str) -> int:
    """``task[field]`` as an int of at least ``lowest`` (a YAML int, or a variable's text)."""
    raw = task.get(field, default)
    value = lowest - 1
    if isinstance(raw, int | str) and not isinstance(raw, bool):
        with suppress(ValueError):
            value = int(raw)
    if value < lowest:
        raise RunnerError(
            f"task {task['task_key']!r}: {field} is a whole number of {meaning}, not {raw!r}"
        )
    return value


def task_retries(task: dict[str, Any]) -> int:
    """How often a failed run of ``task`` is retried (``max_retries``; 0 when unset)."""
    retries = _whole_number(task, "max_retries", 0, -1, "retries, or -1 to retry without end")
    return LOCAL_RETRY_CAP if retries == -1 else retries


def task_timeout(task: dict[str, Any]) -> float | None:
    """The task's ``timeout_seconds`` (None: unset or 0, no limit)."""
    return float(_whole_number(task, "timeout_seconds", 0, 0, "seconds (0: no limit)")) or None


def timed_out_message(task_key: str, limit: float, took: float) -> str:
    """Why a task that ran ``took`` seconds against its ``limit`` failed."""
    return (
        f"task {task_key!r} timed out: it ran {took:.1f}s, over its timeout_seconds {limit:.0f} "
        "(Databricks stops it then; locally it is failed when it returns)"
    )
