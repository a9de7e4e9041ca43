"""``cleanup``: what removes a target's deployment from its workspace, printed, never run.

``bundle destroy`` removes what the bundle defines. The serving endpoint is not a bundle
resource (the deploy task creates it on the first promotion), so it needs its own delete: the
name printed here is the one the pipelines read from ``bundle validate -o json``
(``scripts/bundle_facts.py serving-endpoint``). Online feature tables, published by
feature_refresh_job, are deleted before the schema; the online store, shared by the targets of
a workspace, is left for a person to delete.
"""

from __future__ import annotations

from {{ cookiecutter.package_name }}.names import (
    DROPOFF_FEATURES_TABLE,
    ONLINE_SUFFIX,
    PICKUP_FEATURES_TABLE,
)

from .deployed import deployed_names
from .runner.bundle import Bundle

# The feature tables that feature_refresh_job publishes when the bundle names an online store.
PUBLISHED_FEATURE_TABLES = (PICKUP_FEATURES_TABLE, DROPOFF_FEATURES_TABLE)

DESTROYED_KINDS = {
    "jobs": "job",
    "experiments": "experiment",
    "registered_models": "registered model (and its versions)",
    "schemas": "schema (with every table in it)",
    "volumes": "volume (with its files)",
    "dashboards": "dashboard",
    "alerts": "alert",
    "quality_monitors": "Lakehouse monitor",
    "model_serving_endpoints": "serving endpoint",
}


def cleanup_commands(bundle: Bundle) -> list[str]:
    """The commands that remove the deployment of ``bundle.target``, in order."""
    commands = [
        f"databricks database delete-synced-database-table {table}"
        for table in online_tables(bundle)
    ]
    commands.append(f"databricks bundle destroy -t {bundle.target}")
    endpoint = serving_endpoint(bundle)
    if endpoint:
        commands.append(f"databricks serving-endpoints delete {endpoint}")
    return commands


def serving_endpoint(bundle: Bundle) -> str:
    """The endpoint the deploy task creates for this target ('' without serving)."""
    return str(bundle.variables.get("serving_endpoint_name") or "")


def is_protected(body: dict) -> bool:
    """Whether a resource has ``lifecycle.prevent_destroy`` (the CLI refuses to delete it)."""
    return bool((body.get("lifecycle") or {}).get("prevent_destroy"))


def online_store(bundle: Bundle) -> str:
    """The online store this target publishes to ('' without one)."""
    if "feature_refresh_job" not in bundle.job_keys:
        return ""
    return str(bundle.variables.get("online_store_name") or "")


def online_tables(bundle: Bundle) -> list[str]:
    """The online tables feature_refresh_job publishes in this target."""
    if not online_store(bundle):
        return []
    prefix, _ = deployed_names(bundle)
    return [f"{prefix}.{name}{ONLINE_SUFFIX}" for name in PUBLISHED_FEATURE_TABLES]


def print_cleanup(bundle: Bundle) -> int:
    """Print what a ``destroy`` of the target removes and what it leaves; delete nothing."""
    print(
        f"To remove target {bundle.target} of bundle {bundle.name} from its workspace, run "
        f"(as {bundle.user_name} locally; names that include the user are the deploying "
        "identity's there). This command deletes nothing."
    )
    for command in cleanup_commands(bundle):
        print(f"  {command}")
    print(f"\n`databricks bundle destroy -t {bundle.target}` removes:")
    protected = []
    for kind, key, body in bundle.iter_resources():
        name = body.get("name") or body.get("display_name") or body.get("table_name") or key
        if is_protected(body):
            protected.append(f"{kind}.{key}")
            name += " (lifecycle.prevent_destroy: destroy refuses to delete it)"
        print(f"  {DESTROYED_KINDS.get(kind, kind)} {name}")
    if protected:
        print(
            f"In target {bundle.target} destroy stops before deleting anything while "
            f"{', '.join(protected)} are protected: to delete them on purpose, remove their "
            "`lifecycle.prevent_destroy` from the bundle first, then deploy and destroy."
        )
    if serving_endpoint(bundle):
        print(
            "The serving endpoint is not a bundle resource (the deploy task creates it), so "
            "destroy leaves it: delete it as above."
        )
    if online_store(bundle):
        print(
            f"The online tables are not bundle resources either (feature_refresh_job publishes "
            f"them), so they are deleted first, as above. The online store "
            f"{online_store(bundle)} may serve other targets of the workspace: delete it, once "
            f"nothing uses it, with `databricks feature-store delete-online-store "
            f"{online_store(bundle)}`."
        )
    return 0
