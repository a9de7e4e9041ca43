"""Load a Databricks Asset Bundle for one target, the way the Databricks CLI resolves it.

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

import copy
import getpass
import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .errors import BundleError

REFERENCE = re.compile(r"\$\{([A-Za-z0-9_.\-\[\]]+)\}")

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
# How the name prefix applies per resource kind (apply_presets.go).
PREFIXED_FIELDS = {  # prefix + value
    "jobs": "name",
    "pipelines": "name",
    "clusters": "cluster_name",
    "dashboards": "display_name",
    "alerts": "display_name",
}
UC_NAME_KINDS = ("registered_models", "schemas", "model_serving_endpoints")  # "dev_alice_" + name
# Resource kinds the local runner executes: every variable they use needs a value.
RUN_LOCALLY = ("jobs",)
PAUSABLE_TRIGGERS = ("schedule", "trigger", "continuous")
INCLUDE_SUFFIXES = (".yml", ".yaml", ".json")


# --- paths that the CLI resolves relative to the file that defines them ---------------------


class Located(str):
    """A relative path as written in a YAML file, with the folder it is relative to."""

    base: Path

    def __new__(cls, value: str, base: Path) -> Located:
        obj = super().__new__(cls, value)
        obj.base = base
        return obj

    def __deepcopy__(self, memo: dict[int, Any]) -> Located:
        return self

    def with_value(self, value: str) -> Located:
        return Located(value, self.base)


def _is_path_field(path: tuple[str, ...]) -> bool:
    """Whether the value at ``path`` (keys from the resource kind down) is a local path."""
    if not path:
        return False
    key = path[-1]
    parent = path[-2] if len(path) > 1 else ""
    if key == "notebook_path" and parent == "notebook_task":
        return True
    if key == "python_file" and parent == "spark_python_task":
        return True
    if key in ("whl", "jar", "requirements") and "libraries" in path:
        return True
    if key == "dependencies" and ("environments" in path or "environment" in path):
        return True
    if key == "file_path" and path[0] in ("dashboards", "alerts"):
        return True
    if key == "path" and parent in ("notebook", "file") and path[0] == "pipelines":
        return True
    return key == "source_code_path" and path[0] == "apps"


def _is_local_reference(value: str) -> bool:
    """A path to resolve later: relative, or a reference that may turn out relative (not a
    workspace path, a URL or a PyPI requirement)."""
    text = value.strip()
    if text.startswith(("-r ", "-e ")):
        text = text[3:].strip()
    if not text or text.startswith("/") or re.match(r"^[A-Za-z][\w+.-]*:", text):
        return False
    if "${" in text:
        return True
    return (
        text.startswith(".")
        or "/" in text
        or text.endswith((".py", ".whl", ".jar", ".json", ".ipynb", ".txt"))
    )


def _locate(node: Any, base: Path, path: tuple[str, ...] = ()) -> Any:
    """Wrap every relative path under ``resources`` in :class:`Located`."""
    if isinstance(node, dict):
        return {k: _locate(v, base, (*path, str(k))) for k, v in node.items()}
    if isinstance(node, list):
        return [_locate(v, base, path) for v in node]
    if isinstance(node, str) and _is_path_field(path) and _is_local_reference(node):
        return Located(node, base)
    return node


def _locate_document(document: dict[str, Any], base: Path) -> dict[str, Any]:
    located = dict(document)
    if "resources" in located:
        located["resources"] = {
            kind: {key: _locate(body, base, (kind,)) for key, body in (items or {}).items()}
            for kind, items in (located["resources"] or {}).items()
        }
    targets = located.get("targets") or {}
    located["targets"] = {
        name: (
            {
                **body,
                "resources": _locate_document({"resources": body["resources"]}, base)["resources"],
            }
            if isinstance(body, dict) and body.get("resources")
            else body
        )
        for name, body in targets.items()
    }
    if not targets:
        located.pop("targets", None)
    return located


# --- merging ----------------------------------------------------------------------------------


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


# --- reading ----------------------------------------------------------------------------------


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise BundleError(f"{path}: invalid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise BundleError(f"{path}: expected a mapping at the top level")
    return _locate_document(data, path.parent)


@dataclass
class RawBundle:
    """``databricks.yml`` merged with its includes, before a target is chosen."""

    root: Path
    config: dict[str, Any]
    files: list[Path]


def _include_matches(root: Path, pattern: str) -> list[Path]:
    if Path(pattern).is_absolute():
        raise BundleError(f"databricks.yml: include {pattern!r} must be a relative path")
    matches = sorted(root.glob(pattern))
    if not matches and not any(ch in pattern for ch in "*?["):
        raise BundleError(f"databricks.yml: include {pattern!r} does not match any file")
    for path in matches:
        if path.suffix not in INCLUDE_SUFFIXES:
            raise BundleError(f"{path}: included files must be YAML or JSON")
    return matches


def read_bundle(root: str | Path) -> RawBundle:
    """``databricks.yml`` and every file its ``include`` patterns match, merged."""
    root = Path(root).resolve()
    main_file = root / "databricks.yml"
    if not main_file.is_file():
        raise BundleError(f"no databricks.yml in {root}")
    config = _read_yaml(main_file)
    files = [main_file]
    owners: dict[str, tuple[str, Path]] = {}

    def claim(document: dict[str, Any], path: Path) -> None:
        for kind, items in (document.get("resources") or {}).items():
            for key in items or {}:
                if key in owners:
                    other_kind, other_path = owners[key]
                    raise BundleError(
                        f"multiple resources have been defined with the same key {key!r}: "
                        f"{other_kind} in {other_path} and {kind} in {path}"
                    )
                owners[key] = (kind, path)

    claim(config, main_file)
    for pattern in config.get("include") or []:
        for path in _include_matches(root, str(pattern)):
            if path in files:
                continue
            part = _read_yaml(path)
            part.pop("include", None)  # only databricks.yml includes files
            claim(part, path)
            config = merge(config, part)
            files.append(path)
    return RawBundle(root, config, files)


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


# --- variables and references -----------------------------------------------------------------


class Unresolvable:
    """A value that needs a workspace (a lookup, a missing required variable)."""

    def __init__(self, reason: str) -> None:
        self.reason = reason

    def __repr__(self) -> str:
        return f"<unresolvable: {self.reason}>"


class UnresolvedVariableError(BundleError):
    """A reference to a variable that has no value here (a lookup, an unset required one)."""


def variable_values(declared: dict[str, Any], overrides: dict[str, str]) -> dict[str, Any]:
    """Each variable's value: ``--var``, ``BUNDLE_VAR_<name>``, a lookup, then the default."""
    unknown = sorted(set(overrides) - set(declared))
    if unknown:
        raise BundleError(f"unknown bundle variables: {', '.join(unknown)}")
    values: dict[str, Any] = {}
    for name, spec in declared.items():
        spec = spec if isinstance(spec, dict) else {"default": spec}
        given = overrides.get(name, os.environ.get(f"BUNDLE_VAR_{name}"))
        if given is not None and spec.get("type") == "complex":
            raise BundleError(f"variable {name!r} is complex: it cannot be set from outside")
        if given is not None:
            values[name] = given
        elif spec.get("lookup"):
            kind = next(iter(spec["lookup"]), "?")
            values[name] = Unresolvable(
                f"variable {name!r} looks up a {kind} by name, which needs a workspace: "
                f"pass --var {name}=<value> to run locally"
            )
        elif "default" in spec:
            values[name] = spec["default"]
        else:
            values[name] = Unresolvable(
                f"variable {name!r} has no value for this target and no default: "
                f"pass --var {name}=<value>"
            )
    return values


