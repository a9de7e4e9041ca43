"""Running task graphs: order, parameters, task values, conditions, run_if, nested jobs."""

from __future__ import annotations

import pytest

from {{ cookiecutter.package_name }}_local.cli import main
from {{ cookiecutter.package_name }}_local.platform import empty_mlflow_db
from {{ cookiecutter.package_name }}_local.runner import JobRunner, RunnerError, load_bundle, run_job
from {{ cookiecutter.package_name }}_local.runner.engine import notebook_cells, task_order

from .bundles import RECORD, notebook_task, ref, write_bundle


def _run(root, job, spark, params=None, target=None):
    lines: list[str] = []
    result = run_job(root, job, target, params, out=lines.append, spark=spark)
    return result, "\n".join(lines)


def test_tasks_run_in_dependency_order_with_yaml_order_for_ties():
    tasks = [
        {"task_key": "c", "depends_on": [{"task_key": "b"}]},
        {"task_key": "a"},
        {"task_key": "b", "depends_on": [{"task_key": "a"}]},
        {"task_key": "d"},
    ]
    assert [t["task_key"] for t in task_order(tasks)] == ["a", "b", "c", "d"]
    with pytest.raises(RunnerError, match="cycle"):
        task_order(
            [
                {"task_key": "x", "depends_on": [{"task_key": "y"}]},
                {"task_key": "y", "depends_on": [{"task_key": "x"}]},
            ]
        )
    with pytest.raises(RunnerError, match="unknown task 'z'"):
        task_order([{"task_key": "x", "depends_on": [{"task_key": "z"}]}])


def test_widgets_get_base_parameters_job_parameters_and_task_values(tmp_path, spark, run_log):
    producer = (
        RECORD
        + """
dbutils.widgets.text("start_date", "")
dbutils.jobs.taskValues.set("model_version", 7)
dbutils.jobs.taskValues.set("passed", True)
dbutils.jobs.taskValues.set("uri", "models:/m/7")
"""
    )
    consumer = (
        RECORD
        + """
assert dbutils.jobs.taskValues.get(taskKey="produce", key="model_version") == 7
assert dbutils.jobs.taskValues.get(taskKey="produce", key="missing", default="d") == "d"
dbutils.widgets.text("declared_only", "fallback")
assert dbutils.widgets.get("declared_only") == "fallback"
assert spark.range(3).count() == 3
"""
    )
    job = {
        "parameters": [
            {"name": "start_date", "default": "2016-01-01"},
            {"name": "end_date", "default": ""},
        ],
        "tasks": [
            notebook_task(
                "produce",
                "producer",
                base_parameters={"catalog": "${var.catalog}", "start_date": "base"},
            ),
            notebook_task(
                "consume",
                "consumer",
                ["produce"],
                base_parameters={
                    "version": ref("tasks.produce.values.model_version"),
                    "passed": ref("tasks.produce.values.passed"),
                    "uri": ref("tasks.produce.values.uri"),
                    "window": "..".join(
                        ref(f"job.parameters.{p}") for p in ("start_date", "end_date")
                    ),
                    "job": ref("job.id"),
                },
            ),
        ],
    }
    root = write_bundle(tmp_path, {"train": job}, {"producer": producer, "consumer": consumer})
    result, output = _run(root, "train", spark, {"end_date": "2016-02-01"})
    assert result.success, output
    produce, consume = run_log()
    # job parameters are pushed down to every notebook and win over base parameters
    assert produce["widgets"] == {
        "catalog": "main",
        "start_date": "2016-01-01",
        "end_date": "2016-02-01",
    }
    assert consume["widgets"]["version"] == "7"
    assert consume["widgets"]["passed"] == "true"
    assert consume["widgets"]["uri"] == "models:/m/7"
    assert consume["widgets"]["window"] == "2016-01-01..2016-02-01"
    assert consume["widgets"]["job"] == "train"
    assert result.value("produce", "model_version") == 7
    assert "> produce: started" in output and "< consume: SUCCESS" in output


def test_unknown_job_parameter_is_rejected(tmp_path, spark):
    root = write_bundle(tmp_path, {"j": {"tasks": [notebook_task("a", "nb")]}}, {"nb": "pass"})
    with pytest.raises(RunnerError, match="no parameter"):
        _run(root, "j", spark, {"nope": "1"})


