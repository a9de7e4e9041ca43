"""Small helpers over the MLflow model registry (aliases, version tags)."""

from __future__ import annotations

from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from .names import FEATURE_SOURCE_INLINE, TAG_FEATURE_SOURCE

# What the registries answer for a model that does not exist (RESOURCE_DOES_NOT_EXIST) and for
# an alias the model does not have (INVALID_PARAMETER_VALUE), in Unity Catalog and MLflow alike.
MISSING_ALIAS_ERRORS = frozenset({"RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE"})


def alias_version(client: MlflowClient, model_name: str, alias: str) -> str | None:
    """The version behind ``alias``, or ``None`` when the alias (or the model) does not exist.

    Any other registry error (PERMISSION_DENIED, an outage) is raised as it is: a task that
    cannot read the registry must fail, not act as if there were no champion.
    """
    try:
        return str(client.get_model_version_by_alias(model_name, alias).version)
    except MlflowException as exc:
        if exc.error_code in MISSING_ALIAS_ERRORS:
            return None
        raise


def version_tags(client: MlflowClient, model_name: str, version: str) -> dict[str, str]:
    """The tags of one model version."""
    return dict(client.get_model_version(model_name, version).tags or {})


def version_uri(model_name: str, version: str) -> str:
    """``models:/<name>/<version>``."""
    return f"models:/{model_name}/{version}"


def feature_source(client: MlflowClient, model_name: str, version: str) -> str:
    """How the version gets its zip features: ``feature_store`` lookups or ``inline``."""
    tags = client.get_model_version(model_name, version).tags or {}
    return tags.get(TAG_FEATURE_SOURCE, FEATURE_SOURCE_INLINE)
