"""Benchmark 2, local lifecycle: the generated project's ``demo``, per task, with the share of
Spark start-up and MLflow overhead versus computation (see :mod:`benchmarks.lifecycle_worker`)."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from benchmarks.common import Context, median, render_project, run_worker, write_result

OVERHEAD_GROUPS = {
    "spark_startup": ("spark_startup",),
    "mlflow_log_model": ("mlflow_log_model",),
    "mlflow_other": (
        "mlflow_store_init",
        "mlflow_logging",
        "mlflow_registry_client",
        "mlflow_model_load",
    ),
    "mlflow_evaluate": ("mlflow_evaluate",),
    "sample_generation": ("sample_generation",),
}


def run(ctx: Context) -> dict[str, Any]:
    """Run the demo ``ctx.repeat`` times in fresh processes; report medians."""
    log = ctx.log("lifecycle")
    log.unlink(missing_ok=True)
    project = render_project(ctx.work / "lifecycle", log)
    runs = [run_worker("lifecycle_worker", project, [], log) for _ in range(ctx.repeat)]
    wall = median([r["wall_seconds"] for r in runs])
    categories = sorted({c for r in runs for c in r["categories_seconds"]})
    per_category = {
        c: median([r["categories_seconds"].get(c, 0.0) for r in runs]) for c in categories
    }
    shares = {}
    for group, members in OVERHEAD_GROUPS.items():
        seconds = median([sum(r["categories_seconds"].get(m, 0.0) for m in members) for r in runs])
        shares[group] = {"seconds": seconds, "share": round(seconds / wall, 3)}
    rest = median([r["computation_and_rest_seconds"] for r in runs])
    shares["computation_and_rest"] = {"seconds": rest, "share": round(rest / wall, 3)}

    task_seconds: dict[str, list[float]] = defaultdict(list)
    for r in runs:
        for t in r["tasks"]:
            if not t["container"]:
                task_seconds[f"{t['step']} {t['task']}"].append(t["seconds"])
    figures = {
        "runs": len(runs),
        # each run is a fresh process (cold); the first is the headline, the median beside it
        "demo_wall_seconds_first_run": runs[0]["wall_seconds"],
        "demo_wall_seconds": wall,
        "demo_wall_seconds_all_runs": [r["wall_seconds"] for r in runs],
        "spark_jobs": runs[0].get("spark_jobs"),
        "target_seconds": 30,
        "target_met": runs[0]["wall_seconds"] <= 30,
        "shares": shares,
        "categories_seconds": per_category,
        "task_seconds": {k: median(v) for k, v in task_seconds.items()},
        "last_run_tasks": runs[-1]["tasks"],
    }
    write_result("lifecycle", figures)
    return figures
