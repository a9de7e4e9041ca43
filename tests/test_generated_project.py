"""Do what a user does with a fresh project: run its test suite and its demo."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import DEFAULT_COMBINATION, Renderings

# The generated suites are the slow part of the template's tests: run them for the default
# options (serverless) and for the variant whose code differs most (classic compute, no feature
# store, no monitoring, serving on): every job of both runs end to end through the local runner.
SUITES = {
    "default": DEFAULT_COMBINATION,
    "classic-no-feature-store": {
        **DEFAULT_COMBINATION,
        "compute": "classic",
        "include_feature_store": "no",
        "include_monitoring": "no",
        "include_serving": "yes",
    },
}


def run_in(project: Path, state: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "PYTHONPATH": str(project / "src"),
        "LOCAL_STATE_DIR": str(state),
        "MLFLOW_DISABLE_TELEMETRY": "true",
    }
    return subprocess.run(
        [sys.executable, *args],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=1200,
        check=False,
    )


@pytest.mark.parametrize("options", SUITES.values(), ids=SUITES.keys())
def test_generated_test_suite_passes(
    options: dict[str, str], renderings: Renderings, tmp_path: Path
) -> None:
    project = renderings.get(options)
    result = run_in(project, tmp_path / "state", "-m", "pytest", "-q", "-p", "no:cacheprovider")
    assert result.returncode == 0, result.stdout[-8000:] + result.stderr[-4000:]
    assert " passed" in result.stdout
    assert " failed" not in result.stdout


def test_demo_runs_the_whole_lifecycle(renderings: Renderings, tmp_path: Path) -> None:
    project = renderings.get(DEFAULT_COMBINATION)
    package = next(p.name for p in (project / "src").iterdir() if p.is_dir())
    result = run_in(project, tmp_path / "state", "-m", package, "demo")
    assert result.returncode == 0, result.stdout[-8000:] + result.stderr[-4000:]
    assert "retraining triggered: yes" in result.stdout
    assert not (project / ".local").exists(), "the demo must honour LOCAL_STATE_DIR"
    # It ends by pointing to the monitoring report it wrote and to the MLflow UI.
    report = tmp_path / "state" / "report" / "monitoring.html"
    assert f"monitoring report (the dashboard's queries over the local tables): {report}" in (
        result.stdout
    )
    assert report.is_file() and 'class="error"' not in report.read_text()
    assert f"mlflow ui --backend-store-uri sqlite:///{tmp_path / 'state' / 'mlflow.db'}" in (
        result.stdout
    )
