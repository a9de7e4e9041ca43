"""Merging bundle configuration, as the Databricks CLI does.

``merge`` is ``libs/dyn/merge`` (maps by key, sequences concatenated, scalars replaced, a null
override ignored); ``select_target`` merges a target over the top level as
``bundle/config/root.go`` (``MergeTargetOverrides``) does, with a target's variable values as
``bundle/config/mutator/set_variables.go`` reads them; ``merge_job_sequences`` is
``bundle/config/mutator/resourcemutator/merge_job_clusters.go``, ``merge_job_tasks.go`` and
``merge_job_parameters.go``.
"""

from __future__ import annotations

import copy
from typing import Any

from .errors import BundleError

# Top-level sections a target may override (merged), and those it replaces.
MERGED_TARGET_SECTIONS = (
    "bundle",
    "workspace",
    "artifacts",
    "resources",
    "sync",
    "permissions",
    "presets",
)
REPLACED_TARGET_SECTIONS = ("mode", "run_as")
# Keyed sequences of a job, merged element by element after the target override (the CLI
# sorts tasks by key; job environments are not merged, only concatenated).
JOB_KEYED_SEQUENCES = {
    "tasks": ("task_key", True),
    "job_clusters": ("job_cluster_key", False),
    "parameters": ("name", False),
}


def merge(base: Any, override: Any) -> Any:
    """The CLI's merge: maps by key (recursively), sequences concatenated, anything else
    replaced by the override (a null override leaves the base as it is)."""
    if override is None:
        return copy.deepcopy(base)
    if isinstance(base, dict) and isinstance(override, dict):
        merged = copy.deepcopy(base)
        for key, value in override.items():
            merged[key] = merge(base[key], value) if key in base else copy.deepcopy(value)
        return merged
    if isinstance(base, list) and isinstance(override, list):
        return [*copy.deepcopy(base), *copy.deepcopy(override)]
    return copy.deepcopy(override)


def merge_by_key(items: list[Any], key: str, sort: bool = False) -> list[Any]:
    """Elements with the same ``key`` merged into the first of them, in first-seen order (or
    sorted by key); elements without the key all share the key ``""``."""
    merged: dict[str, Any] = {}
    for item in items:
        if not isinstance(item, dict):
            continue
        value = str(item.get(key) or "")
        merged[value] = merge(merged[value], item) if value in merged else copy.deepcopy(item)
        merged[value][key] = value
    keys = sorted(merged) if sort else list(merged)
    return [merged[k] for k in keys]


def merge_job_sequences(job: dict[str, Any]) -> dict[str, Any]:
    """A job with its tasks, clusters and parameters merged by key."""
    merged = dict(job)
    for name, (key, sort) in JOB_KEYED_SEQUENCES.items():
        if isinstance(merged.get(name), list):
            merged[name] = merge_by_key(merged[name], key, sort)
    return merged


def select_target(config: dict[str, Any], name: str | None) -> tuple[str, dict[str, Any]]:
    """The target's name and the configuration with that target's overrides merged in."""
    targets = config.get("targets") or {}
    if name is None:
        defaults = [n for n, spec in targets.items() if (spec or {}).get("default")]
        if len(defaults) > 1:
            raise BundleError(f"more than one default target: {', '.join(defaults)}")
        name = defaults[0] if defaults else (next(iter(targets)) if targets else "default")
    if targets and name not in targets:
        raise BundleError(f"unknown target {name!r} (targets: {', '.join(targets)})")
    target = targets.get(name) or {}
    merged = {k: copy.deepcopy(v) for k, v in config.items() if k != "targets"}
    for section in MERGED_TARGET_SECTIONS:
        if section in target:
            merged[section] = merge(merged.get(section), target[section])
    for section in REPLACED_TARGET_SECTIONS:
        if section in target:
            merged[section] = copy.deepcopy(target[section])
    declared = merged.get("variables") or {}
    for variable, value in (target.get("variables") or {}).items():
        if variable not in declared:
            raise BundleError(
                f"target {name!r} sets variable {variable!r}, which is not declared at the top"
            )
        spec = dict(declared[variable]) if isinstance(declared[variable], dict) else {}
        if isinstance(value, dict) and "lookup" in value:
            spec.pop("default", None)
            spec["lookup"] = value["lookup"]
        elif isinstance(value, dict) and "default" in value:
            spec["default"] = value["default"]
        else:  # the short form: the value itself (a map for a complex variable)
            spec["default"] = value
        declared[variable] = spec
    merged["variables"] = declared
    return name, merged