def _monitoring_bundle(tmp_path, retrain_value: str):
    monitor = f"dbutils.jobs.taskValues.set('retrain', {retrain_value})\n"
    jobs = {
        "monitoring": {
            "tasks": [
                notebook_task("monitor", "monitor"),
                {
                    "task_key": "check",
                    "depends_on": [{"task_key": "monitor"}],
                    "condition_task": {
                        "op": "EQUAL_TO",
                        "left": ref("tasks.monitor.values.retrain"),
                        "right": "true",
                    },
                },
                {
                    "task_key": "retrain",
                    "depends_on": [{"task_key": "check", "outcome": "true"}],
                    "run_job_task": {
                        "job_id": "${resources.jobs.training.id}",
                        "job_parameters": {"reason": "drift-" + ref("job.run_id")},
                    },
                },
                notebook_task("after_retrain", "train", [{"task_key": "retrain"}]),
            ]
        },
        "training": {
            "parameters": [{"name": "reason", "default": "manual"}],
            "tasks": [notebook_task("train", "train")],
        },
    }
    return write_bundle(tmp_path, jobs, {"monitor": monitor, "train": RECORD})


@pytest.mark.parametrize("retrain_value", ["True", "'true'"])
def test_condition_true_runs_the_other_job_with_its_parameters(
    tmp_path, spark, run_log, retrain_value
):
    result, output = _run(_monitoring_bundle(tmp_path, retrain_value), "monitoring", spark)
    assert result.success, output
    assert result.tasks["check"].outcome == "true"
    child = result.tasks["retrain"].child
    assert child is not None and child.job_key == "training" and child.success
    assert child.parameters == {"reason": f"drift-{result.run_id}"}
    # the child job's notebook sees the passed parameter; the parent's next task has none
    assert [e["widgets"].get("reason") for e in run_log()] == [f"drift-{result.run_id}", None]
    assert result.tasks["after_retrain"].state == "SUCCESS"


def test_condition_false_excludes_the_dependent_tasks(tmp_path, spark, run_log):
    result, output = _run(_monitoring_bundle(tmp_path, "False"), "monitoring", spark)
    assert result.success, output
    assert result.tasks["check"].outcome == "false"
    assert result.tasks["retrain"].state == "EXCLUDED"
    assert result.tasks["after_retrain"].state == "EXCLUDED"
    assert run_log() == []
    assert "retrain: excluded (not run)" in output


def test_run_if_rules_after_a_failure(tmp_path, spark, run_log):
    tasks = [
        notebook_task("ok", "ok"),
        notebook_task("boom", "boom"),
        notebook_task("default_rule", "ok", ["ok", "boom"]),
        notebook_task("all_done", "ok", ["ok", "boom"], run_if="ALL_DONE"),
        notebook_task("one_ok", "ok", ["ok", "boom"], run_if="AT_LEAST_ONE_SUCCESS"),
        notebook_task("one_failed", "ok", ["ok", "boom"], run_if="AT_LEAST_ONE_FAILED"),
        notebook_task("all_failed", "ok", ["ok", "boom"], run_if="ALL_FAILED"),
        notebook_task("none_failed", "ok", ["ok", "boom"], run_if="NONE_FAILED"),
        notebook_task("after_skip", "ok", ["default_rule"]),
    ]
    notebooks = {"ok": "pass", "boom": "raise RuntimeError('kaput')"}
    result, _ = _run(write_bundle(tmp_path, {"j": {"tasks": tasks}}, notebooks), "j", spark)
    states = {key: task.state for key, task in result.tasks.items()}
    assert states == {
        "ok": "SUCCESS",
        "boom": "FAILED",
        "default_rule": "UPSTREAM_FAILED",
        "all_done": "SUCCESS",
        "one_ok": "SUCCESS",
        "one_failed": "SUCCESS",
        "all_failed": "EXCLUDED",
        "none_failed": "UPSTREAM_FAILED",
        "after_skip": "UPSTREAM_FAILED",
    }
    assert not result.success
    assert "RuntimeError: kaput" in result.tasks["boom"].error
    assert "raise RuntimeError('kaput')" in result.tasks["boom"].traceback


FAIL_FIRST = """
if sum(1 for _ in open(os.environ["RUN_LOG"])) < 2:  # the first attempt fails
    dbutils.jobs.taskValues.set("first_attempt", "set")
    raise RuntimeError("transient")
dbutils.jobs.taskValues.set("rows", 3)
"""


def test_a_failed_task_is_retried_max_retries_times(tmp_path, spark, run_log):
    tasks = [
        notebook_task("flaky", "flaky", max_retries=2, min_retry_interval_millis=60000),
        notebook_task("after", "ok", ["flaky"]),
    ]
    notebooks = {"flaky": RECORD + FAIL_FIRST, "ok": "pass"}
    root = write_bundle(tmp_path, {"j": {"tasks": tasks}}, notebooks)
    result, output = _run(root, "j", spark)
    assert result.success, output
    assert result.tasks["flaky"].attempts == 2 and len(run_log()) == 2
    assert "~ flaky: attempt 1 failed (RuntimeError: transient); retry 1 of 2" in output
    assert "< flaky: SUCCESS after 2 attempts" in output
    assert result.task_values["flaky"] == {"rows": 3}  # not what the failed attempt set


