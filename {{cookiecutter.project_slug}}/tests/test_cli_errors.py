"""Errors a person can act on: one line naming what is missing, exit code 2, no traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from {{ cookiecutter.package_name }}_local.cli import main
from {{ cookiecutter.package_name }}_local.runner import load_bundle


@pytest.fixture
def fresh(project_root, tmp_path, monkeypatch, spark):
    """A project with no local state yet; returns a function running the CLI on it."""
    monkeypatch.setenv("LOCAL_STATE_DIR", str(tmp_path / "state"))

    def cli(*args: str) -> int:
        return main(["--project-dir", str(project_root), *args])

    return cli


def one_error_line(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert "Traceback" not in err
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    return lines[0]


def test_rollback_with_nothing_to_roll_back(fresh, capsys):
    assert fresh("rollback", "--reason", "bad model") == 2
    assert "has no @previous_champion to roll back to" in one_error_line(capsys)


def test_an_unknown_job_parameter(fresh, capsys):
    assert fresh("run", "training_job", "--param", "bogus=1") == 2
    assert "has no parameter(s) bogus" in one_error_line(capsys)


def test_a_malformed_parameter(fresh, capsys):
    assert fresh("run", "training_job", "--param", "start_date") == 2
    assert one_error_line(capsys) == "error: --param expects NAME=VALUE, got 'start_date'"


def test_an_unknown_job(fresh, capsys):
    assert fresh("run", "trainig_job") == 2
    assert "job 'trainig_job' is not defined" in one_error_line(capsys)


def test_scoring_before_any_champion_is_skipped_not_failed(fresh, capsys):
    assert fresh("run", "batch_inference_job", "--param", "start_date=2016-02-01") == 0
    assert "skipped: " in capsys.readouterr().out


JOBS = load_bundle(Path(__file__).resolve().parents[1]).job_keys

if "feature_refresh_job" in JOBS:

    def test_training_before_the_feature_refresh_names_the_job_to_run(fresh, capsys):
        assert fresh("run", "training_job") == 2
        line = one_error_line(capsys)
        assert "pickup_features does not exist yet: run feature_refresh_job first" in line


if "monitoring_job" in JOBS:

    def test_a_report_before_any_run_names_what_to_run(fresh, capsys):
        assert fresh("report") == 2
        line = one_error_line(capsys)
        assert "no monitoring tables in " in line and " demo`" in line

    def test_monitoring_before_any_champion_is_skipped_not_failed(fresh, capsys):
        assert fresh("run", "monitoring_job") == 0
        out = capsys.readouterr().out
        assert "has no champion yet: nothing to monitor" in out
        assert "retrain: excluded" in out
