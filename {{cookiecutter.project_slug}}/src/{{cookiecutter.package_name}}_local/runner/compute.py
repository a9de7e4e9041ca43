"""Which compute a task runs on, as Databricks decides it, and where its notebook starts.

A notebook task with a job cluster (``job_cluster_key``, ``new_cluster`` or
``existing_cluster_id``) runs on classic compute; one in the job's ``environments`` (through
``environment_key``) on serverless compute. A notebook task that names no compute also runs
serverless on Databricks; locally it runs with the session the runner was given or the one
the process already has (the tests' small bundles), else serverless. Condition and run-job
tasks run no code of their own.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

CLUSTER_FIELDS = ("job_cluster_key", "new_cluster", "existing_cluster_id")


def runs_serverless(task: dict[str, Any]) -> bool | None:
    """Whether a notebook task runs on serverless compute (Spark Connect): ``True`` in a job
    environment, ``False`` on a cluster, ``None`` when the task names no compute."""
    if any(task.get(field) for field in CLUSTER_FIELDS):
        return False
    return True if task.get("environment_key") else None


def bundle_runs_serverless(jobs: dict[str, dict[str, Any]]) -> bool | None:
    """Whether these jobs run serverless: ``True`` when any notebook task does, ``False`` when
    all run on clusters, ``None`` when they name no compute."""
    kinds = {
        runs_serverless(task)
        for job in jobs.values()
        for task in job.get("tasks") or []
        if "notebook_task" in task
    }
    if True in kinds:
        return True
    return None if None in kinds or not kinds else False


@contextmanager
def task_directory(notebook: Path, serverless: bool) -> Iterator[Path]:
    """Run a task from the folder Databricks gives it: the notebook's folder on a cluster; on
    serverless, where the working directory is not guaranteed, an empty folder of its own (so
    a relative path that only works from the checkout fails here as it would there)."""
    previous = Path.cwd()
    with tempfile.TemporaryDirectory(prefix="serverless-task-") as scratch:
        folder = Path(scratch) if serverless else notebook.parent
        os.chdir(folder)
        try:
            yield folder
        finally:
            os.chdir(previous)
