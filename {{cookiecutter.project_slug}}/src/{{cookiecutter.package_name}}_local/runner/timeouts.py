"""A task's ``timeout_seconds``: the task is stopped when it runs longer, as Databricks stops it.

The deadline is a real-time interval timer whose signal raises :class:`TaskTimedOut` in the
task's code, wherever it is; nested deadlines (a ``run_job_task`` and the tasks of the job it
runs) share the timer, which always waits for the nearest one. ``TaskTimedOut`` is a
``BaseException``, so a notebook's ``except Exception`` does not swallow it. Off the main
thread, or where the platform has no interval timer, a task that ran too long is failed when it
returns instead.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from .errors import RunnerError


class TaskTimedOut(BaseException):
    """A task ran longer than its ``timeout_seconds``: ``owner`` is that deadline's token."""

    def __init__(self, message: str, owner: object) -> None:
        super().__init__(message)
        self.owner = owner

    def __str__(self) -> str:
        return str(self.args[0])


_deadlines: list[tuple[float, str]] = []  # (monotonic deadline, message), outermost first


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


def _can_interrupt() -> bool:
    return hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()


def _expire(signum: int, frame: object) -> None:
    now = time.monotonic()
    due = [entry for entry in _deadlines if entry[0] <= now] or _deadlines[:1]
    raise TaskTimedOut(due[0][1], due[0])


def _arm() -> None:
    """Set the timer for the nearest deadline (none left: off)."""
    if not _deadlines:
        signal.setitimer(signal.ITIMER_REAL, 0)
        return
    nearest = min(deadline for deadline, _ in _deadlines)
    signal.setitimer(signal.ITIMER_REAL, max(nearest - time.monotonic(), 1e-3))


@contextmanager
def deadline(seconds: float | None, message: str) -> Iterator[object]:
    """Raise ``TaskTimedOut(message)`` in the block once it has run ``seconds``; yields the
    token the exception's ``owner`` is (an outer deadline's exception passes through)."""
    started = time.monotonic()
    entry = (started + (seconds or 0.0), message)
    if not seconds:
        yield None
        return
    if not _can_interrupt():
        yield entry
        if time.monotonic() - started > seconds:
            raise TaskTimedOut(message, entry)
        return
    outermost = not _deadlines
    previous = signal.signal(signal.SIGALRM, _expire) if outermost else None
    _deadlines.append(entry)
    _arm()
    try:
        yield entry
    finally:
        _deadlines.remove(entry)
        _arm()
        if outermost:
            signal.signal(signal.SIGALRM, previous or signal.SIG_DFL)