def test_what_only_the_local_runner_refuses_is_not_retried(tmp_path, spark):
    tasks = [notebook_task("gone", "missing", max_retries=2)]
    result, output = _run(write_bundle(tmp_path, {"j": {"tasks": tasks}}), "j", spark)
    assert result.tasks["gone"].state == "FAILED" and result.tasks["gone"].attempts == 1
    assert "not found" in result.tasks["gone"].error and "retry" not in output


def test_a_task_that_keeps_failing_fails_after_its_retries(tmp_path, spark, run_log):
    tasks = [
        notebook_task("boom", "boom", max_retries=1),
        notebook_task("once", "once"),
        notebook_task("after", "once", ["boom"]),
    ]
    notebooks = {"boom": RECORD + "raise ValueError('bad data')", "once": "pass"}
    result, _ = _run(write_bundle(tmp_path, {"j": {"tasks": tasks}}, notebooks), "j", spark)
    states = {key: (task.state, task.attempts) for key, task in result.tasks.items()}
    assert states == {
        "boom": ("FAILED", 2),
        "once": ("SUCCESS", 1),
        "after": ("UPSTREAM_FAILED", 1),
    }
    assert len(run_log()) == 2  # the first attempt and one retry


def test_a_malformed_max_retries_or_timeout_is_refused_before_anything_runs(
    tmp_path, capsys, run_log
):
    for field, value, says in [
        ("max_retries", "often", "max_retries is a whole number of retries, or -1 "),
        ("max_retries", 1.5, "max_retries is a whole number of retries, or -1 "),
        ("max_retries", -2, "max_retries is a whole number of retries, or -1 "),
        ("timeout_seconds", "soon", "timeout_seconds is a whole number of seconds (0: no limit)"),
        ("timeout_seconds", -1, "timeout_seconds is a whole number of seconds (0: no limit)"),
    ]:
        tasks = [notebook_task("a", "nb"), notebook_task("b", "nb", **{field: value})]
        root = write_bundle(tmp_path / f"{field}{value}", {"j": {"tasks": tasks}}, {"nb": RECORD})
        assert main(["--project-dir", str(root), "run", "j"]) == 2
        error = capsys.readouterr().err
        assert f"error: task 'b': {says}" in error
        assert error.rstrip().endswith(f"not {value!r}")
    assert run_log() == []


SLOW = "import time\n\ntime.sleep(1.2)\ndbutils.jobs.taskValues.set('rows', 1)\n"


def test_a_task_over_its_timeout_fails_as_timed_out_and_is_not_retried_unless_asked(
    tmp_path, spark
):
    tasks = [
        notebook_task("slow", "slow", timeout_seconds=1, max_retries=2),
        notebook_task("after", "ok", ["slow"]),
        notebook_task("in_time", "slow", timeout_seconds=60),
        notebook_task("again", "slow", timeout_seconds=1, max_retries=1, retry_on_timeout=True),
    ]
    root = write_bundle(tmp_path, {"j": {"tasks": tasks}}, {"slow": SLOW, "ok": "pass"})
    result, output = _run(root, "j", spark)
    slow = result.tasks["slow"]
    assert (slow.state, slow.timed_out, slow.attempts) == ("FAILED", True, 1), output
    assert slow.error.startswith("task 'slow' timed out: it ran 1.")
    assert "over its timeout_seconds 1 (Databricks stops it then" in slow.error
    assert result.tasks["after"].state == "UPSTREAM_FAILED"
    assert result.tasks["in_time"].state == "SUCCESS"
    assert (result.tasks["again"].state, result.tasks["again"].attempts) == ("FAILED", 2)


def test_a_run_job_task_over_its_timeout_fails_as_timed_out(tmp_path, spark):
    jobs = {
        "parent": {
            "tasks": [
                {
                    "task_key": "call",
                    "timeout_seconds": 1,
                    "run_job_task": {"job_id": "${resources.jobs.child.id}"},
                }
            ]
        },
        "child": {"tasks": [notebook_task("inner", "slow", timeout_seconds=600)]},
    }
    result, output = _run(write_bundle(tmp_path, jobs, {"slow": SLOW}), "parent", spark)
    call = result.tasks["call"]
    assert (call.state, call.timed_out) == ("FAILED", True), output
    assert call.child is not None and call.child.success  # the child job itself was in time
    assert call.error.startswith("task 'call' timed out")


def test_cli_run_of_failing_job_exits_non_zero_and_names_the_task(tmp_path, capsys):
    tasks = [notebook_task("prepare", "ok"), notebook_task("explode", "boom", ["prepare"])]
    notebooks = {"ok": "pass", "boom": "def f():\n    return 1 / 0\nf()\n"}
    root = write_bundle(tmp_path, {"j": {"tasks": tasks}}, notebooks)
    assert main(["--project-dir", str(root), "run", "j"]) == 1
    captured = capsys.readouterr()
    assert "job j FAILED at task explode" in captured.err
    assert "task 'explode' of job 'j' failed: ZeroDivisionError" in captured.out
    assert "return 1 / 0" in captured.out  # the traceback is shown


