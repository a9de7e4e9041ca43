"""Small synthetic bundles for the runner tests."""

from __future__ import annotations

import functools
import textwrap
from pathlib import Path
from typing import Any

import yaml

from {{ cookiecutter.package_name }}_local.runner import load_bundle
from {{ cookiecutter.package_name }}_local.runner.compute import bundle_runs_serverless


def ref(expression: str) -> str:
    """A dynamic value reference (double braces), built so the template engine ignores it."""
    return "{" * 2 + expression + "}" * 2


ENVIRONMENT = {"environment_key": "default", "spec": {"environment_version": "5"}}
CLUSTER = {"job_cluster_key": "cluster", "new_cluster": {"num_workers": 1}}


@functools.cache
def project_runs_serverless() -> bool:
    """Whether this project's jobs run serverless (else on job clusters)."""
    jobs = load_bundle(Path(__file__).resolve().parents[1]).resources.get("jobs") or {}
    return bool(bundle_runs_serverless(jobs))


def notebook_task(
    key: str,
    notebook: str,
    depends_on: list[Any] | None = None,
    project_compute: bool = True,
    **extra: Any,
) -> dict[str, Any]:
    """A notebook task definition (``extra`` may hold base_parameters, run_if...), on the
    project's compute unless ``extra`` names one (``project_compute=False``: it names none)."""
    params = extra.pop("base_parameters", {})
    task: dict[str, Any] = {
        "task_key": key,
        "notebook_task": {"notebook_path": f"../notebooks/{notebook}.py"},
    }
    if project_compute and not {"environment_key", "job_cluster_key"} & extra.keys():
        if project_runs_serverless():
            task["environment_key"] = ENVIRONMENT["environment_key"]
        else:
            task["job_cluster_key"] = CLUSTER["job_cluster_key"]
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
        job = _with_declared_compute(job)
        doc = {"resources": {"jobs": {key: job}}}
        (root / "resources" / f"{key}.yml").write_text(yaml.safe_dump(doc, sort_keys=False))
    for nb_name, source in (notebooks or {}).items():
        body = "# Databricks notebook source\n" + textwrap.dedent(source)
        (root / "notebooks" / f"{nb_name}.py").write_text(body)
    return root


def _with_declared_compute(job: dict[str, Any]) -> dict[str, Any]:
    """The job with the environment or cluster its tasks name declared (as a deploy needs)."""
    tasks = job.get("tasks") or []
    job = dict(job)
    for field, spec, declared in (
        ("environment_key", ENVIRONMENT, "environments"),
        ("job_cluster_key", CLUSTER, "job_clusters"),
    ):
        if any(t.get(field) == spec[field] for t in tasks) and declared not in job:
            job[declared] = [spec]
    return job


RECORD = """
import json, os
with open(os.environ["RUN_LOG"], "a") as fh:
    entry = {"notebook": __file__.rsplit("/", 1)[-1], "widgets": dbutils.widgets.getAll()}
    fh.write(json.dumps(entry) + "\\n")
"""
"""A notebook body that appends its name and widget values to the file ``$RUN_LOG``."""
