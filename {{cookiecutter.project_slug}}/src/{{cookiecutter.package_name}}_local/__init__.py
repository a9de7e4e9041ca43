"""The local twin: run this bundle's jobs on a laptop, from its own YAML, with local Spark,
local Delta tables and a local MLflow store. Never deployed: the wheel holds only
``{{ cookiecutter.package_name }}``, which knows nothing of this package.

Importing it registers the local platform with ``{{ cookiecutter.package_name }}.platform``, so
``get_platform()`` off Databricks returns a :class:`~.platform.LocalPlatform`.
"""

from __future__ import annotations

from typing import Any

from {{ cookiecutter.package_name }}.platform import Platform, register_platform


def local_platform(spark: Any, dbutils: Any = None) -> Platform:
    """The platform of local runs (imported on first use: it brings MLflow and delta-rs)."""
    from .platform import LocalPlatform

    return LocalPlatform(spark, dbutils)


register_platform(local_platform)
