"""Load a Databricks Asset Bundle (databricks.yml, includes, a target); resolve ``${...}``."""

from __future__ import annotations

import copy
import getpass
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .errors import BundleError

REFERENCE = re.compile(r"\$\{([A-Za-z0-9_.\-\[\]]+)\}")
KEYED_LISTS = ("task_key", "job_cluster_key", "environment_key", "name")


@dataclass
class Bundle:
    """A bundle resolved for one target: its jobs with every ``${...}`` substituted."""

    root: Path
    name: str
    target: str
    variables: dict[str, Any]
    raw_jobs: dict[str, dict[str, Any]]
    job_files: dict[str, Path] = field(default_factory=dict)
    resolver: _Resolver | None = None
    _resolved: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def job_keys(self) -> list[str]:
        """Keys of every job in the bundle, in definition order."""
        return list(self.raw_jobs)

    def job(self, key: str) -> dict[str, Any]:
        """The definition of job ``key`` with every ``${...}`` resolved."""
        if key not in self.raw_jobs:
            known = ", ".join(sorted(self.raw_jobs)) or "none"
            raise BundleError(f"job {key!r} is not defined in the bundle (jobs: {known})")
        if key not in self._resolved:
            spec = self.raw_jobs[key] or {}
            self._resolved[key] = self.resolver.resolve(spec) if self.resolver else spec
        return self._resolved[key]

    def job_dir(self, key: str) -> Path:
        """Folder of the YAML file that defines job ``key`` (relative paths start there)."""
        return self.job_files.get(key, self.root / "databricks.yml").parent


