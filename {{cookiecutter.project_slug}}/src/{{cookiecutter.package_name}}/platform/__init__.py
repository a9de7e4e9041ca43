"""The single seam between local runs and Databricks: use :func:`get_platform`."""

from __future__ import annotations

import os
from typing import Any

from .base import (
    FeatureLookupSpec,
    MissingParameterError,
    Platform,
    RegisteredVersion,
    TrainingSetHandle,
)

__all__ = [
    "FeatureLookupSpec",
    "MissingParameterError",
    "Platform",
    "RegisteredVersion",
    "TrainingSetHandle",
    "get_platform",
    "on_databricks",
]


def on_databricks() -> bool:
    """True on a Databricks cluster (the runtime sets ``DATABRICKS_RUNTIME_VERSION``)."""
    return bool(os.environ.get("DATABRICKS_RUNTIME_VERSION"))


def get_platform(spark: Any, dbutils: Any = None) -> Platform:
    """Return the Databricks platform on a cluster, the local twin's everywhere else.

    The local twin (``{{ cookiecutter.package_name }}_local``) is not part of the deployed wheel: it comes
    with the project checkout (``pip install -e ".[local,dev]"``).
    """
    if on_databricks():
        from .databricks import DatabricksPlatform

        return DatabricksPlatform(spark, dbutils)
    try:
        from {{ cookiecutter.package_name }}_local.platform import LocalPlatform
    except ModuleNotFoundError as exc:
        raise RuntimeError(
            "not on Databricks and the local twin is not installed: run "
            '`pip install -e ".[local,dev]"` in the project checkout'
        ) from exc
    return LocalPlatform(spark, dbutils)