def _ref(ref: str) -> str:
    return "${" + ref + "}"


def _render_scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


class Resolver:
    """Substitutes ``${...}``; references inside substituted values are followed."""

    def __init__(
        self,
        context: dict[str, Any],
        variables: dict[str, Any],
        resources: dict[str, Any] | None = None,
        *,
        keep_unresolved: bool = False,
        keep_unresolved_variables: bool = False,
        resource_id: Callable[[str, str], Any] | None = None,
    ) -> None:
        self.context = context
        self.variables = variables
        self.resources = resources
        self.keep_unresolved = keep_unresolved
        self.keep_unresolved_variables = keep_unresolved_variables
        self.resource_id = resource_id or (lambda kind, key: key)

    def keeps(self, error: BundleError) -> bool:
        """Whether a reference that failed with ``error`` stays as written."""
        return self.keep_unresolved or (
            self.keep_unresolved_variables and isinstance(error, UnresolvedVariableError)
        )

    def lenient(self) -> Resolver:
        """The same resolver, keeping references to variables without a value."""
        return Resolver(
            self.context,
            self.variables,
            self.resources,
            keep_unresolved=self.keep_unresolved,
            keep_unresolved_variables=True,
            resource_id=self.resource_id,
        )

    def resolve_resources(self, resources: dict[str, Any]) -> dict[str, Any]:
        """Resolve every resource; only the kinds the runner runs need every variable."""
        lenient = self.lenient()
        return {
            kind: (self if kind in RUN_LOCALLY else lenient).resolve(items)
            for kind, items in resources.items()
        }

    def handles(self, ref: str) -> bool:
        root = ref.split(".", 1)[0]
        if root == "resources":
            return self.resources is not None
        return True

    def lookup(self, ref: str, depth: int) -> Any:
        parts = ref.split(".")
        if parts[0] in ("var", "variables"):
            name = parts[1] if len(parts) > 1 else ""
            if parts[0] == "variables" and parts[2:] == ["value"]:
                parts = parts[:2]
            if name not in self.variables or len(parts) != 2:
                raise BundleError(f"unknown variable reference {_ref(ref)}")
            value = self.variables[name]
            if isinstance(value, Unresolvable):
                raise UnresolvedVariableError(value.reason)
            return self.resolve(value, depth + 1)
        if parts[0] == "resources":
            assert self.resources is not None
            if len(parts) < 4:
                raise BundleError(f"{_ref(ref)} must name a field of a resource")
            kind, key, attr = parts[1], parts[2], ".".join(parts[3:])
            if key not in (self.resources.get(kind) or {}):
                raise BundleError(f"{_ref(ref)} refers to an unknown resource {kind}.{key}")
            if attr == "id":
                return self.resource_id(kind, key)  # the runner identifies a job by its key
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
        if not isinstance(value, str) or "${" not in value:
            return value
        whole = REFERENCE.fullmatch(value)
        if whole and self.handles(whole.group(1)):
            try:
                resolved = self.lookup(whole.group(1), depth)
            except BundleError as exc:
                if self.keeps(exc):
                    return value
                raise
            return value.with_value(str(resolved)) if isinstance(value, Located) else resolved

        def substitute(match: re.Match[str]) -> str:
            if not self.handles(match.group(1)):
                return match.group(0)
            try:
                resolved = self.lookup(match.group(1), depth)
            except BundleError as exc:
                if self.keeps(exc):
                    return match.group(0)
                raise
            if isinstance(resolved, dict | list):
                raise BundleError(
                    f"complex value {_ref(match.group(1))} cannot be embedded in {value!r}"
                )
            return _render_scalar(resolved)

        text = REFERENCE.sub(substitute, value)
        return value.with_value(text) if isinstance(value, Located) else text


