"""Shared plumbing: paths, rendering the default project, running commands, writing results."""

from __future__ import annotations

import json
import os
import platform
import shutil
import statistics
import subprocess
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results"
MAIN_PYTHON = REPO / ".venv" / "bin" / "python"
BENCH_PYTHON = REPO / ".venv-bench" / "bin" / "python"
PACKAGE = "taxi_fare_regression"  # the default options' package name
HEAVY_ROWS = 5_000_000  # sizes from here on are measured once (minutes per run)
QUIET_ENV = {"MLFLOW_DISABLE_TELEMETRY": "true", "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false"}


@dataclass(frozen=True)
class Context:
    """What every benchmark gets: where to work, how big and how often."""

    work: Path
    quick: bool
    repeat: int

    def log(self, name: str) -> Path:
        """A log file for one step's output."""
        path = self.work / "logs" / f"{name}.log"
        path.parent.mkdir(parents=True, exist_ok=True)
        return path


def machine() -> dict[str, Any]:
    """Cores, memory, Python and OS of this machine, and the time of the measurement."""
    mem_kib = 0
    meminfo = Path("/proc/meminfo")
    if meminfo.is_file():
        for line in meminfo.read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_kib = int(line.split()[1])
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cores": os.cpu_count(),
        "memory_gib": round(mem_kib / 2**20, 1),
        "python": platform.python_version(),
        "os": platform.platform(terse=True),
        "load_average_at_end": [round(x, 2) for x in os.getloadavg()],
    }


def runs_for(rows: int, repeat: int) -> int:
    """How many times to measure a size: ``repeat``, but once for heavy sizes."""
    return 1 if rows >= HEAVY_ROWS else repeat


def median(values: Sequence[float]) -> float:
    """Median, rounded for reports."""
    return round(statistics.median(values), 4)


def write_result(name: str, figures: Mapping[str, Any]) -> Path:
    """Write ``benchmarks/results/<name>.json`` (figures + machine) and print the figures."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    payload = {"benchmark": name, "machine": machine(), **figures}
    path.write_text(json.dumps(payload, indent=2, default=str) + "\n")
    print(f"\n### {name}\n{json.dumps(figures, indent=2, default=str)}\n-> {path}")
    return path


def env_with(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """This process's environment with MLflow quietened and ``extra`` on top."""
    env = {**os.environ, **QUIET_ENV}
    env.pop("VIRTUAL_ENV", None)
    env.update(extra or {})
    return env


def run_timed(
    cmd: Sequence[str | Path],
    log: Path,
    *,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
) -> float:
    """Run ``cmd`` with output appended to ``log``; return its wall time; raise if it fails."""
    elapsed, code = run_command(cmd, log, cwd=cwd, env=env)
    if code != 0:
        raise RuntimeError(f"{cmd[0]} ... exited {code}: see {log}")
    return elapsed


def run_command(
    cmd: Sequence[str | Path],
    log: Path,
    *,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
) -> tuple[float, int]:
    """Run ``cmd`` with output appended to ``log``; return its wall time and exit code."""
    started = time.perf_counter()
    with log.open("a") as out:
        out.write(f"\n$ {' '.join(str(c) for c in cmd)}\n")
        out.flush()
        proc = subprocess.run(
            [str(c) for c in cmd],
            cwd=cwd,
            env=dict(env) if env is not None else env_with(),
            stdout=out,
            stderr=subprocess.STDOUT,
            check=False,
        )
    return time.perf_counter() - started, proc.returncode


def render_project(dest: Path, log: Path, options: Sequence[str] = ()) -> Path:
    """Render the template with default options (plus ``options``) into ``dest``."""
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    cookiecutter = MAIN_PYTHON.parent / "cookiecutter"
    run_timed([cookiecutter, "--no-input", "-o", dest, REPO, *options], log)
    (project,) = [p for p in dest.iterdir() if p.is_dir()]
    return project


def run_worker(
    module: str, project: Path, args: Sequence[str], log: Path, python: Path = MAIN_PYTHON
) -> dict[str, Any]:
    """Run ``python -m benchmarks.<module>`` against a rendered project; return its JSON."""
    out = Path(tempfile.mkstemp(prefix=f"{module}-", suffix=".json")[1])
    env = env_with(
        {
            "PYTHONPATH": os.pathsep.join([str(project / "src"), str(REPO)]),
            "PYTHONUNBUFFERED": "1",
        }
    )
    cmd = [python, "-m", f"benchmarks.{module}", "--project", project, "--out", out, *args]
    run_timed(cmd, log, cwd=project, env=env)
    try:
        return json.loads(out.read_text())
    finally:
        out.unlink(missing_ok=True)
