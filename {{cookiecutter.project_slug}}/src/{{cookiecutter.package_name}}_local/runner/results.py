"""Outcomes of local job runs."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

SUCCESS = "SUCCESS"
FAILED = "FAILED"
EXCLUDED = "EXCLUDED"
UPSTREAM_FAILED = "UPSTREAM_FAILED"


@dataclass
class TaskResult:
    """One task of a run: its state, how long it took, and what it produced."""

    task_key: str
    state: str
    duration: float = 0.0
    outcome: str | None = None
    exit_value: str | None = None
    error: str | None = None
    traceback: str | None = None
    actionable: bool = False  # an expected problem whose message says what to do
    child: RunResult | None = None
    attempts: int = 1  # 1 + the retries that ran (max_retries)
    local_only: bool = False  # failed on what only the local runner refuses: not retried
    timed_out: bool = False  # stopped at its timeout_seconds


@dataclass
class RunResult:
    """A local job run: every task's result and the task values they set."""

    job_key: str
    run_id: str
    target: str
    parameters: dict[str, str]
    tasks: dict[str, TaskResult] = field(default_factory=dict)
    task_values: dict[str, dict[str, Any]] = field(default_factory=dict)
    duration: float = 0.0
    # Runs its writes started through table update triggers (the local runner starts them).
    triggered: list[RunResult] = field(default_factory=list)

    @property
    def failed_tasks(self) -> list[TaskResult]:
        """Tasks that ran and failed, in run order."""
        return [t for t in self.tasks.values() if t.state == FAILED]

    @property
    def success(self) -> bool:
        """True when no task failed."""
        return not self.failed_tasks

    @property
    def state(self) -> str:
        return SUCCESS if self.success else FAILED

    def value(self, task_key: str, key: str, default: Any = None) -> Any:
        """A task value set during the run."""
        return self.task_values.get(task_key, {}).get(key, default)

    def root_failure(self) -> TaskResult | None:
        """The innermost failing task (following run_job_task into child runs)."""
        failed = self.failed_tasks
        if not failed:
            return None
        first = failed[0]
        if first.child is not None and not first.child.success:
            return first.child.root_failure() or first
        return first

    def all_triggered(self) -> list[RunResult]:
        """Every run this one's writes started, and what those started, in start order."""
        runs = []
        for run in self.triggered:
            runs += [run, *run.all_triggered()]
        return runs
