"""The CLI's generate-data and demo commands on a small synthetic bundle."""

from __future__ import annotations

import pytest
from deltalake import DeltaTable

from {{ cookiecutter.package_name }}_local import sample
from {{ cookiecutter.package_name }}_local.cli import main
from {{ cookiecutter.package_name }}_local.demo import approve_trained
from {{ cookiecutter.package_name }}_local.runner import JobRunner, load_bundle

from .bundles import notebook_task, ref, write_bundle

INPUT = "/datasets/trips"
VARIABLES = {
    "catalog": {"default": "dev"},
    "schema": {"default": "s"},
    "model_name": {"default": "m"},
    "input_table": {"default": INPUT},
}
RECORD_JOB = """
import os
with open(os.environ["RUN_LOG"], "a") as fh:
    start = dbutils.widgets.getAll().get("start_date", "-")
    fh.write(dbutils.widgets.get("job") + " " + start + "\\n")
"""


def _job(name, params=True):
    job = {"tasks": [notebook_task("t", "record", base_parameters={"job": name})]}
    if params:
        job["parameters"] = [
            {"name": "start_date", "default": ""},
            {"name": "end_date", "default": ""},
        ]
    return job


def test_generate_data_writes_then_appends(tmp_path, monkeypatch, capsys):
    root = write_bundle(tmp_path / "p", {"j": _job("j")}, {"record": "pass"}, VARIABLES)
    state = tmp_path / "state"
    monkeypatch.setenv("LOCAL_STATE_DIR", str(state))
    args = [
        "--project-dir",
        str(root),
        "generate-data",
        "--start",
        "2016-01-01",
        "--end",
        "2016-01-02",
    ]
    assert main([*args, "--rows", "50", "--overwrite"]) == 0
    assert main([*args, "--rows", "30", "--drift"]) == 0
    table = DeltaTable(str(state / "datasets" / "datasets" / "trips"))
    assert table.to_pyarrow_dataset().to_table(use_threads=False).num_rows == 80
    assert "appended 30 trips" in capsys.readouterr().out


def test_generate_data_appends_to_the_default_sample_on_a_fresh_state(tmp_path, monkeypatch):
    root = write_bundle(tmp_path / "p", {"j": _job("j")}, {"record": "pass"}, VARIABLES)
    state = tmp_path / "state"
    monkeypatch.setenv("LOCAL_STATE_DIR", str(state))
    args = ["--project-dir", str(root), "generate-data", "--drift", "--rows", "30"]
    assert main(args) == 0
    table = DeltaTable(str(state / "datasets" / "datasets" / "trips"))
    assert table.to_pyarrow_dataset().to_table(use_threads=False).num_rows == (
        sample.DEFAULT_ROWS + 30
    )


def test_demo_runs_existing_jobs_in_order_and_requires_retraining(tmp_path, monkeypatch, capsys):
    log = tmp_path / "run.log"
    monkeypatch.setenv("RUN_LOG", str(log))
    monkeypatch.setenv("LOCAL_STATE_DIR", str(tmp_path / "state"))
    monitoring = {
        "tasks": [
            notebook_task("monitor", "monitor"),
            {
                "task_key": "check_retrain",
                "depends_on": [{"task_key": "monitor"}],
                "condition_task": {
                    "op": "EQUAL_TO",
                    "left": ref("tasks.monitor.values.retrain"),
                    "right": "true",
                },
            },
            {
                "task_key": "retrain",
                "depends_on": [{"task_key": "check_retrain", "outcome": "true"}],
                "run_job_task": {"job_id": "${resources.jobs.training_job.id}"},
            },
        ]
    }
    jobs = {  # no feature_refresh_job: the demo skips it
        "training_job": _job("training"),
        "batch_inference_job": _job("inference"),
        "monitoring_job": monitoring,
    }
    notebooks = {"record": RECORD_JOB, "monitor": "dbutils.jobs.taskValues.set('retrain', 'true')"}
    root = write_bundle(tmp_path / "p", jobs, notebooks, VARIABLES)

    assert main(["--project-dir", str(root), "demo"]) == 0
    out = capsys.readouterr().out
    assert log.read_text().split("\n") == [
        "training 2016-01-01",
        "inference 2016-02-15",
        f"inference {sample.DRIFT_START}",
        "training ",  # retraining from the monitoring job, default parameters
        "",
    ]
    assert "feature_refresh_job is not in this bundle" in out
    assert "retraining triggered: yes (SUCCESS)" in out
    assert "model dev.s.m: not registered" in out
    state = tmp_path / "state"
    assert f"mlflow ui --backend-store-uri sqlite:///{state / 'mlflow.db'}" in out
    assert "monitoring report" not in out  # this bundle has no dashboard

    (root / "notebooks" / "monitor.py").write_text(
        "dbutils.jobs.taskValues.set('retrain', 'false')"
    )
    assert main(["--project-dir", str(root), "demo"]) == 1
    assert "did not trigger monitoring_job's 'retrain' task" in capsys.readouterr().out


