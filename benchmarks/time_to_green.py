"""Benchmark 1, time to green: render, install into a fresh venv, run the generated tests."""

from __future__ import annotations

import shutil
import sys
import time
from typing import Any

from benchmarks.common import (
    Context,
    env_with,
    median,
    render_project,
    run_command,
    run_timed,
    write_result,
)


def once(ctx: Context, index: int) -> dict[str, float]:
    """One render -> venv -> ``pip install -e .[local,dev] -c constraints.txt`` -> pytest."""
    log = ctx.log(f"time_to_green-{index}")
    log.unlink(missing_ok=True)
    base = ctx.work / "time-to-green"
    venv = base / "venv"
    shutil.rmtree(base, ignore_errors=True)
    env = env_with()
    figures: dict[str, float] = {}

    started = time.perf_counter()
    project = render_project(base / "render", log)
    figures["render_seconds"] = time.perf_counter() - started
    # The venv is created from the same interpreter the main venv uses (Python 3.11).
    figures["venv_seconds"] = run_timed([sys.executable, "-m", "venv", venv], log, env=env)
    python = venv / "bin" / "python"
    figures["install_seconds"] = run_timed(
        [python, "-m", "pip", "install", "--quiet", "-e", ".[local,dev]", "-c", "constraints.txt"],
        log,
        cwd=project,
        env=env,
    )
    state = base / "state"
    figures["tests_seconds"], code = run_command(
        [python, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
        log,
        cwd=project,
        env=env_with({"LOCAL_STATE_DIR": str(state)}),
    )
    failed = code != 0
    figures["total_seconds"] = sum(figures.values())
    figures["render_to_green_without_install_seconds"] = (
        figures["total_seconds"] - figures["install_seconds"] - figures["venv_seconds"]
    )
    shutil.rmtree(base, ignore_errors=True)
    print(f"time to green #{index}: " + ", ".join(f"{k}={v:.1f}" for k, v in figures.items()))
    figures["tests_failed"] = float(failed)  # a red run still counts for time, and is reported
    return figures


def run(ctx: Context) -> dict[str, Any]:
    """Medians over ``ctx.repeat`` runs, at most 2 (pip's cache is warm after the first)."""
    runs = [once(ctx, i) for i in range(1, max(1, min(ctx.repeat, 2)) + 1)]
    figures: dict[str, Any] = {key: median([r[key] for r in runs]) for key in runs[0]}
    figures["runs"] = len(runs)
    figures["tests_failed"] = int(sum(r["tests_failed"] for r in runs))
    figures["failed_logs"] = [
        str(ctx.log(f"time_to_green-{i}")) for i, r in enumerate(runs, 1) if r["tests_failed"]
    ]
    figures["first_run"] = {k: round(v, 2) for k, v in runs[0].items()}
    figures["target_tests_seconds"] = 45
    figures["tests_target_met"] = figures["first_run"]["tests_seconds"] <= 45
    write_result("time_to_green", figures)
    return figures
