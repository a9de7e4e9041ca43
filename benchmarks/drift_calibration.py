"""Benchmark 6, drift calibration: the monitoring statistics on twenty seeds of undrifted
generated trips (the maximum of every statistic), and the verdicts when one input shifts."""

from __future__ import annotations

from pathlib import Path

from benchmarks.common import Context, render_project, run_worker, write_result


def run(ctx: Context) -> Path:
    log = ctx.log("drift_calibration")
    log.unlink(missing_ok=True)
    project = render_project(ctx.work / "drift_calibration", log)
    seeds = "5" if ctx.quick else "20"
    figures = run_worker("drift_calibration_worker", project, ["--seeds", seeds], log)
    return write_result("drift_calibration", figures)