def test_report_of_a_bundle_without_a_dashboard_is_a_one_line_error(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("LOCAL_STATE_DIR", str(tmp_path / "state"))
    root = write_bundle(tmp_path / "p", {"j": _job("j")}, {"record": "pass"}, VARIABLES)
    assert main(["--project-dir", str(root), "report"]) == 2
    assert capsys.readouterr().err.startswith("error: this bundle has no dashboard")


def test_approve_and_reject_run_the_approval_job(tmp_path, monkeypatch, capsys):
    log = tmp_path / "run.log"
    monkeypatch.setenv("RUN_LOG", str(log))
    monkeypatch.setenv("LOCAL_STATE_DIR", str(tmp_path / "state"))
    approval = {
        "parameters": [{"name": n, "default": ""} for n in ("version", "decision", "reason")],
        "tasks": [notebook_task("decide", "decide")],
    }
    decide = """
import os
with open(os.environ["RUN_LOG"], "a") as fh:
    values = [dbutils.widgets.get(k) for k in ("version", "decision", "reason")]
    fh.write(" ".join(values) + "\\n")
"""
    root = write_bundle(tmp_path / "p", {"approval_job": approval}, {"decide": decide}, VARIABLES)
    project = ["--project-dir", str(root)]
    assert main([*project, "approve", "3", "--reason", "metrics reviewed"]) == 0
    assert main([*project, "reject", "4", "--reason", "overfits"]) == 0
    assert log.read_text().splitlines() == [
        "3 approve metrics reviewed",
        "4 reject overfits",
    ]

    # The demo plays the reviewer where a bundle requires approval.
    train = "dbutils.jobs.taskValues.set('model_version', '5')"
    jobs = {"training_job": {"tasks": [notebook_task("train", "train")]}, "approval_job": approval}
    root = write_bundle(tmp_path / "q", jobs, {"decide": decide, "train": train}, VARIABLES)
    runner = JobRunner(load_bundle(root, None), out=lambda _: None)
    results = {"trained": runner.run("training_job")}
    approve_trained(runner, results, "trained", "approve")
    assert results["approve"].success
    assert log.read_text().splitlines()[-1] == "5 approve demo: metrics reviewed"


def test_approve_without_an_approval_job_and_serve_without_a_champion_say_why(
    tmp_path, monkeypatch, capsys
):
    monkeypatch.setenv("LOCAL_STATE_DIR", str(tmp_path / "state"))
    root = write_bundle(tmp_path / "p", {"j": _job("j")}, {"record": "pass"}, VARIABLES)
    project = ["--project-dir", str(root)]
    assert main([*project, "approve", "3", "--reason", "ok"]) == 2
    assert "has no approval_job" in capsys.readouterr().err
    assert main([*project, "serve", "--port", "5001"]) == 2
    assert "nothing trained yet" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_code:
        main([*project, "serve", "--port", "70000"])
    assert exit_code.value.code == 2
    assert "a port is a number from 1 to 65535" in capsys.readouterr().err
