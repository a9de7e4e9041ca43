"""The single seam between local runs and Databricks: use :func:`get_platform`."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from ..errors import ActionableError
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
    "NoPlatformError",
    "Platform",
    "RegisteredVersion",
    "TrainingSetHandle",
    "get_platform",
    "on_databricks",
    "register_platform",
]


def on_databricks() -> bool:
    """True on a Databricks cluster (the runtime sets ``DATABRICKS_RUNTIME_VERSION``)."""
    return bool(os.environ.get("DATABRICKS_RUNTIME_VERSION"))


# A platform for runs off Databricks, registered by whatever runs them (the project's local
# runner registers its own when it is imported).
PlatformFactory = Callable[[Any, Any], Platform]
_off_databricks: list[PlatformFactory] = []


def register_platform(factory: PlatformFactory) -> None:
    """Make ``get_platform`` off Databricks return ``factory(spark, dbutils)``."""
    _off_databricks[:] = [factory]


class NoPlatformError(ActionableError, RuntimeError):
    """Off Databricks, and nothing registered a platform to run on."""


def get_platform(spark: Any, dbutils: Any = None) -> Platform:
    """The Databricks platform on Databricks; elsewhere the registered one."""
    if on_databricks():
        from .databricks import DatabricksPlatform

        return DatabricksPlatform(spark, dbutils)
    if not _off_databricks:
        raise NoPlatformError(
            "not on Databricks, and no platform is registered for running elsewhere: run "
            "notebooks and jobs through the project's local runner (README: Quick start)"
        )
    return _off_databricks[0](spark, dbutils)
