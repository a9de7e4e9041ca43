"""Benchmark 7, Spark Connect beside classic Spark: the same project rendered with
``compute=serverless`` (its local runs use Spark Connect) and ``compute=classic`` (classic
Spark), measured in one run: a session's start-up and first action in a fresh process, the
``demo``, and the generated test suite. The two kinds alternate, so load drifts hit both."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from benchmarks.common import (
    MAIN_PYTHON,
    PACKAGE,
    Context,
    env_with,
    median,
    render_project,
    run_command,
    write_result,
)

COMPUTES = ("serverless", "classic")

STARTUP = """
import json, sys, time
started = time.perf_counter()
from {package}_local.spark import get_spark
spark = get_spark(serverless={serverless})
session = time.perf_counter() - started
spark.range(1000).selectExpr("sum(id)").collect()
first = time.perf_counter() - started - session
print(json.dumps({{"session_seconds": session, "first_action_seconds": first,
                   "kind": type(spark).__module__}}))
"""


def _startup(project: Path, compute: str, log: Path) -> dict[str, Any]:
    """Session start-up and first action in a fresh process (JVM output goes to the log)."""
    code = STARTUP.format(package=PACKAGE, serverless=compute == "serverless")
    env = env_with({"PYTHONPATH": str(project / "src")})
    out = log.with_suffix(".startup.json")
    with out.open("w") as handle:
        subprocess.run(
            [str(MAIN_PYTHON), "-c", code], cwd=project, env=env, stdout=handle, check=True
        )
    return json.loads(out.read_text().strip().splitlines()[-1])


def run(ctx: Context) -> dict[str, Any]:
    """Per compute: start-up ``ctx.repeat`` times, then the demo and the suite (cold, once each
    unless ``ctx.repeat`` > 1), alternating the two kinds."""
    log = ctx.log("compute")
    log.unlink(missing_ok=True)
    projects = {
        c: render_project(ctx.work / f"compute-{c}", log, [f"compute={c}"]) for c in COMPUTES
    }
    results: dict[str, dict[str, list[float]]] = {c: {} for c in COMPUTES}

    def record(compute: str, key: str, value: float) -> None:
        results[compute].setdefault(key, []).append(round(value, 2))
        print(f"compute {compute}: {key} {value:.1f}", flush=True)

    for _ in range(ctx.repeat):
        for compute in COMPUTES:
            startup = _startup(projects[compute], compute, log)
            record(compute, "session_seconds", startup["session_seconds"])
            record(compute, "first_action_seconds", startup["first_action_seconds"])
    failures: list[str] = []
    for index in range(max(1, min(ctx.repeat, 2))):
        for compute in COMPUTES if index % 2 == 0 else reversed(COMPUTES):
            project = projects[compute]
            state = ctx.work / f"compute-{compute}-state"
            env = env_with({"PYTHONPATH": str(project / "src"), "LOCAL_STATE_DIR": str(state)})
            seconds, code = run_command(
                [MAIN_PYTHON, "-m", f"{PACKAGE}_local", "demo"], log, cwd=project, env=env
            )
            record(compute, "demo_seconds", seconds)
            failures += [f"{compute} demo"] if code else []
            seconds, code = run_command(
                [MAIN_PYTHON, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
                log,
                cwd=project,
                env={**env, "LOCAL_STATE_DIR": str(state) + "-tests"},
            )
            record(compute, "suite_seconds", seconds)
            failures += [f"{compute} suite"] if code else []
    figures: dict[str, Any] = {"python": sys.version.split()[0], "cpus": os.cpu_count()}
    for compute, measured in results.items():
        figures[compute] = {
            **{f"{key}_first": values[0] for key, values in measured.items()},
            **{f"{key}_median": median(values) for key, values in measured.items()},
            "all_runs": measured,
        }
    serverless, classic = figures["serverless"], figures["classic"]
    figures["ratios_connect_to_classic"] = {
        key: round(serverless[f"{key}_first"] / classic[f"{key}_first"], 2)
        for key in ("session_seconds", "demo_seconds", "suite_seconds")
    }
    figures["failures"] = failures
    write_result("compute", figures)
    if failures:
        raise RuntimeError(f"failed: {', '.join(failures)} (see {log})")
    return figures