def deep_merge(base: Any, override: Any) -> Any:
    """Merge ``override`` into ``base``: dicts recursively, keyed lists (tasks...) by key."""
    if isinstance(base, dict) and isinstance(override, dict):
        merged = dict(base)
        for key, value in override.items():
            merged[key] = deep_merge(base[key], value) if key in base else copy.deepcopy(value)
        return merged
    if isinstance(base, list) and isinstance(override, list):
        for key_name in KEYED_LISTS:
            if all(isinstance(i, dict) and key_name in i for i in base + override):
                merged_list = list(base)
                index = {item[key_name]: n for n, item in enumerate(merged_list)}
                for item in override:
                    if item[key_name] in index:
                        pos = index[item[key_name]]
                        merged_list[pos] = deep_merge(merged_list[pos], item)
                    else:
                        merged_list.append(copy.deepcopy(item))
                return merged_list
    return copy.deepcopy(override)


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise BundleError(f"{path}: invalid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise BundleError(f"{path}: expected a mapping at the top level")
    return data


def _load_raw(root: Path) -> tuple[dict[str, Any], dict[str, Path]]:
    """The merged configuration of ``databricks.yml`` and its includes, and each job's file."""
    main_file = root / "databricks.yml"
    if not main_file.is_file():
        raise BundleError(f"no databricks.yml in {root}")
    config = _read_yaml(main_file)
    job_files = dict.fromkeys((config.get("resources") or {}).get("jobs") or {}, main_file)
    for pattern in config.get("include") or []:
        for path in sorted(root.glob(pattern)):
            part = _read_yaml(path)
            for key in (part.get("resources") or {}).get("jobs") or {}:
                if key in job_files:
                    raise BundleError(f"job {key!r} is defined in both {job_files[key]} and {path}")
                job_files[key] = path
            config = deep_merge(config, part)
    return config, job_files


def _variable_values(
    config: dict[str, Any], target: dict[str, Any], overrides: dict[str, str]
) -> dict[str, Any]:
    """Variable values: CLI override, ``BUNDLE_VAR_x``, the target's value, then the default."""
    declared = config.get("variables") or {}
    target_values = target.get("variables") or {}
    unknown = sorted(set(target_values) - set(declared))
    if unknown:
        raise BundleError(f"the target sets undeclared variables: {', '.join(unknown)}")
    values: dict[str, Any] = {}
    for name, spec in declared.items():
        spec = spec if isinstance(spec, dict) else {"default": spec}
        if name in overrides:
            values[name] = overrides[name]
        elif f"BUNDLE_VAR_{name}" in os.environ:
            values[name] = os.environ[f"BUNDLE_VAR_{name}"]
        elif name in target_values:
            value = target_values[name]
            is_wrapped = (
                isinstance(value, dict)
                and set(value) <= {"default", "description"}
                and "default" in value
            )
            values[name] = value["default"] if is_wrapped else value
        elif "default" in spec:
            values[name] = spec["default"]
        elif "lookup" in spec:
            values[name] = _Unresolvable(
                f"variable {name!r} uses a lookup, which needs a workspace"
            )
        else:
            values[name] = _Unresolvable(
                f"variable {name!r} has no value for target and no default"
            )
    return values


def _ref(ref: str) -> str:
    """``ref`` written as a bundle reference, for messages."""
    return "${" + ref + "}"


class _Unresolvable:
    def __init__(self, reason: str) -> None:
        self.reason = reason


class _Resolver:
    """Substitutes ``${...}`` references, following references inside referenced values."""

    def __init__(
        self, context: dict[str, Any], variables: dict[str, Any], resources: dict[str, Any]
    ) -> None:
        self.context = context
        self.variables = variables
        self.resources = resources

    def lookup(self, ref: str, depth: int) -> Any:
        parts = ref.split(".")
        if parts[0] in ("var", "variables"):
            name = parts[1] if len(parts) > 1 else ""
            if parts[0] == "variables" and parts[2:] == ["value"]:
                parts = parts[:2]
            if name not in self.variables or len(parts) != 2:
                raise BundleError(f"unknown variable reference {_ref(ref)}")
            value = self.variables[name]
            if isinstance(value, _Unresolvable):
                raise BundleError(value.reason)
            return self.resolve(value, depth + 1)
        if parts[0] == "resources" and len(parts) == 4:
            kind, key, attr = parts[1:]
            if key not in (self.resources.get(kind) or {}):
                raise BundleError(f"{_ref(ref)} refers to an unknown resource {kind}.{key}")
            if attr == "id":
                return key  # locally a job is identified by its key
            value = (self.resources[kind][key] or {}).get(attr)
            if value is None:
                raise BundleError(f"{_ref(ref)}: resource {kind}.{key} has no {attr!r}")
            return self.resolve(value, depth + 1)
        if ref in self.context:
            return self.resolve(self.context[ref], depth + 1)
        raise BundleError(f"cannot resolve {_ref(ref)} locally")

    def resolve(self, value: Any, depth: int = 0) -> Any:
        if depth > 20:
            raise BundleError(f"reference cycle while resolving {value!r}")
        if isinstance(value, dict):
            return {k: self.resolve(v, depth) for k, v in value.items()}
        if isinstance(value, list):
            return [self.resolve(v, depth) for v in value]
        if not isinstance(value, str):
            return value
        whole = REFERENCE.fullmatch(value)
        if whole:
            return self.lookup(whole.group(1), depth)

        def substitute(match: re.Match[str]) -> str:
            resolved = self.lookup(match.group(1), depth)
            if isinstance(resolved, dict | list):
                raise BundleError(
                    f"complex value {_ref(match.group(1))} cannot be embedded in {value!r}"
                )
            return _render_scalar(resolved)

        return REFERENCE.sub(substitute, value)


def _render_scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def load_bundle(
    root: str | Path, target: str | None = None, variables: dict[str, str] | None = None
) -> Bundle:
    """Load the bundle at ``root`` for ``target`` (the default target if None)."""
    root = Path(root).resolve()
    config, job_files = _load_raw(root)
    targets = config.get("targets") or {}
    if target is None:
        defaults = [name for name, spec in targets.items() if (spec or {}).get("default")]
        target = defaults[0] if defaults else (next(iter(targets)) if targets else "default")
    if targets and target not in targets:
        raise BundleError(f"unknown target {target!r} (targets: {', '.join(targets)})")
    target_spec = targets.get(target) or {}
    bundle_name = str((config.get("bundle") or {}).get("name") or root.name)
    resources = deep_merge(config.get("resources") or {}, target_spec.get("resources") or {})
    workspace = deep_merge(config.get("workspace") or {}, target_spec.get("workspace") or {})
    user = os.environ.get("DATABRICKS_USER") or f"{getpass.getuser()}@localhost"
    context = {
        "bundle.name": bundle_name,
        "bundle.target": target,
        "bundle.git.branch": "local",
        "workspace.current_user.userName": user,
        "workspace.current_user.short_name": user.split("@")[0],
        "workspace.host": workspace.get("host", "http://localhost"),
        "workspace.root_path": workspace.get(
            "root_path",
            "/Workspace/Users/${workspace.current_user.userName}/.bundle/${bundle.name}/${bundle.target}",
        ),
        "workspace.file_path": workspace.get("file_path", "${workspace.root_path}/files"),
        "workspace.artifact_path": workspace.get(
            "artifact_path", "${workspace.root_path}/artifacts"
        ),
    }
    values = _variable_values(config, target_spec, dict(variables or {}))
    unknown = sorted(set(variables or {}) - set(values))
    if unknown:
        raise BundleError(f"unknown bundle variables: {', '.join(unknown)}")
    resolver = _Resolver(context, values, resources)
    resolved_vars = {}
    for name in values:
        try:
            resolved_vars[name] = resolver.lookup(f"var.{name}", 0)
        except BundleError:
            continue
    jobs = dict(resources.get("jobs") or {})
    return Bundle(root, bundle_name, target, resolved_vars, jobs, job_files, resolver)