# --- development mode and presets -------------------------------------------------------------


def normalize_string(text: str) -> str:
    """``textutil.NormalizeString``: lower case, other than letters and digits as ``_``,
    repeated ``_`` collapsed, leading and trailing ``_`` trimmed."""
    return re.sub(r"_+", "_", re.sub(r"[^a-z0-9]", "_", text.lower())).strip("_")


def short_name(user_name: str) -> str:
    """``workspace.current_user.short_name``: the user name before ``@``, normalized."""
    return normalize_string(user_name.split("@", 1)[0])


def normalize_prefix(prefix: str) -> str:
    """A name prefix as Unity Catalog names take it: ``"[dev alice] "`` -> ``"dev_alice_"``."""
    text = prefix.replace("[", "").strip()
    suffix = "_" if text.endswith("]") else ""
    return normalize_string(text) + suffix


def effective_presets(config: dict[str, Any], user_name: str) -> dict[str, Any]:
    """The presets of the selected target, with development mode's defaults filled in."""
    presets = dict(config.get("presets") or {})
    if config.get("mode") == "development":
        presets.setdefault("name_prefix", f"[dev {short_name(user_name)}] ")
        presets.setdefault("trigger_pause_status", "PAUSED")
        presets.setdefault("jobs_max_concurrent_runs", 4)
        presets["tags"] = {"dev": short_name(user_name), **(presets.get("tags") or {})}
    return presets


