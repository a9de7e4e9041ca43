"""Run a bundle job's task graph locally, in dependency order."""

from __future__ import annotations

import itertools
import os
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any

from {{ cookiecutter.package_name }}.errors import ActionableError

from ..serverless import rules_suspended
from ..spark import current_spark, get_spark, is_connect
from .attempts import task_retries, task_timeout, timed_out_message
from .bundle import Bundle, load_bundle
from .compute import bundle_runs_serverless, runs_serverless, task_directory
from .conditions import EXCLUDED as DEP_EXCLUDED
from .conditions import FAILED as DEP_FAILED
from .conditions import SUCCESS as DEP_SUCCESS
from .conditions import evaluate_condition, run_if_decision
from .dbutils import LocalDbutils, NotebookExit
from .dynamic import RunContext
from .errors import ChildJobError, RunnerError
from .results import EXCLUDED, FAILED, SUCCESS, UPSTREAM_FAILED, RunResult, TaskResult
from .triggers import TriggerWatch

SUPPORTED_TASKS = ("notebook_task", "condition_task", "run_job_task")
_RUN_IDS = itertools.count(1)
_FIGURE_IDS = itertools.count(1)


def task_order(tasks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Tasks sorted so each comes after its dependencies (ties keep the YAML order)."""
    by_key: dict[str, dict[str, Any]] = {}
    for task in tasks:
        key = task.get("task_key")
        if not key:
            raise RunnerError("every task needs a task_key")
        if key in by_key:
            raise RunnerError(f"duplicate task_key {key!r}")
        by_key[key] = task
    for key, task in by_key.items():
        for dep in task.get("depends_on") or []:
            if dep.get("task_key") not in by_key:
                raise RunnerError(f"task {key!r} depends on unknown task {dep.get('task_key')!r}")
    ordered: list[dict[str, Any]] = []
    done: set[str] = set()
    while len(ordered) < len(by_key):
        ready = [
            t
            for k, t in by_key.items()
            if k not in done and all(d["task_key"] in done for d in t.get("depends_on") or [])
        ]
        if not ready:
            cycle = sorted(set(by_key) - done)
            raise RunnerError(f"dependency cycle among tasks: {', '.join(cycle)}")
        ordered.append(ready[0])
        done.add(ready[0]["task_key"])
    return ordered


def task_type(task: dict[str, Any]) -> str:
    """The task's type key, or a clear error if the local runner cannot run it."""
    kinds = [k for k in task if k.endswith("_task")]
    if len(kinds) != 1:
        raise RunnerError(
            f"task {task['task_key']!r} must have exactly one *_task block, found {kinds or 'none'}"
        )
    if kinds[0] not in SUPPORTED_TASKS:
        raise RunnerError(
            f"task {task['task_key']!r} is a {kinds[0]}, which the local runner does not support "
            f"(supported: {', '.join(SUPPORTED_TASKS)})"
        )
    return kinds[0]


HEARTBEAT_SECONDS = 30.0


@contextmanager
def heartbeat(out: Callable[[str], None], label: str, every: float) -> Iterator[None]:
    """Print ``<label> still running (Ns)`` every ``every`` seconds until the block ends, so a
    long task never leaves minutes without output."""
    stop = threading.Event()
    started = time.perf_counter()

    def beat() -> None:
        while not stop.wait(every):
            out(f"{label} still running ({time.perf_counter() - started:.0f}s)")

    thread = threading.Thread(target=beat, name="task-heartbeat", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


def check_compute(job: dict[str, Any]) -> None:
    """Every task's ``job_cluster_key`` / ``environment_key`` names one the job declares
    (locally every task runs in this process, but a dangling key would fail the deploy)."""
    declared = {
        "job_cluster_key": {c.get("job_cluster_key") for c in job.get("job_clusters") or []},
        "environment_key": {e.get("environment_key") for e in job.get("environments") or []},
    }
    for task in job.get("tasks") or []:
        for field_name, known in declared.items():
            value = task.get(field_name)
            if value is not None and value not in known:
                raise RunnerError(
                    f"task {task.get('task_key')!r}: {field_name} {value!r} is not declared by "
                    f"the job ({', '.join(sorted(k for k in known if k)) or 'none'})"
                )


def _display(obj: Any, *args: Any, **kwargs: Any) -> None:
    """Local ``display``: a Spark or pandas frame as text, a matplotlib figure as a PNG file."""
    if hasattr(obj, "show") and hasattr(obj, "schema"):
        obj.show(20, truncate=False)
    elif hasattr(obj, "to_string"):
        print(obj.head(20).to_string())
    elif hasattr(obj, "savefig"):
        print(f"[local] figure saved to {save_figure(obj)}")
    else:
        print(obj)


def save_figure(figure: Any) -> Path:
    """Write a matplotlib figure to ``<local state>/figures/`` and return the file."""
    from ..state import state_dir

    folder = state_dir() / "figures"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"figure-{next(_FIGURE_IDS):03d}.png"
    figure.savefig(path, dpi=80)
    return path


NOTEBOOK_HEADER = "# Databricks notebook source"
CELL_SEPARATOR = "# COMMAND ----------"


def notebook_namespace(path: Path, spark: Any, dbutils: Any) -> dict[str, Any]:
    """The globals a Databricks notebook sees: ``spark``, ``dbutils``, ``display``."""
    return {
        "__name__": "__main__",
        "__file__": str(path),
        "spark": spark,
        "dbutils": dbutils,
        "display": _display,
        "displayHTML": print,
    }


def notebook_cells(path: Path) -> list[str]:
    """The cells of a Databricks source notebook, in order (split on ``# COMMAND ----------``)."""
    source = path.read_text()
    if not source.startswith(NOTEBOOK_HEADER):
        raise RunnerError(f"{path} is not a Databricks notebook (no {NOTEBOOK_HEADER!r} line)")
    return [cell for cell in source.split(CELL_SEPARATOR) if cell.strip()]


class JobRunner:
    """Runs the jobs of one bundle; nested ``run_job_task`` runs share the Spark session.

    The process's session is Spark Connect when the bundle runs any task serverless (held to
    serverless compute's rules in those tasks), classic Spark when every task runs on a job
    cluster (:mod:`..spark`); ``spark``, when given, is used instead. A top-level run whose
    writes update a table that a job's ``trigger.table_update`` watches starts that job after it
    (:mod:`.triggers`; ``follow_triggers=False`` turns this off).
    """

    def __init__(
        self,
        bundle: Bundle,
        out: Callable[[str], None] = print,
        spark: Any = None,
        heartbeat_seconds: float = HEARTBEAT_SECONDS,
        follow_triggers: bool = True,
    ) -> None:
        self.bundle = bundle
        self.follow_triggers = follow_triggers
        self.out = out
        self._spark = spark
        self.heartbeat_seconds = heartbeat_seconds
        # Whether the bundle runs any task on serverless compute.
        self.serverless = bundle_runs_serverless(bundle.resources.get("jobs") or {})
        os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
        src = bundle.root / "src"
        if src.is_dir() and str(src) not in sys.path:
            sys.path.insert(0, str(src))

    @property
    def spark(self) -> Any:
        """The session of the bundle's compute: the given one, else the process's, started as
        Spark Connect when any task is serverless (or names no compute), classic otherwise."""
        if self._spark is not None:
            return self._spark
        if self.serverless is None:
            return current_spark() or get_spark(True)
        return get_spark(self.serverless)

    def job_parameters(
        self, job: dict[str, Any], job_key: str, given: dict[str, str]
    ) -> dict[str, str]:
        """Job parameter defaults overridden by ``given`` (unknown names are an error)."""
        defaults = {p["name"]: str(p.get("default", "")) for p in job.get("parameters") or []}
        unknown = sorted(set(given) - set(defaults))
        if unknown:
            declared = ", ".join(defaults) or "none"
            raise RunnerError(
                f"job {job_key!r} has no parameter(s) {', '.join(unknown)} (declared: {declared})"
            )
        return {**defaults, **{k: str(v) for k, v in given.items()}}

    def run(self, job_key: str, params: dict[str, str] | None = None, depth: int = 0) -> RunResult:
        """Run job ``job_key``, then the jobs its writes trigger (``result.triggered``); task
        failures are recorded in the results, not raised."""
        watch = self.trigger_watch() if depth == 0 else None
        before = watch.snapshot() if watch else {}
        result = self._run(job_key, params, depth)
        if watch:
            result.triggered = self.start_triggered(watch, before, (job_key,))
        return result

    def trigger_watch(self) -> TriggerWatch | None:
        """The bundle's table update triggers, or None when there are none (or not followed)."""
        if not self.follow_triggers:
            return None
        from ..state import state_dir

        watch = TriggerWatch(self.bundle, state_dir(self.bundle.root))
        return watch if watch.triggers else None

    def start_triggered(
        self,
        watch: TriggerWatch,
        before: dict[str, int | None],
        chain: tuple[str, ...],
        seen: dict[str, dict[str, int | None]] | None = None,
    ) -> list[RunResult]:
        """Run the jobs whose triggers the writes since ``before`` fired, and what those start.
        A job in ``chain`` (the runs that led here) is not started again, nor one that already
        ran in this round after these writes (``seen``: for each job started in the round, the
        table versions it accounted for: those it started on, and the writes of its own run
        and of the runs it started, which the chain guard held)."""
        seen = {} if seen is None else seen
        started = []
        for trigger, changed in watch.updated(before):
            key = trigger.job_key
            if key in seen:  # it ran earlier in this round: only what it has not seen counts
                now = watch.snapshot()
                unseen = tuple(t for t in changed if now[t] != seen[key][t])
                if not unseen:
                    self.out(
                        f"== trigger: {', '.join(changed)} updated, {key} watches it; "
                        "not started: it already ran after these writes"
                    )
                    continue
                changed = unseen
            cause = f"== trigger: {', '.join(changed)} updated, {key} watches it"
            firing = watch.firing(trigger, changed)
            held = firing.held
            if held is None and key in chain:
                held = "it is already in this chain of triggered runs"
            if held is not None:
                watch.held(firing)
                self.out(f"{cause}; not started: {held}")
                continue
            self.out(f"{cause}: starting {key}")
            watch.started(trigger)
            next_before = watch.snapshot()
            result = self._run(key, {}, 0)
            result.triggered = self.start_triggered(watch, next_before, (*chain, key), seen)
            seen[key] = watch.snapshot()
            started.append(result)
        return started

    def _run(self, job_key: str, params: dict[str, str] | None, depth: int) -> RunResult:
        job = self.bundle.job(job_key)
        tasks = task_order(job.get("tasks") or [])
        check_compute(job)
        for task in tasks:
            task_type(task)
            task_retries(task)
            task_timeout(task)
        parameters = self.job_parameters(job, job_key, params or {})
        run_id = f"{next(_RUN_IDS)}"
        result = RunResult(job_key, run_id, self.bundle.target, parameters)
        context = RunContext(
            job_key, run_id, str(job.get("name", job_key)), parameters, result.task_values
        )
        pad = "  " * depth
        shown = " ".join(f"{k}={v!r}" for k, v in parameters.items())
        self.out(
            f"{pad}== job {job_key} (run {run_id}, target {self.bundle.target}) {shown}".rstrip()
        )
        started = time.perf_counter()
        for task in tasks:
            key = task["task_key"]
            skip = run_if_decision(task.get("run_if", "ALL_SUCCESS"), self._upstream(task, result))
            if skip is not None:
                state = EXCLUDED if skip == "excluded" else UPSTREAM_FAILED
                result.tasks[key] = TaskResult(key, state)
                self.out(f"{pad}  - {key}: {state.lower()} (not run)")
                continue
            self.out(f"{pad}  > {key}: started")
            context.task_key = key
            task_result = self._run_attempts(task, context, parameters, depth)
            result.tasks[key] = task_result
            detail = f" outcome={task_result.outcome}" if task_result.outcome is not None else ""
            if task_result.attempts > 1:
                detail += f" after {task_result.attempts} attempts"
            self.out(f"{pad}  < {key}: {task_result.state}{detail} in {task_result.duration:.1f}s")
            if task_result.state == FAILED:
                self.out(f"{pad}  ! task {key!r} of job {job_key!r} failed: {task_result.error}")
                if task_result.traceback:
                    self.out(
                        "".join(
                            f"{pad}    {line}\n" for line in task_result.traceback.splitlines()
                        ).rstrip()
                    )
        result.duration = time.perf_counter() - started
        self.out(f"{pad}== job {job_key}: {result.state} in {result.duration:.1f}s")
        return result

    @staticmethod
    def _upstream(task: dict[str, Any], result: RunResult) -> list[str]:
        """How each dependency counts: success (with a matching outcome), failed or excluded."""
        states = []
        for dep in task.get("depends_on") or []:
            upstream = result.tasks[dep["task_key"]]
            if upstream.state == SUCCESS:
                wanted = dep.get("outcome")
                matches = wanted is None or str(wanted).lower() == str(upstream.outcome).lower()
                states.append(DEP_SUCCESS if matches else DEP_EXCLUDED)
            elif upstream.state in (FAILED, UPSTREAM_FAILED):
                states.append(DEP_FAILED)
            else:
                states.append(DEP_EXCLUDED)
        return states

    def _run_attempts(
        self, task: dict[str, Any], context: RunContext, parameters: dict[str, str], depth: int
    ) -> TaskResult:
        """Run ``task``, and again while it fails, up to ``max_retries`` times, as the Jobs
        service retries a failed task run (locally at once: ``min_retry_interval_millis`` is
        not waited)."""
        retries = task_retries(task)
        spent = 0.0
        for attempt in range(1, retries + 2):
            context.task_values.pop(task["task_key"], None)  # each attempt sets its own
            result = self._run_task(task, context, parameters, depth)
            spent += result.duration
            result.attempts, result.duration = attempt, spent
            if result.state != FAILED or attempt > retries or result.local_only:
                break
            if result.timed_out and str(task.get("retry_on_timeout")).lower() != "true":
                break  # as on Databricks: a timed-out task is retried only when asked
            self.out(
                f"{'  ' * depth}  ~ {task['task_key']}: attempt {attempt} failed "
                f"({result.error}); retry {attempt} of {retries}"
            )
        return result

    def _run_task(
        self, task: dict[str, Any], context: RunContext, parameters: dict[str, str], depth: int
    ) -> TaskResult:
        key = task["task_key"]
        started = time.perf_counter()
        result = TaskResult(key, SUCCESS)
        self._task_body(task, context, parameters, depth, result)
        result.duration = time.perf_counter() - started
        limit = task_timeout(task)
        if limit is not None and result.duration > limit:  # it would have been stopped
            result.state, result.timed_out = FAILED, True
            result.error = timed_out_message(key, limit, result.duration)
            result.traceback = result.exit_value = result.outcome = None
        return result

    def _task_body(
        self,
        task: dict[str, Any],
        context: RunContext,
        parameters: dict[str, str],
        depth: int,
        result: TaskResult,
    ) -> None:
        """Run the task into ``result``; its errors are recorded there, not raised."""
        key = task["task_key"]
        try:
            kind = task_type(task)
            if kind == "notebook_task":
                label = f"{'  ' * (depth + 1)}. {key}"
                with heartbeat(self.out, label, self.heartbeat_seconds):
                    result.exit_value = self._notebook(task, context, parameters)
            elif kind == "condition_task":
                spec = context.render(task["condition_task"])
                holds = evaluate_condition(
                    spec.get("op", ""), spec.get("left", ""), spec.get("right", "")
                )
                result.outcome = "true" if holds else "false"
            else:
                spec = context.render(task["run_job_task"])
                child_key = str(spec.get("job_id", ""))
                child_params = {k: str(v) for k, v in (spec.get("job_parameters") or {}).items()}
                result.child = self.run(child_key, child_params, depth + 2)
                if not result.child.success:
                    failure = result.child.root_failure()
                    where = f" at task {failure.task_key!r}" if failure else ""
                    raise ChildJobError(
                        f"job {child_key!r} (run {result.child.run_id}) failed{where}"
                    )
        except Exception as exc:  # any task error becomes a failed task
            result.state = FAILED
            result.actionable = isinstance(exc, ActionableError)
            result.error = str(exc) if result.actionable else f"{type(exc).__name__}: {exc}"
            if not isinstance(exc, RunnerError | ActionableError):
                result.traceback = traceback.format_exc()
            # the runner's own refusals (a workspace notebook, serverless in this process)
            # would fail every attempt: not retried
            result.local_only = isinstance(exc, RunnerError) and not isinstance(exc, ChildJobError)

    def notebook_path(self, task: dict[str, Any]) -> Path:
        """The notebook file (the loader already resolved it from the file that names it)."""
        spec = task["notebook_task"]
        raw = str(spec.get("notebook_path", ""))
        if not raw:
            raise RunnerError(f"task {task['task_key']!r} has no notebook_path")
        path = Path(raw)
        if (
            spec.get("source") == "WORKSPACE"
            or not path.is_absolute()
            or raw.startswith("/Workspace")
        ):
            raise RunnerError(
                f"task {task['task_key']!r}: workspace notebook {raw!r} cannot run locally"
            )
        for candidate in (path, path.with_name(path.name + ".py")):
            if candidate.is_file():
                return candidate
        raise RunnerError(f"task {task['task_key']!r}: notebook {path} not found")

    def _notebook(
        self, task: dict[str, Any], context: RunContext, parameters: dict[str, str]
    ) -> str | None:
        path = self.notebook_path(task)
        widgets = {
            k: str(v)
            for k, v in context.render(task["notebook_task"].get("base_parameters") or {}).items()
        }
        widgets.update(parameters)  # job parameters are pushed down to every notebook task
        dbutils = LocalDbutils(widgets, context.task_values, task["task_key"])
        declared = runs_serverless(task)
        spark = self.spark
        serverless = is_connect(spark) and declared is not False
        if declared and not is_connect(spark):
            raise RunnerError(
                f"task {task['task_key']!r} runs serverless, which needs Spark Connect, and this "
                "process runs classic Spark: run it in a process of its own"
            )
        namespace = notebook_namespace(path, spark, dbutils)
        code = compile(path.read_text(), str(path), "exec")
        # A classic task on this process's Spark Connect session is not held to serverless rules.
        rules = rules_suspended() if is_connect(spark) and not serverless else nullcontext()
        try:
            with task_directory(path, serverless), rules:
                exec(code, namespace)  # running the notebook is the point
        except NotebookExit as done:
            return done.value
        return None


def run_job(
    project_dir: str | Path,
    job_key: str,
    target: str | None = None,
    params: dict[str, str] | None = None,
    *,
    variables: dict[str, str] | None = None,
    out: Callable[[str], None] = print,
    spark: Any = None,
) -> RunResult:
    """Load the bundle at ``project_dir`` and run ``job_key`` for ``target`` locally."""
    bundle = load_bundle(project_dir, target, variables)
    return JobRunner(bundle, out=out, spark=spark).run(job_key, params)
