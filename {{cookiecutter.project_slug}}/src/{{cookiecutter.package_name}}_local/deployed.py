"""The names a bundle target deploys the project under: ``catalog.schema`` of its tables and the
model's full name (dev and test prefix the schema and the model). Read by ``demo``, ``serve``
and ``report``."""

from __future__ import annotations

from .runner.bundle import Bundle


def deployed_names(bundle: Bundle) -> tuple[str, str]:
    """``catalog.schema`` of the project's tables and the model's full name, as deployed to the
    bundle's target (dev and test prefix the schema and the model)."""
    schema = (
        (bundle.resources.get("schemas") or {})
        .get("project_schema", {})
        .get("name", bundle.variables.get("schema"))
    )
    model = (
        (bundle.resources.get("registered_models") or {})
        .get("model", {})
        .get("name", bundle.variables.get("model_name"))
    )
    prefix = f"{bundle.variables['catalog']}.{schema}"
    return prefix, f"{prefix}.{model}"
