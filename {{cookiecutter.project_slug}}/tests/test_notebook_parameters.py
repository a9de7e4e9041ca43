"""The bundle is the one source of notebook parameters: every parameter a notebook requires is
passed by each task that runs it, and every parameter a task passes is read."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from {{ cookiecutter.package_name }}_local.runner import load_bundle

BUNDLE = load_bundle(Path(__file__).resolve().parents[1], "dev")
TASKS = [
    (job_key, task)
    for job_key in BUNDLE.job_keys
    for task in BUNDLE.job(job_key).get("tasks") or []
    if "notebook_task" in task
]


def notebook_parameters(path: Path) -> dict[str, bool]:
    """``{name: required}`` of every ``platform.get_param(name[, default])`` in a notebook."""
    found = {}
    for node in ast.walk(ast.parse(path.read_text())):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "get_param"
        ):
            name = node.args[0]
            assert isinstance(name, ast.Constant), f"{path.name}: parameter names must be literal"
            found[name.value] = len(node.args) < 2
    return found


@pytest.mark.parametrize(
    ("job_key", "task"), TASKS, ids=[f"{job}.{task['task_key']}" for job, task in TASKS]
)
def test_task_passes_what_its_notebook_reads(job_key, task):
    notebook = Path(task["notebook_task"]["notebook_path"])
    declared = notebook_parameters(notebook)
    passed = set(task["notebook_task"].get("base_parameters") or {})
    # Job parameters reach every notebook task of the job as widgets.
    job_parameters = {p["name"] for p in BUNDLE.job(job_key).get("parameters") or []}
    required = {name for name, is_required in declared.items() if is_required}
    assert required <= passed | job_parameters, f"{notebook.name} needs {required - passed}"
    assert passed <= set(declared), f"{notebook.name} ignores {passed - set(declared)}"
