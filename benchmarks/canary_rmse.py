"""Benchmark 9, canary RMSE calibration: how often the canary check's RMSE rule rolls back a
canary as good as the previous champion, and how often it catches a worse one, at the default
split (10 % canary) for a range of labelled requests and thresholds."""

from __future__ import annotations

from pathlib import Path

from benchmarks.common import Context, render_project, run_worker, write_result


def run(ctx: Context) -> Path:
    log = ctx.log("canary_rmse")
    log.unlink(missing_ok=True)
    project = render_project(ctx.work / "canary_rmse", log, ["include_serving=yes"])
    trials = "2000" if ctx.quick else "20000"
    figures = run_worker("canary_rmse_worker", project, ["--trials", trials], log)
    return write_result("canary_rmse", figures)
