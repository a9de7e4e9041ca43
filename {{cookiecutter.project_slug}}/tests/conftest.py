"""Shared fixtures: one local SparkSession per test session, isolated local state."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from {{ cookiecutter.package_name }}_local.quiet import limit_native_threads

PROJECT_ROOT = Path(__file__).resolve().parents[1]

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
os.environ.setdefault("LOCAL_STATE_DIR", tempfile.mkdtemp(prefix="local-state-"))
limit_native_threads()  # before scikit-learn is imported


@pytest.fixture(scope="session")
def project_root() -> Path:
    """The generated project (the folder holding databricks.yml)."""
    return PROJECT_ROOT


@pytest.fixture(scope="session")
def spark(project_root: Path):
    """The process-wide local session of the bundle's compute: Spark Connect with serverless
    compute's rules when its jobs run serverless, classic Spark on job clusters."""
    from {{ cookiecutter.package_name }}_local.runner import JobRunner, load_bundle
    from {{ cookiecutter.package_name }}_local.spark import stop_spark

    session = JobRunner(load_bundle(project_root)).spark
    yield session
    stop_spark()


@pytest.fixture
def local_platform(spark, tmp_path: Path) -> Iterator:
    """A LocalPlatform with its own state folder (fresh tables and MLflow database)."""
    from {{ cookiecutter.package_name }}_local.platform import LocalPlatform
    from {{ cookiecutter.package_name }}_local.runner.dbutils import LocalDbutils

    yield LocalPlatform(spark, LocalDbutils(), state=tmp_path / "state")


@pytest.fixture(autouse=True)
def _restore_local_state_env(monkeypatch):
    """The CLI exports LOCAL_STATE_DIR for its notebooks: undo that after each test."""
    monkeypatch.setenv("LOCAL_STATE_DIR", os.environ["LOCAL_STATE_DIR"])


@pytest.fixture
def run_log(tmp_path, monkeypatch):
    """The entries the ``RECORD`` notebooks of tests/bundles.py append, in run order."""
    path = tmp_path / "run.log"
    monkeypatch.setenv("RUN_LOG", str(path))

    def entries() -> list[dict]:
        return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []

    return entries
