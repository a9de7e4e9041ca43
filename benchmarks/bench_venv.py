"""The benchmark-only venv ``.venv-bench``: evidently 0.7.23 needs pandas<3 and ~1 GB."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

from benchmarks.common import BENCH_PYTHON, REPO, run_timed

REQUIREMENTS = ["evidently==0.7.23", "pandas==2.3.3", "pyarrow"]
STAMP = REPO / ".venv-bench" / ".installed"


def _wanted() -> str:
    lock = (REPO / "constraints.txt").read_bytes()
    return hashlib.sha256(" ".join(REQUIREMENTS).encode() + lock).hexdigest()


def ensure_bench_venv(log: Path) -> Path:
    """Create/update ``.venv-bench`` (constrained by the repo lock) unless it is current."""
    if STAMP.is_file() and STAMP.read_text().strip() == _wanted():
        return BENCH_PYTHON
    print(f"creating {BENCH_PYTHON.parents[1]} (evidently, about a minute)", flush=True)
    if not BENCH_PYTHON.is_file():
        subprocess.run([sys.executable, "-m", "venv", BENCH_PYTHON.parents[1]], check=True)
    pip = [BENCH_PYTHON, "-m", "pip", "install", "--quiet"]
    run_timed([*pip, "--upgrade", "pip"], log)
    run_timed([*pip, *REQUIREMENTS, "-c", REPO / "constraints.txt"], log)
    STAMP.write_text(_wanted() + "\n")
    return BENCH_PYTHON
