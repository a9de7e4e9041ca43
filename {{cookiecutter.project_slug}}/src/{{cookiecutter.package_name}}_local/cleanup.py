"""``cleanup``: what removes a target's deployment from its workspace, printed, never run.

``bundle destroy`` removes what the bundle defines. The serving endpoint is not a bundle
resource (the deploy task creates it on the first promotion), so it needs its own delete: the
name printed here is the one the pipelines read from ``bundle validate -o json``
(``scripts/bundle_facts.py serving-endpoint``).
"""

from __future__ import annotations

from .runner.bundle import Bundle

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
    commands = [f"databricks bundle destroy -t {bundle.target}"]
    endpoint = serving_endpoint(bundle)
    if endpoint:
        commands.append(f"databricks serving-endpoints delete {endpoint}")
    return commands


def serving_endpoint(bundle: Bundle) -> str:
    """The endpoint the deploy task creates for this target ('' without serving)."""
    return str(bundle.variables.get("serving_endpoint_name") or "")


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
    for kind, key, body in bundle.iter_resources():
        name = body.get("name") or body.get("display_name") or body.get("table_name") or key
        print(f"  {DESTROYED_KINDS.get(kind, kind)} {name}")
    if serving_endpoint(bundle):
        print(
            "The serving endpoint is not a bundle resource (the deploy task creates it), so "
            "destroy leaves it: delete it as above."
        )
    return 0
