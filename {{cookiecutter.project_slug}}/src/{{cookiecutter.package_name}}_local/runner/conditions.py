"""``condition_task`` operators and ``run_if`` rules."""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterable

from .errors import RunnerError

NUMERIC_OPS: dict[str, Callable[[float, float], bool]] = {
    "GREATER_THAN": operator.gt,
    "GREATER_THAN_OR_EQUAL": operator.ge,
    "LESS_THAN": operator.lt,
    "LESS_THAN_OR_EQUAL": operator.le,
}
RUN_IF = (
    "ALL_SUCCESS",
    "ALL_DONE",
    "NONE_FAILED",
    "AT_LEAST_ONE_SUCCESS",
    "ALL_FAILED",
    "AT_LEAST_ONE_FAILED",
)

# How a finished upstream task counts for a dependent task.
SUCCESS, FAILED, EXCLUDED = "success", "failed", "excluded"


def evaluate_condition(op: str, left: str, right: str) -> bool:
    """EQUAL_TO / NOT_EQUAL compare text; the others compare numbers."""
    if op == "EQUAL_TO":
        return str(left) == str(right)
    if op == "NOT_EQUAL":
        return str(left) != str(right)
    if op not in NUMERIC_OPS:
        raise RunnerError(f"unsupported condition op {op!r}")
    try:
        return NUMERIC_OPS[op](float(left), float(right))
    except ValueError as exc:
        raise RunnerError(f"{op} needs numbers, got {left!r} and {right!r}") from exc


def run_if_decision(run_if: str, upstream: Iterable[str]) -> str | None:
    """``None`` if the task runs, else its state: ``"excluded"`` or ``"upstream_failed"``."""
    states = list(upstream)
    if run_if not in RUN_IF:
        raise RunnerError(f"unsupported run_if {run_if!r} (supported: {', '.join(RUN_IF)})")
    if not states:
        return None
    any_failed = FAILED in states
    any_success = SUCCESS in states
    if run_if == "ALL_DONE":
        return None
    if run_if == "ALL_SUCCESS":
        ok = all(s == SUCCESS for s in states)
    elif run_if == "AT_LEAST_ONE_SUCCESS":
        ok = any_success
    elif run_if == "NONE_FAILED":
        ok = not any_failed and any_success
    elif run_if == "ALL_FAILED":
        return None if all(s == FAILED for s in states) else "excluded"
    else:  # AT_LEAST_ONE_FAILED
        return None if any_failed else "excluded"
    if ok:
        return None
    return "upstream_failed" if any_failed else "excluded"