def apply_presets(resources: dict[str, Any], presets: dict[str, Any]) -> dict[str, Any]:
    """Name prefixes, tags and paused triggers, then the defaults the CLI fills in."""
    resources = copy.deepcopy(resources)
    prefix = str(presets.get("name_prefix") or "")
    tags = presets.get("tags") or {}
    pause = presets.get("trigger_pause_status")
    for kind, field_name in PREFIXED_FIELDS.items():
        for body in (resources.get(kind) or {}).values():
            if body is not None and body.get(field_name):
                body[field_name] = prefix + str(body[field_name])
    for kind in UC_NAME_KINDS:
        for body in (resources.get(kind) or {}).values():
            if body is not None and body.get("name") and prefix:
                body["name"] = normalize_prefix(prefix) + str(body["name"])
    for body in (resources.get("experiments") or {}).values():
        if body is None:
            continue
        if body.get("name") and prefix:
            folder, slash, base = str(body["name"]).rpartition("/")
            body["name"] = f"{folder}{slash}{prefix}{base}"
        existing = {t.get("key") for t in body.get("tags") or []}
        extra = [{"key": k, "value": v} for k, v in tags.items() if k not in existing]
        if extra:
            body["tags"] = [*(body.get("tags") or []), *extra]
    for body in (resources.get("jobs") or {}).values():
        if body is None:
            continue
        if tags:  # (the CLI also tags pipelines and clusters; this template has neither)
            body["tags"] = {**tags, **(body.get("tags") or {})}
        if not body.get("max_concurrent_runs"):
            body["max_concurrent_runs"] = presets.get("jobs_max_concurrent_runs") or 1
        for trigger in PAUSABLE_TRIGGERS:
            if isinstance(body.get(trigger), dict) and not body[trigger].get("pause_status"):
                body[trigger]["pause_status"] = pause or "UNPAUSED"
    for body in (resources.get("quality_monitors") or {}).values():
        schedule = (body or {}).get("schedule")
        if pause == "PAUSED" and schedule and schedule.get("pause_status") != "UNPAUSED":
            body.pop("schedule")
    return resources


def _translate_paths(node: Any) -> Any:
    if isinstance(node, Located):
        text = str(node)
        flag = ""
        if text.startswith(("-r ", "-e ")):
            flag, text = text[:3], text[3:].strip()
        if text.startswith("/") or re.match(r"^[A-Za-z][\w+.-]*:", text):
            return flag + text
        return flag + str((node.base / text).resolve())
    if isinstance(node, dict):
        return {k: _translate_paths(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_translate_paths(v) for v in node]
    return node


# --- the loaded bundle ------------------------------------------------------------------------


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
    resolved = _translate_paths(late.resolve_resources(resources))
    resolved_values = {}
    for variable in values:
        try:
            resolved_values[variable] = early.lookup(f"var.{variable}", 0)
        except BundleError:
            continue
    settings = {
        key: _translate_paths(early.resolve(value))
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