def test_failure_in_a_child_job_names_the_inner_task(tmp_path, spark):
    jobs = {
        "parent": {
            "tasks": [
                {"task_key": "call", "run_job_task": {"job_id": "${resources.jobs.child.id}"}}
            ]
        },
        "child": {"tasks": [notebook_task("inner", "boom")]},
    }
    root = write_bundle(tmp_path, jobs, {"boom": "raise ValueError('bad data')"})
    result, _ = _run(root, "parent", spark)
    assert result.tasks["call"].state == "FAILED"
    assert "failed at task 'inner'" in result.tasks["call"].error
    assert result.root_failure().task_key == "inner"


def test_notebook_exit_ends_the_task_successfully(tmp_path, spark):
    source = "dbutils.notebook.exit('done')\nraise AssertionError('not reached')\n"
    result, _ = _run(
        write_bundle(tmp_path, {"j": {"tasks": [notebook_task("a", "nb")]}}, {"nb": source}),
        "j",
        spark,
    )
    assert result.success and result.tasks["a"].exit_value == "done"


def test_unsupported_task_type_fails_clearly_before_running(tmp_path, capsys):
    tasks = [
        notebook_task("a", "nb"),
        {"task_key": "py", "spark_python_task": {"python_file": "x.py"}},
    ]
    root = write_bundle(
        tmp_path, {"j": {"tasks": tasks}}, {"nb": "raise SystemExit('must not run')"}
    )
    assert main(["--project-dir", str(root), "run", "j"]) == 2
    assert (
        "'py' is a spark_python_task, which the local runner does not support"
        in capsys.readouterr().err
    )


def test_cli_lists_jobs(tmp_path, capsys):
    job = {
        "parameters": [{"name": "start_date", "default": ""}],
        "tasks": [notebook_task("a", "nb")],
    }
    root = write_bundle(tmp_path, {"train": job}, {"nb": "pass"})
    assert main(["--project-dir", str(root), "jobs"]) == 0
    assert "train: tasks [a] params [start_date='']" in capsys.readouterr().out


def test_a_notebook_figure_is_saved_and_cells_split_on_the_separator(tmp_path, spark, monkeypatch):
    monkeypatch.setenv("LOCAL_STATE_DIR", str(tmp_path / "state"))
    source = """
from matplotlib.figure import Figure
figure = Figure()
figure.subplots().plot([1, 2, 3])
# COMMAND ----------
display(figure)
"""
    root = write_bundle(tmp_path, {"j": {"tasks": [notebook_task("t", "plot")]}}, {"plot": source})
    result, _ = _run(root, "j", spark)
    assert result.success
    (saved,) = (tmp_path / "state" / "figures").glob("*.png")
    assert saved.stat().st_size > 1000
    assert len(notebook_cells(root / "notebooks" / "plot.py")) == 2
    (tmp_path / "plain.py").write_text("print(1)\n")
    with pytest.raises(RunnerError, match="not a Databricks notebook"):
        notebook_cells(tmp_path / "plain.py")


def test_a_long_task_prints_a_heartbeat(tmp_path, spark):
    root = write_bundle(
        tmp_path,
        {"j": {"tasks": [notebook_task("slow", "nb")]}},
        {"nb": "import time\ntime.sleep(0.5)\n"},
    )
    lines: list[str] = []
    bundle = load_bundle(root)
    result = JobRunner(bundle, out=lines.append, spark=spark, heartbeat_seconds=0.1).run("j")
    assert result.success
    beats = [line for line in lines if "slow still running" in line]
    assert 2 <= len(beats) <= 6, lines


def test_the_cli_keeps_library_chatter_out_of_the_output(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("LOCAL_STATE_DIR", str(tmp_path / "state"))
    database = tmp_path / "chatty" / "mlflow.db"
    database.parent.mkdir()
    migrate = (  # creating an MLflow store logs its migrations at INFO
        "from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore\n"
        f"SqlAlchemyStore('sqlite:///{database}', '{database.parent}')\n"
    )
    root = write_bundle(
        tmp_path / "p", {"j": {"tasks": [notebook_task("a", "nb")]}}, {"nb": migrate}
    )
    # The CLI's warm-up thread migrates its empty store at once; two migrations in one process
    # at the same time share alembic's global context, so let this process's be done first.
    empty_mlflow_db()
    assert main(["--project-dir", str(root), "run", "j"]) == 0
    captured = capsys.readouterr()
    assert database.is_file()
    assert "INFO" not in captured.out + captured.err
