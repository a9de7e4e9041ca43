"""Worker (runs with the rendered project on ``PYTHONPATH``): the local demo, instrumented.

Wraps (in this process only, the generated code is untouched) the calls that are overhead
rather than ML computation: Spark session start-up, MLflow store creation, ``log_model``,
``mlflow.models.evaluate``, other MLflow logging and registry calls, model loading for
scoring, and the sample generator. Time inside nested wrapped calls counts once, for the
outermost. Every wrapped call is attributed to the task that was running.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import functools
import importlib
import inspect
import io
import json
import os
import pstats
import tempfile
import time
import types
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks.common import PACKAGE


class Recorder:
    """Exclusive time per (task, category) of the wrapped calls."""

    def __init__(self) -> None:
        self.seconds: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
        self.calls: dict[str, int] = defaultdict(int)
        self.tasks: list[str] = []
        self._depth = 0

    @property
    def task(self) -> str:
        return self.tasks[-1] if self.tasks else "(outside tasks)"

    def wrap(self, category: str, func: Callable[..., Any]) -> Callable[..., Any]:
        """``func`` timed under ``category`` unless another wrapped call is already running."""

        @functools.wraps(func)
        def timed(*args: Any, **kwargs: Any) -> Any:
            if self._depth:
                return func(*args, **kwargs)
            self._depth += 1
            started = time.perf_counter()
            try:
                return func(*args, **kwargs)
            finally:
                self.seconds[self.task][category] += time.perf_counter() - started
                self.calls[category] += 1
                self._depth -= 1

        return timed

    def patch(self, owner: Any, attribute: str, category: str) -> None:
        """Replace ``owner.attribute`` by its timed version."""
        setattr(owner, attribute, self.wrap(category, getattr(owner, attribute)))


def instrument(recorder: Recorder) -> None:
    """Install the wrappers (module attributes looked up at call time by the generated code)."""
    import mlflow
    import mlflow.models
    import mlflow.pyfunc
    import mlflow.sklearn

    engine = importlib.import_module(f"{PACKAGE}_local.runner.engine")
    local = importlib.import_module(f"{PACKAGE}_local.platform")
    sample = importlib.import_module(f"{PACKAGE}_local.sample")

    recorder.patch(engine, "get_spark", "spark_startup")
    recorder.patch(local, "configure_local_mlflow", "mlflow_store_init")
    recorder.patch(mlflow.sklearn, "log_model", "mlflow_log_model")
    recorder.patch(mlflow.models, "evaluate", "mlflow_evaluate")
    for name in ("spark_udf", "load_model"):
        recorder.patch(mlflow.pyfunc, name, "mlflow_model_load")
    recorder.patch(mlflow.models, "get_model_info", "mlflow_model_load")
    for name in (
        "start_run",
        "log_params",
        "log_metrics",
        "log_metric",
        "log_figure",
        "log_dict",
        "set_tags",
        "set_experiment",
        "validate_evaluation_results",
    ):
        recorder.patch(mlflow, name, "mlflow_logging")
    for name in dir(mlflow.MlflowClient):
        static = inspect.getattr_static(mlflow.MlflowClient, name)
        if not name.startswith("_") and isinstance(static, types.FunctionType):
            recorder.patch(mlflow.MlflowClient, name, "mlflow_registry_client")
    recorder.patch(sample, "generate_trips", "sample_generation")

    run_task = engine.JobRunner._run_task

    def tracked(self: Any, task: dict[str, Any], *args: Any, **kwargs: Any) -> Any:
        context = args[0]
        recorder.tasks.append(f"{context.run_id}:{context.job_id}.{task['task_key']}")
        try:
            return run_task(self, task, *args, **kwargs)
        finally:
            recorder.tasks.pop()

    engine.JobRunner._run_task = tracked


def task_table(results: list[Any]) -> list[dict[str, Any]]:
    """Every task that ran (children of run_job_task inline, parents marked as containers)."""
    rows: list[dict[str, Any]] = []

    def visit(result: Any, step: str) -> None:
        for key, task in result.tasks.items():
            rows.append(
                {
                    "step": step,
                    "run_task": f"{result.run_id}:{result.job_key}.{key}",
                    "task": f"{result.job_key}.{key}",
                    "state": task.state,
                    "seconds": round(task.duration, 3),
                    "container": task.child is not None,
                }
            )
            if task.child is not None:
                visit(task.child, step)

    for index, result in enumerate(results, start=1):
        visit(result, f"{index}:{result.job_key}")
    return rows


def hot_functions(profile: cProfile.Profile, package_dir: Path, top: int = 25) -> list[str]:
    """The generated package's functions with the most cumulative time, and the Spark and
    Delta calls they make (py4j waits show up as the time of those calls)."""
    stats = pstats.Stats(profile)
    rows = []
    for (filename, line, name), (_, calls, _, cumulative, _) in stats.stats.items():  # type: ignore[attr-defined]
        generated = filename.startswith(str(package_dir))
        boundary = name in {
            "collect",
            "count",
            "first",
            "toArrow",
            "toPandas",
            "createDataFrame",
            "approxQuantile",
            "write_deltalake",
            "to_table",
            "_jvm_startup",
        } and ("pyspark" in filename or "deltalake" in filename)
        if generated or boundary:
            where = Path(filename).name if generated else filename.split("site-packages/")[-1]
            rows.append((cumulative, f"{cumulative:8.2f}s {calls:6d}x {where}:{line} {name}"))
    return [text for _, text in sorted(rows, reverse=True)[:top]]


def _jvm_session() -> Any:
    """The classic session of this process's JVM: the session itself, or the host of the local
    Spark Connect server (whose context runs every session's jobs)."""
    from pyspark.sql import SparkSession

    return SparkSession._instantiatedSession


def run(project: Path, profile: bool = False) -> dict[str, Any]:
    """Run the demo once, instrumented; return wall time, per-task times and overhead shares."""
    os.environ["LOCAL_STATE_DIR"] = tempfile.mkdtemp(prefix="bench-demo-state-")
    recorder = Recorder()
    instrument(recorder)
    engine = importlib.import_module(f"{PACKAGE}_local.runner.engine")
    demo = importlib.import_module(f"{PACKAGE}_local.demo")
    top_level: list[Any] = []
    run_job = engine.JobRunner.run

    def keep(self: Any, job_key: str, params: Any = None, depth: int = 0) -> Any:
        result = run_job(self, job_key, params, depth)
        if depth == 0:
            top_level.append(result)
        return result

    engine.JobRunner.run = keep
    output = io.StringIO()
    started = time.perf_counter()
    profiler = cProfile.Profile() if profile else None
    with contextlib.redirect_stdout(output):
        if profiler is not None:
            profiler.enable()
        code = demo.run_demo(project, None, {}, reset=True)
        if profiler is not None:
            profiler.disable()
    wall = time.perf_counter() - started
    print(output.getvalue()[-3000:])
    if code != 0:
        raise RuntimeError(f"the demo failed (exit {code})")

    tasks = task_table(top_level)
    for row in tasks:
        spent = recorder.seconds.get(row.pop("run_task"), {})
        row["overhead"] = {k: round(v, 3) for k, v in sorted(spent.items())}
    totals: dict[str, float] = defaultdict(float)
    for per_task in recorder.seconds.values():
        for category, seconds in per_task.items():
            totals[category] += seconds
    overhead = sum(totals.values())
    hot = hot_functions(profiler, project / "src" / PACKAGE) if profiler is not None else []
    return {
        "profiled": profile,
        "hot_functions": hot,
        "wall_seconds": round(wall, 3),
        # every Spark job of the demo (none belongs to a job group)
        "spark_jobs": len(_jvm_session().sparkContext.statusTracker().getJobIdsForGroup(None)),
        "jobs_seconds": round(sum(r.duration for r in top_level), 3),
        "categories_seconds": {k: round(v, 3) for k, v in sorted(totals.items())},
        "computation_and_rest_seconds": round(wall - overhead, 3),
        "calls": dict(recorder.calls),
        "tasks": tasks,
    }


def main() -> None:
    """CLI for the orchestrator."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--project", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--profile", action="store_true", help="also cProfile (slower)")
    args = parser.parse_args()
    args.out.write_text(json.dumps(run(args.project.resolve(), args.profile), indent=2))


if __name__ == "__main__":
    main()
