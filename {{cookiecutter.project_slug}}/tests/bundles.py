"""Small synthetic bundles for the runner tests."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import yaml


def ref(expression: str) -> str:
    """A dynamic value reference (double braces), built so the template engine ignores it."""
    return "{" * 2 + expression + "}" * 2


def notebook_task(
    key: str, notebook: str, depends_on: list[Any] | None = None, **extra: Any
) -> dict[str, Any]:
    """A notebook task definition (``extra`` may hold base_parameters, run_if...)."""
    params = extra.pop("base_parameters", {})
    task: dict[str, Any] = {
        "task_key": key,
        "notebook_task": {"notebook_path": f"../notebooks/{notebook}.py"},
    }
    if params:
        task["notebook_task"]["base_parameters"] = params
    if depends_on:
        task["depends_on"] = [d if isinstance(d, dict) else {"task_key": d} for d in depends_on]
    task.update(extra)
    return task


def write_bundle(
    root: Path,
    jobs: dict[str, dict[str, Any]],
    notebooks: dict[str, str] | None = None,
    variables: dict[str, Any] | None = None,
    targets: dict[str, Any] | None = None,
    name: str = "demo-bundle",
) -> Path:
    """Write databricks.yml, one resources/<job>.yml per job and the notebooks; return ``root``."""
    (root / "resources").mkdir(parents=True, exist_ok=True)
    (root / "notebooks").mkdir(exist_ok=True)
    config = {
        "bundle": {"name": name},
        "include": ["resources/*.yml"],
        "variables": variables or {"catalog": {"default": "main"}},
        "targets": targets or {"dev": {"default": True}},
    }
    (root / "databricks.yml").write_text(yaml.safe_dump(config, sort_keys=False))
    for key, job in jobs.items():
        doc = {"resources": {"jobs": {key: job}}}
        (root / "resources" / f"{key}.yml").write_text(yaml.safe_dump(doc, sort_keys=False))
    for nb_name, source in (notebooks or {}).items():
        body = "# Databricks notebook source\n" + textwrap.dedent(source)
        (root / "notebooks" / f"{nb_name}.py").write_text(body)
    return root


RECORD = """
import json, os
with open(os.environ["RUN_LOG"], "a") as fh:
    entry = {"notebook": __file__.rsplit("/", 1)[-1], "widgets": dbutils.widgets.getAll()}
    fh.write(json.dumps(entry) + "\\n")
"""
"""A notebook body that appends its name and widget values to the file ``$RUN_LOG``."""
