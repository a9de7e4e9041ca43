"""Condition operators, run_if rules, dynamic references and the dbutils stand-in."""

from __future__ import annotations

import pytest

from {{ cookiecutter.package_name }}_local.runner.conditions import evaluate_condition, run_if_decision
from {{ cookiecutter.package_name }}_local.runner.dbutils import InputWidgetNotDefined, LocalDbutils
from {{ cookiecutter.package_name }}_local.runner.dynamic import RunContext, render_value
from {{ cookiecutter.package_name }}_local.runner.errors import RunnerError

from .bundles import ref


@pytest.mark.parametrize(
    ("op", "left", "right", "expected"),
    [
        ("EQUAL_TO", "true", "true", True),
        ("EQUAL_TO", "1.0", "1", False),  # text comparison
        ("NOT_EQUAL", "a", "b", True),
        ("GREATER_THAN", "10", "9", True),  # numeric, not lexical
        ("GREATER_THAN_OR_EQUAL", "2", "2.0", True),
        ("LESS_THAN", "0.1", "0.2", True),
        ("LESS_THAN_OR_EQUAL", "3", "2", False),
    ],
)
def test_condition_ops(op, left, right, expected):
    assert evaluate_condition(op, left, right) is expected


def test_condition_errors():
    with pytest.raises(RunnerError, match="needs numbers"):
        evaluate_condition("LESS_THAN", "abc", "1")
    with pytest.raises(RunnerError, match="unsupported condition op"):
        evaluate_condition("CONTAINS", "a", "b")


@pytest.mark.parametrize(
    ("rule", "upstream", "expected"),
    [
        ("ALL_SUCCESS", ["success", "success"], None),
        ("ALL_SUCCESS", ["success", "excluded"], "excluded"),
        ("ALL_SUCCESS", ["success", "failed"], "upstream_failed"),
        ("NONE_FAILED", ["success", "excluded"], None),
        ("NONE_FAILED", ["excluded"], "excluded"),
        ("AT_LEAST_ONE_SUCCESS", ["failed", "success"], None),
        ("ALL_DONE", ["failed", "excluded"], None),
        ("ALL_FAILED", ["failed", "failed"], None),
        ("AT_LEAST_ONE_FAILED", ["success", "success"], "excluded"),
        ("ALL_SUCCESS", [], None),
    ],
)
def test_run_if(rule, upstream, expected):
    assert run_if_decision(rule, upstream) == expected


def test_render_value_is_json_like():
    assert [render_value(v) for v in (True, False, 3, 0.5, "x", None, {"a": 1})] == [
        "true",
        "false",
        "3",
        "0.5",
        "x",
        "null",
        '{"a": 1}',
    ]


def test_dynamic_references():
    context = RunContext(
        "job_a", "42", "Job A", {"start_date": "2016-01-01"}, {"t": {"ok": False, "n": 2}}
    )
    rendered = context.render(
        {
            "x": [ref("job.parameters.start_date"), ref(" job.run_id ")],
            "y": ref("tasks.t.values.ok"),
        }
    )
    assert rendered == {"x": ["2016-01-01", "42"], "y": "false"}
    with pytest.raises(RunnerError, match="did not set the task value 'missing'"):
        context.render(ref("tasks.t.values.missing"))
    with pytest.raises(RunnerError, match="no parameter 'end_date'"):
        context.render(ref("job.parameters.end_date"))
    with pytest.raises(RunnerError, match="unsupported dynamic value reference"):
        context.render(ref("job.trigger.type"))


def test_dbutils_widgets_and_task_values():
    store: dict = {}
    dbutils = LocalDbutils({"passed": 1}, store, "train")
    dbutils.widgets.text("declared", "d")
    dbutils.widgets.dropdown("mode", "enforce", ["enforce", "report"])
    assert dbutils.widgets.get("passed") == "1"
    assert dbutils.widgets.getAll() == {"declared": "d", "mode": "enforce", "passed": "1"}
    with pytest.raises(InputWidgetNotDefined):
        dbutils.widgets.get("nope")
    with pytest.raises(ValueError, match="not one of"):
        dbutils.widgets.dropdown("bad", "x", ["a"])
    dbutils.jobs.taskValues.set("version", "3")
    assert store == {"train": {"version": "3"}}
    with pytest.raises(TypeError, match="JSON serializable"):
        dbutils.jobs.taskValues.set("obj", object())
    other = LocalDbutils({}, store, "deploy")
    assert other.jobs.taskValues.get(taskKey="train", key="version") == "3"
    with pytest.raises(ValueError, match="was not set"):
        other.jobs.taskValues.get(taskKey="train", key="nope")
    # outside a job run, the debug value is returned
    assert LocalDbutils().jobs.taskValues.get(taskKey="train", key="k", debugValue="dbg") == "dbg"
