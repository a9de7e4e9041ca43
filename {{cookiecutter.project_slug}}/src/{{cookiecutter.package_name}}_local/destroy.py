"""``destroy``: remove a target's local deployment, as ``bundle destroy`` removes it from the
workspace: the schema with its tables, the volumes with their files, the registered model with
its versions, the experiments.

Like the CLI it deletes nothing while any resource of the target has
``lifecycle.prevent_destroy`` (prod's schema, model, volume and monitor), and it leaves what is
not a bundle resource: the serving endpoint the deploy task recorded, the online store. Only the
local twin's own state folder is touched.
"""

from __future__ import annotations

import shutil
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .cleanup import is_protected, serving_endpoint
from .runner.bundle import Bundle
from .runner.errors import RunnerError
from .state import STATE_MARKER


class DestroyError(RunnerError):
    """The target cannot be destroyed as asked (protected resources, no approval)."""


def protected_resources(bundle: Bundle) -> list[str]:
    """``kind.key`` of every resource with ``lifecycle.prevent_destroy``."""
    return [f"{kind}.{key}" for kind, key, body in bundle.iter_resources() if is_protected(body)]


def _full_name(body: dict[str, Any], *parts: str) -> str:
    return ".".join(str(body.get(part) or "") for part in parts)


def local_deployment(bundle: Bundle, state: Path) -> dict[str, list[Any]]:
    """What ``destroy`` removes locally: folders of schemas and volumes, model and experiment
    names (each only if it exists)."""
    resources = bundle.resources
    folders = []
    for body in (resources.get("schemas") or {}).values():
        folders.append(state / "warehouse" / str(body["catalog_name"]) / str(body["name"]))
    for body in (resources.get("volumes") or {}).values():
        parts = (body["catalog_name"], body["schema_name"], body["name"])
        folders.append(state.joinpath("volumes", *map(str, parts)))
    models = [
        _full_name(body, "catalog_name", "schema_name", "name")
        for body in (resources.get("registered_models") or {}).values()
    ]
    experiments = [str(body["name"]) for body in (resources.get("experiments") or {}).values()]
    client = _mlflow_client(state)
    return {
        "folders": [f for f in folders if f.is_dir()],
        "models": [m for m in models if client and _has_model(client, m)],
        "experiments": [e for e in experiments if client and _has_experiment(client, e)],
    }


def _mlflow_client(state: Path) -> Any:
    database = state / "mlflow.db"
    if not database.is_file():
        return None
    from mlflow import MlflowClient

    uri = f"sqlite:///{database}"
    return MlflowClient(tracking_uri=uri, registry_uri=uri)


def _has_experiment(client: Any, name: str) -> bool:
    found = client.get_experiment_by_name(name)
    return found is not None and found.lifecycle_stage == "active"  # not deleted before


def _has_model(client: Any, name: str) -> bool:
    from mlflow.exceptions import MlflowException

    try:
        client.get_registered_model(name)
    except MlflowException:
        return False
    return True


def destroy(
    bundle: Bundle,
    state: Path,
    auto_approve: bool,
    out: Callable[[str], None] = print,
    ask: Callable[[str], str] = input,
) -> int:
    """Delete the target's local deployment; refuse, deleting nothing, while it is protected."""
    protected = protected_resources(bundle)
    if protected:
        raise DestroyError(
            f"target {bundle.target} protects {', '.join(protected)} (lifecycle.prevent_destroy): "
            "destroy deletes nothing while they are, locally as on Databricks; to delete them "
            "on purpose remove their prevent_destroy from the bundle first"
        )
    if not (state / STATE_MARKER).is_file():
        out(f"nothing to destroy: no local state in {state}")
        return 0
    found = local_deployment(bundle, state)
    outside = [f for f in found["folders"] if not f.resolve().is_relative_to(state.resolve())]
    if outside:  # a resource name with '..' in it
        raise DestroyError(f"{outside[0]} is outside the local state {state}: nothing deleted")
    items = [
        *(f"folder {folder}" for folder in found["folders"]),
        *(f"registered model {name} (and its versions)" for name in found["models"]),
        *(f"experiment {name}" for name in found["experiments"]),
    ]
    if not items:
        out(f"nothing to destroy: target {bundle.target} has no local deployment in {state}")
        return 0
    out(f"destroy of target {bundle.target} deletes:")
    for item in items:
        out(f"  {item}")
    if not auto_approve:
        if not sys.stdin.isatty():
            raise DestroyError("destroy needs --auto-approve when it cannot ask (no terminal)")
        if ask("Delete them? [y/N] ").strip().lower() not in ("y", "yes"):
            out("nothing deleted")
            return 0
    for folder in found["folders"]:
        shutil.rmtree(folder)
    client = _mlflow_client(state)
    for name in found["models"]:
        client.delete_registered_model(name)
    if found["experiments"]:
        from .platform import trash_experiment  # the name is free again, the runs restorable

        for name in found["experiments"]:
            trash_experiment(client, client.get_experiment_by_name(name))
    out(f"deleted {len(items)} item(s) of target {bundle.target}")
    record = state / "serving" / f"{serving_endpoint(bundle)}.json"
    if serving_endpoint(bundle) and record.is_file():
        out(
            f"kept: the serving endpoint {record} (not a bundle resource: destroy leaves it on "
            "Databricks too, and `cleanup` prints its delete)"
        )
    return 0
