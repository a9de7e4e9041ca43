"""Load a Databricks Asset Bundle for one target, the way the Databricks CLI resolves it.

``load_bundle`` runs the steps below; each lives in the module that names the CLI source it
follows: ``reading`` (files and includes), ``merge`` (merging, targets, job sequences),
``variables`` (variables and references), ``presets`` (development mode and presets) and
``paths`` (relative paths).

The steps follow the CLI (databricks/cli, ``bundle/config``), so that what runs locally is what
``databricks bundle deploy`` would deploy:

1. ``databricks.yml`` and the files its ``include`` patterns match (sorted per pattern), every
   relative path remembered with the folder of the file that wrote it (``normalize_paths.go``);
   a resource key defined twice, even for two kinds of resource, is an error.
2. The target's sections are merged over the top level (``libs/dyn/merge``): maps by key,
   sequences concatenated, scalars replaced, a null override ignored; ``run_as`` and ``mode``
   are replaced; a variable's ``default`` or ``lookup`` is replaced.
3. Variables: ``--var``, then ``BUNDLE_VAR_<name>``, then a ``lookup`` (which needs a
   workspace), then the default (the target's, else the top-level one). Locally a lookup has
   no value: a job that uses it needs ``--var``; resources the runner never runs (dashboards,
   alerts, monitors...) keep the reference as written.
4. ``${var.*}``, ``${bundle.*}`` and ``${workspace.*}`` are substituted.
5. Job ``tasks`` (sorted by key), ``job_clusters`` and ``parameters`` are merged by their key
   (``resourcemutator/merge_job_*.go``): later elements are merged into the first one.
6. Development mode and presets: name prefixes, tags, paused schedules, then the defaults the
   CLI fills in (``apply_target_mode.go``, ``apply_presets.go``).
7. ``${resources.*}`` references are substituted (names after prefixing; a resource's ``id`` is
   its key locally), then relative paths become absolute paths on this machine.
"""

from __future__ import annotations

import getpass
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import BundleError
from .merge import merge, merge_by_key, merge_job_sequences, select_target
from .paths import translate_paths
from .presets import apply_presets, effective_presets, normalize_prefix, short_name
from .reading import RawBundle, read_bundle
from .variables import Resolver, variable_values

__all__ = [
    "Bundle",
    "BundleError",
    "RawBundle",
    "current_user",
    "load_bundle",
    "merge",
    "merge_by_key",
    "normalize_prefix",
    "read_bundle",
    "short_name",
]


@dataclass
class Bundle:
    """A bundle resolved for one target, as the CLI would deploy it."""

    root: Path
    name: str
    target: str
    mode: str | None
    user_name: str
    variables: dict[str, Any]
    resources: dict[str, dict[str, Any]]
    presets: dict[str, Any]
    config: dict[str, Any]
    files: list[Path] = field(default_factory=list)

    @property
    def job_keys(self) -> list[str]:
        """Keys of every job in the bundle, in definition order."""
        return list(self.resources.get("jobs") or {})

    def job(self, key: str) -> dict[str, Any]:
        """The resolved definition of job ``key``."""
        jobs = self.resources.get("jobs") or {}
        if key not in jobs:
            known = ", ".join(sorted(jobs)) or "none"
            raise BundleError(f"job {key!r} is not defined in the bundle (jobs: {known})")
        return jobs[key] or {}

    def iter_resources(self) -> Iterator[tuple[str, str, dict[str, Any]]]:
        """(kind, key, body) of every resource."""
        for kind, items in self.resources.items():
            for key, body in (items or {}).items():
                yield kind, key, body or {}


def current_user() -> str:
    """The user name references resolve to locally (``DATABRICKS_USER`` or the login name)."""
    return os.environ.get("DATABRICKS_USER") or f"{getpass.getuser()}@localhost"


def load_bundle(
    root: str | Path,
    target: str | None = None,
    variables: dict[str, str] | None = None,
    *,
    keep_unresolved: bool = False,
    resource_id: Callable[[str, str], Any] | None = None,
) -> Bundle:
    """Load the bundle at ``root`` for ``target`` (the default target if None).

    ``keep_unresolved`` leaves references that need a workspace (lookups, unset required
    variables) as they are instead of failing, and ``resource_id(kind, key)`` stands in for the
    IDs the workspace assigns (default: the key): both for validation, not for running.
    """
    raw = read_bundle(root)
    name, config = select_target(raw.config, target)
    user = current_user()
    bundle_name = str((config.get("bundle") or {}).get("name") or raw.root.name)
    workspace = config.get("workspace") or {}
    root_path = workspace.get(
        "root_path",
        "/Workspace/Users/${workspace.current_user.userName}/.bundle/${bundle.name}/"
        "${bundle.target}",
    )
    context = {
        "bundle.name": bundle_name,
        "bundle.target": name,
        "bundle.git.branch": "local",
        "workspace.current_user.userName": user,
        "workspace.current_user.short_name": short_name(user),
        "workspace.host": workspace.get("host", "http://localhost"),
        "workspace.root_path": root_path,
        "workspace.file_path": workspace.get("file_path", "${workspace.root_path}/files"),
        "workspace.artifact_path": workspace.get(
            "artifact_path", "${workspace.root_path}/artifacts"
        ),
        "workspace.resource_path": workspace.get(
            "resource_path", "${workspace.root_path}/resources"
        ),
    }
    values = variable_values(config.get("variables") or {}, dict(variables or {}))
    early = Resolver(context, values, keep_unresolved=keep_unresolved)
    resources = early.resolve_resources(config.get("resources") or {})
    jobs = resources.get("jobs") or {}
    for key, job in jobs.items():
        jobs[key] = merge_job_sequences(job or {})
    presets = early.resolve(effective_presets(config, user))
    resources = apply_presets(resources, presets)
    late = Resolver(
        context, values, resources, keep_unresolved=keep_unresolved, resource_id=resource_id
    )
    resolved = translate_paths(late.resolve_resources(resources))
    resolved_values = {}
    for variable in values:
        try:
            resolved_values[variable] = early.lookup(f"var.{variable}", 0)
        except BundleError:
            continue
    settings = {
        key: translate_paths(early.resolve(value))
        for key, value in config.items()
        if key not in ("resources", "variables")
    }
    return Bundle(
        root=raw.root,
        name=bundle_name,
        target=name,
        mode=config.get("mode"),
        user_name=user,
        variables=resolved_values,
        resources=resolved,
        presets=presets,
        config=settings,
        files=raw.files,
    )
