"""``destroy``: a target's local deployment is deleted as ``bundle destroy`` deletes it, and a
target with protected resources (prod) keeps everything."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest
from mlflow import MlflowClient
from mlflow.entities import ViewType

from {{ cookiecutter.package_name }}_local.cli import main
from {{ cookiecutter.package_name }}_local.delta_store import DeltaStore
from {{ cookiecutter.package_name }}_local.deployed import deployed_names
from {{ cookiecutter.package_name }}_local.platform import LocalPlatform, configure_local_mlflow
from {{ cookiecutter.package_name }}_local.runner import load_bundle


@pytest.fixture
def state(tmp_path, monkeypatch) -> Path:
    folder = tmp_path / "state"
    monkeypatch.setenv("LOCAL_STATE_DIR", str(folder))
    return folder


def deploy_locally(project_root: Path, state: Path, target: str) -> tuple[Path, str, str]:
    """A table in the target's schema, its registered model and experiment, as its jobs leave
    them: (schema folder, model name, experiment name)."""
    bundle = load_bundle(project_root, target)
    prefix, model = deployed_names(bundle)
    store = DeltaStore(state / "warehouse")
    store.write_at(store.path(f"{prefix}.inference_log"), pa.table({"x": [1]}), "append")
    client = MlflowClient(configure_local_mlflow(state))
    client.create_registered_model(model)
    experiment = str(bundle.resources["experiments"]["experiment"]["name"])
    client.create_experiment(experiment)
    return store.path(f"{prefix}.inference_log").parent, model, experiment


def exists(state: Path, model: str, experiment: str) -> tuple[bool, bool]:
    client = MlflowClient(configure_local_mlflow(state))
    models = {m.name for m in client.search_registered_models()}
    found = client.get_experiment_by_name(experiment)
    return model in models, found is not None and found.lifecycle_stage == "active"


def test_destroy_deletes_the_targets_local_deployment_and_nothing_else(
    project_root, state, spark, capsys
):
    dev_schema, dev_model, dev_experiment = deploy_locally(project_root, state, "dev")
    staging_schema, staging_model, staging_experiment = deploy_locally(
        project_root, state, "staging"
    )
    assert main(["--project-dir", str(project_root), "destroy", "-t", "dev", "--auto-approve"]) == 0
    printed = capsys.readouterr().out
    assert f"folder {dev_schema}" in printed and f"registered model {dev_model}" in printed
    assert not dev_schema.exists()
    assert exists(state, dev_model, dev_experiment) == (False, False)
    assert staging_schema.is_dir()  # another target's deployment stays
    assert exists(state, staging_model, staging_experiment) == (True, True)
    # the experiment's name is free again: the target's next training run recreates it
    LocalPlatform(spark, state=state).set_experiment(dev_experiment)
    assert exists(state, dev_model, dev_experiment) == (False, True)
    client = MlflowClient(configure_local_mlflow(state))
    deleted = client.search_experiments(view_type=ViewType.DELETED_ONLY)
    (trashed,) = deleted
    assert trashed.name == f"{dev_experiment} (deleted, id {trashed.experiment_id})"
    assert main(["--project-dir", str(project_root), "destroy", "-t", "dev", "--auto-approve"]) == 0
    assert f"experiment {dev_experiment}" in capsys.readouterr().out
    assert len(client.search_experiments(view_type=ViewType.DELETED_ONLY)) == 2
    # destroyed, there is nothing left to destroy
    assert main(["--project-dir", str(project_root), "destroy", "-t", "dev", "--auto-approve"]) == 0
    assert "nothing to destroy: target dev has no local deployment" in capsys.readouterr().out


def test_destroy_of_prod_is_refused_and_deletes_nothing(project_root, state, capsys):
    schema, model, experiment = deploy_locally(project_root, state, "prod")
    code = main(["--project-dir", str(project_root), "destroy", "-t", "prod", "--auto-approve"])
    assert code == 2
    error = capsys.readouterr().err
    assert error.startswith("error: target prod protects schemas.project_schema, ")
    assert "registered_models.model" in error and "lifecycle.prevent_destroy" in error
    assert schema.is_dir() and exists(state, model, experiment) == (True, True)


def test_destroy_without_approval_and_without_a_terminal_deletes_nothing(
    project_root, state, capsys
):
    schema, model, experiment = deploy_locally(project_root, state, "dev")
    assert main(["--project-dir", str(project_root), "destroy", "-t", "dev"]) == 2
    assert "error: destroy needs --auto-approve" in capsys.readouterr().err
    assert schema.is_dir() and exists(state, model, experiment) == (True, True)
