"""The single seam between local runs and Databricks: use :func:`get_platform`."""

from __future__ import annotations

import os
from typing import Any

from .base import FeatureLookupSpec, Platform, RegisteredVersion, TrainingSetHandle

__all__ = [
    "FeatureLookupSpec",
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
    """Return the Databricks platform on a cluster, the local one everywhere else."""
    if on_databricks():
        from .databricks import DatabricksPlatform

        return DatabricksPlatform(spark, dbutils)
    from .local import LocalPlatform

    return LocalPlatform(spark, dbutils)
