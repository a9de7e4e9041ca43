"""Where local runs keep their state (tables, MLflow store, logs), and how it is reset.

Light on purpose (no Spark, MLflow or Delta imports): the command line reads it first.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

from {{ cookiecutter.package_name }}.platform.base import is_table_name

from .runner.errors import RunnerError


def find_project_root(start: Path | None = None) -> Path:
    """The nearest folder holding ``databricks.yml`` above this package (or the cwd)."""
    for candidate in [
        Path(start or __file__).resolve(),
        *Path(start or __file__).resolve().parents,
    ]:
        if (candidate / "databricks.yml").is_file():
            return candidate
    for candidate in [Path.cwd(), *Path.cwd().parents]:
        if (candidate / "databricks.yml").is_file():
            return candidate
    return Path.cwd()


def state_dir(root: Path | None = None) -> Path:
    """``$LOCAL_STATE_DIR`` or ``<project root>/.local``."""
    configured = os.environ.get("LOCAL_STATE_DIR")
    return Path(configured).resolve() if configured else (root or find_project_root()) / ".local"


STATE_MARKER = ".local-twin-state"


class StateDirError(RunnerError):
    """The state folder holds files the local twin did not create."""


def prepare_state(state: Path) -> Path:
    """Create the state folder and mark it as the local twin's (only marked folders are reset)."""
    state.mkdir(parents=True, exist_ok=True)
    marker = state / STATE_MARKER
    if not marker.exists():
        marker.write_text("Local state of the bundle's local twin: tables, MLflow store.\n")
    return state


def reset_state(state: Path) -> bool:
    """Delete ``state`` if the local twin created it; refuse a folder it did not create."""
    if not state.exists():
        return False
    if not (state / STATE_MARKER).is_file():
        if any(state.iterdir()):
            raise StateDirError(
                f"{state} was not created by the local twin (no {STATE_MARKER}): refusing to "
                "delete it; remove it yourself or point LOCAL_STATE_DIR elsewhere"
            )
        return False
    shutil.rmtree(state)
    return True


def local_source_path(state: Path, source: str) -> Path:
    """The local folder standing in for the raw input ``source``: a three-part table name maps
    to its table under ``<state>/warehouse``, a path to a folder under ``<state>/datasets``."""
    if is_table_name(source):
        return state / "warehouse" / Path(*(part.strip("`") for part in source.split(".")))
    relative = re.sub(r"^(dbfs:)?/+", "", source.strip())
    if not relative or ".." in Path(relative).parts:
        raise ValueError(f"invalid input {source!r}: expected catalog.schema.table or a path")
    return state / "datasets" / relative
