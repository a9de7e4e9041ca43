"""Clean up after killed runs, before a new training run starts.

A training or validation task that is killed (SIGKILL, cluster loss, a cancelled run) leaves its
MLflow run RUNNING and, when it got as far as registering, a model version that the gate never
judged. The training job runs one at a time (``max_concurrent_runs: 1``), so when it starts, any
train or validate run of this experiment still RUNNING belongs to a killed run: it is marked
KILLED, and every version without a ``validation_status`` is tagged ``abandoned``, which
promotion and rollback refuse.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from mlflow import MlflowClient
from mlflow.entities import RunStatus
from mlflow.exceptions import MlflowException

from .names import TAG_TASK, TAG_VALIDATION_STATUS, VALIDATION_ABANDONED

log = logging.getLogger(__name__)

STALE_TASKS = ("train", "validate")


@dataclass
class Recovery:
    """What a cleanup found and changed."""

    killed_runs: list[str] = field(default_factory=list)
    abandoned_versions: list[str] = field(default_factory=list)


def recover_from_killed_runs(
    client: MlflowClient, experiment_name: str, model_name: str
) -> Recovery:
    """Mark stale train/validate runs KILLED and unjudged versions ``abandoned``."""
    recovery = Recovery()
    experiment = client.get_experiment_by_name(experiment_name)
    if experiment is not None:
        running = client.search_runs(
            [experiment.experiment_id], filter_string="attributes.status = 'RUNNING'"
        )
        for run in running:
            if run.data.tags.get(TAG_TASK) in STALE_TASKS:
                killed = RunStatus.to_string(RunStatus.KILLED)
                client.set_terminated(run.info.run_id, status=killed)
                recovery.killed_runs.append(run.info.run_id)
    try:
        client.get_registered_model(model_name)
    except MlflowException:
        return recovery  # nothing registered yet
    for version in client.search_model_versions(f"name = '{model_name}'"):
        tags = version.tags or client.get_model_version(model_name, version.version).tags or {}
        if not tags.get(TAG_VALIDATION_STATUS):
            client.set_model_version_tag(
                model_name, version.version, TAG_VALIDATION_STATUS, VALIDATION_ABANDONED
            )
            recovery.abandoned_versions.append(str(version.version))
    if recovery.killed_runs or recovery.abandoned_versions:
        log.warning(
            "after killed runs: marked runs %s KILLED, versions %s abandoned",
            recovery.killed_runs,
            recovery.abandoned_versions,
        )
    return recovery
