"""Offline validation of a rendered Databricks Asset Bundle.

The Databricks CLI is not available here, so this module re-implements the checks that matter
for this template: every resource is validated with the typed models of ``databricks-bundles``
(unknown keys, enums, types), once per target after merging the target's overrides and
resolving ``${var.*}``; on top come reference, path, task-graph and policy checks.
``check_bundle(root)`` returns a list of readable error strings (empty when the bundle is valid).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from databricks.bundles.experiments import MlflowExperiment
from databricks.bundles.jobs import Job
from databricks.bundles.model_serving_endpoints import ModelServingEndpoint
from databricks.bundles.quality_monitors import QualityMonitor
from databricks.bundles.registered_models import RegisteredModel
from databricks.bundles.schemas import Schema
from databricks.bundles.volumes import Volume

# Resource types the template may use, by their key under `resources:`.
RESOURCE_MODELS: dict[str, Any] = {
    "jobs": Job,
    "experiments": MlflowExperiment,
    "registered_models": RegisteredModel,
    "model_serving_endpoints": ModelServingEndpoint,
    "quality_monitors": QualityMonitor,
    "schemas": Schema,
    "volumes": Volume,
}
REQUIRED_TARGETS = ("dev", "test", "staging", "prod")
PROD_TARGET = "prod"
# Resource kinds whose names a prefixed target (development mode, presets.name_prefix) changes.
PREFIXED_KINDS = ("registered_models", "experiments", "model_serving_endpoints")
SERVING_WORKLOAD_SIZES = ("Small", "Medium", "Large")  # a plain string in the typed model
# Top-level (and target-level) `permissions:` of a bundle.
BUNDLE_PERMISSION_LEVELS = ("CAN_VIEW", "CAN_RUN", "CAN_MANAGE")
PRINCIPAL_KEYS = {"user_name", "group_name", "service_principal_name"}
REFERENCE_ROOTS = ("var", "bundle", "workspace", "resources", "artifacts")
# Lists the CLI merges element by element (by this key) instead of concatenating.
MERGE_BY_KEY = {"tasks": "task_key", "job_clusters": "job_cluster_key", "parameters": "name"}

# The reference syntax of the bundle CLI (same pattern as databricks.bundles.core._transform).
_NAME = r"_*[^\W\d_]+(?:[-_]*[^\W_]+)*"
REFERENCE_RE = re.compile(rf"(?<!\$)\$\{{({_NAME}(?:\.{_NAME}(?:\[[0-9]+\])*)*(?:\[[0-9]+\])*)\}}")
VAR_RE = re.compile(r"\$\{var\.([A-Za-z0-9_-]+)\}")
ANY_REFERENCE_RE = re.compile(r"\$\{([^}]*)\}")
TASK_VALUE_RE = re.compile(r"\{\{\s*tasks\.([A-Za-z0-9_-]+)\.values\.[A-Za-z0-9_]+\s*\}\}")
UUID_RE = re.compile(r"[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}")
NOTEBOOK_HEADER = "# Databricks notebook source"


@dataclass
class Bundle:
    """databricks.yml plus the files it includes, as parsed YAML."""

    root: Path
    config: dict[str, Any]
    files: dict[Path, dict[str, Any]] = field(default_factory=dict)

    def documents(self) -> Iterator[tuple[Path, dict[str, Any]]]:
        yield self.root / "databricks.yml", self.config
        yield from self.files.items()

    @property
    def variables(self) -> dict[str, Any]:
        return self.config.get("variables") or {}

    @property
    def targets(self) -> dict[str, Any]:
        return self.config.get("targets") or {}


def check_bundle(root: Path) -> list[str]:
    """Every problem found in the bundle rooted at ``root`` (empty list: valid)."""
    errors: list[str] = []
    bundle = load_bundle(root, errors)
    if bundle is None:
        return errors
    base = base_resources(bundle, errors)
    for check in (check_references, check_paths, check_targets):
        errors.extend(check(bundle))
    errors.extend(check_jobs(base))
    for target in sorted(bundle.targets):
        resources = merge(base, (bundle.targets[target] or {}).get("resources") or {})
        resolved = resolve_variables(resources, target_variables(bundle, target), target, errors)
        errors.extend(check_target_resources(resolved, target))
        if name_prefixed(bundle.targets[target] or {}):
            errors.extend(check_prefixed_names(resolved, target))
    return errors


# --- loading -----------------------------------------------------------------------------


def load_bundle(root: Path, errors: list[str]) -> Bundle | None:
    """Parse databricks.yml and every file its `include` globs match."""
    try:
        config = yaml.safe_load((root / "databricks.yml").read_text())
    except (OSError, yaml.YAMLError) as exc:
        errors.append(f"databricks.yml: cannot be read: {exc}")
        return None
    if not isinstance(config, dict):
        errors.append("databricks.yml: is not a mapping")
        return None
    bundle = Bundle(root=root, config=config)
    for pattern in config.get("include") or []:
        matches = sorted(root.glob(pattern))
        if not matches:
            errors.append(f"databricks.yml: include {pattern!r} matches no file")
        for path in matches:
            try:
                document = yaml.safe_load(path.read_text()) or {}
            except yaml.YAMLError as exc:
                errors.append(f"{rel(path, root)}: invalid YAML: {exc}")
                continue
            unexpected = set(document) - {"resources", "variables", "targets"}
            if unexpected:
                errors.append(f"{rel(path, root)}: unexpected top-level keys {sorted(unexpected)}")
            bundle.files[path] = document
    for path in sorted((root / "resources").glob("*.y*ml")):
        if path not in bundle.files:
            errors.append(f"{rel(path, root)}: not matched by any include of databricks.yml")
    return bundle


def base_resources(bundle: Bundle, errors: list[str]) -> dict[str, dict[str, Any]]:
    """All resources of databricks.yml and the included files; a key defined twice is an error."""
    merged: dict[str, dict[str, Any]] = {}
    for path, document in bundle.documents():
        for kind, items in (document.get("resources") or {}).items():
            for key, body in (items or {}).items():
                if key in merged.setdefault(kind, {}):
                    errors.append(f"{rel(path, bundle.root)}: {kind}.{key} is defined twice")
                merged[kind][key] = body
    return merged


def target_variables(bundle: Bundle, target: str) -> dict[str, Any]:
    """Variable values in a target: the target's override, else the declared default."""
    overrides = (bundle.targets.get(target) or {}).get("variables") or {}
    values = {}
    for name, spec in bundle.variables.items():
        spec = spec or {}
        if name in overrides:
            values[name] = overrides[name]
        elif "default" in spec:
            values[name] = spec["default"]
    return values


# --- bundle-wide checks ------------------------------------------------------------------


def check_references(bundle: Bundle) -> list[str]:
    """`${...}` references: known roots, declared variables, defined resources."""
    errors = []
    defined = {
        (kind, key)
        for _, document in bundle.documents()
        for kind, items in (document.get("resources") or {}).items()
        for key in items or {}
    }
    used_variables = set()
    for path, document in bundle.documents():
        where = rel(path, bundle.root)
        for location, text in strings(document):
            for raw in ANY_REFERENCE_RE.findall(text):
                if not REFERENCE_RE.fullmatch(f"${{{raw}}}"):
                    errors.append(f"{where}: {location}: malformed reference ${{{raw}}}")
                    continue
                parts = raw.split(".")
                if parts[0] not in REFERENCE_ROOTS:
                    errors.append(f"{where}: {location}: unknown reference root ${{{raw}}}")
                elif parts[0] == "var":
                    name = parts[1].split("[")[0]
                    used_variables.add(name)
                    if name not in bundle.variables:
                        errors.append(f"{where}: {location}: undeclared variable ${{{raw}}}")
                elif parts[0] == "resources" and (
                    len(parts) < 4 or (parts[1], parts[2]) not in defined
                ):
                    errors.append(f"{where}: {location}: reference to undefined ${{{raw}}}")
    for name in sorted(set(bundle.variables) - used_variables):
        errors.append(f"databricks.yml: variable {name!r} is declared but never used")
    return errors


def check_paths(bundle: Bundle) -> list[str]:
    """Notebook and file paths exist relative to the YAML file that names them."""
    errors = []
    for path, document in bundle.documents():
        for location, key, value in items_with_keys(document.get("resources") or {}):
            if key not in {"notebook_path", "python_file"} or "${" in str(value):
                continue
            target = (path.parent / str(value)).resolve()
            where = f"{rel(path, bundle.root)}: {location}"
            if not target.is_file():
                errors.append(f"{where}: {key} {value!r} does not exist")
            elif key == "notebook_path" and target.suffix == ".py":
                first_line = target.read_text().split("\n", 1)[0].strip()
                if first_line != NOTEBOOK_HEADER:
                    errors.append(f"{where}: {value!r} does not start with {NOTEBOOK_HEADER!r}")
    return errors


def check_targets(bundle: Bundle) -> list[str]:
    """Required targets, production settings, variables set everywhere, a catalog per target."""
    errors = []
    targets = bundle.targets
    for name in REQUIRED_TARGETS:
        if name not in targets:
            errors.append(f"databricks.yml: target {name!r} is missing")
    defaults = [name for name, body in targets.items() if (body or {}).get("default")]
    if defaults != ["dev"]:
        errors.append(f"databricks.yml: the default target must be dev alone, not {defaults}")
    catalogs = {}
    for name, body in targets.items():
        body = body or {}
        where = f"databricks.yml: targets.{name}"
        if body.get("mode") not in {None, "development", "production"}:
            errors.append(f"{where}: unknown mode {body.get('mode')!r}")
        if name == PROD_TARGET and body.get("mode") != "production":
            errors.append(f"{where}: must be mode: production")
        if body.get("mode") == "production":
            principal = (body.get("run_as") or {}).get("service_principal_name", "")
            if not UUID_RE.fullmatch(str(principal)):
                errors.append(f"{where}: run_as must be a service principal application ID")
            if not (body.get("workspace") or {}).get("host", "").startswith("https://"):
                errors.append(f"{where}: workspace.host must be an https URL")
        for variable in body.get("variables") or {}:
            if variable not in bundle.variables:
                errors.append(f"{where}: sets undeclared variable {variable!r}")
        values = target_variables(bundle, name)
        for variable in sorted(set(bundle.variables) - set(values)):
            errors.append(f"{where}: variable {variable!r} has no default and no value here")
        for index, permission in enumerate(body.get("permissions") or []):
            principals = PRINCIPAL_KEYS & set(permission)
            if permission.get("level") not in BUNDLE_PERMISSION_LEVELS or len(principals) != 1:
                errors.append(
                    f"{where}.permissions[{index}]: needs a level of "
                    f"{', '.join(BUNDLE_PERMISSION_LEVELS)} and exactly one principal"
                )
        catalog = (body.get("variables") or {}).get("catalog")
        if not catalog:
            errors.append(f"{where}: does not set its own catalog")
        catalogs[name] = catalog
    prod_catalog = catalogs.get(PROD_TARGET)
    for name, catalog in catalogs.items():
        if name != PROD_TARGET and catalog == prod_catalog:
            errors.append(f"databricks.yml: targets.{name} uses the prod catalog {catalog!r}")
    for name, body in targets.items():
        for kind, items in ((body or {}).get("resources") or {}).items():
            base_keys = {
                key
                for _, document in bundle.documents()
                for key in ((document.get("resources") or {}).get(kind) or {})
            }
            for key in items or {}:
                if key not in base_keys:
                    errors.append(f"databricks.yml: targets.{name} overrides unknown {kind}.{key}")
    return errors


def check_jobs(resources: dict[str, dict[str, Any]]) -> list[str]:
    """Job policy and task graph, on the resources as written."""
    errors = []
    for key, job in (resources.get("jobs") or {}).items():
        errors.extend(check_job_policy(f"jobs.{key}", job or {}))
        errors.extend(check_task_graph(f"jobs.{key}", job or {}))
    return errors


def check_job_policy(where: str, job: dict[str, Any]) -> list[str]:
    errors = []
    if not job.get("timeout_seconds"):
        errors.append(f"{where}: timeout_seconds is not set")
    if job.get("max_concurrent_runs") != 1:
        errors.append(f"{where}: max_concurrent_runs must be 1")
    if not job.get("tags"):
        errors.append(f"{where}: has no tags")
    on_failure = [
        *((job.get("email_notifications") or {}).get("on_failure") or []),
        *((job.get("webhook_notifications") or {}).get("on_failure") or []),
    ]
    if not on_failure:
        errors.append(f"{where}: has no failure notification")
    for trigger in ("schedule", "trigger", "continuous"):
        if trigger in job and "pause_status" not in (job[trigger] or {}):
            errors.append(f"{where}: {trigger} has no explicit pause_status (default: UNPAUSED)")
    return errors


def check_task_graph(where: str, job: dict[str, Any]) -> list[str]:
    """Unique task keys, known dependencies and clusters, no cycle, task values from upstream."""
    errors = []
    tasks = job.get("tasks") or []
    keys = [task.get("task_key") for task in tasks]
    for key in {k for k in keys if keys.count(k) > 1}:
        errors.append(f"{where}: task_key {key!r} is used twice")
    clusters = {c.get("job_cluster_key") for c in job.get("job_clusters") or []}
    by_key = {task.get("task_key"): task for task in tasks}
    graph: dict[str, list[str]] = {}
    for task in tasks:
        key = task.get("task_key")
        graph[key] = []
        for dependency in task.get("depends_on") or []:
            upstream = dependency.get("task_key")
            if upstream not in by_key:
                errors.append(f"{where}.{key}: depends_on unknown task {upstream!r}")
                continue
            graph[key].append(upstream)
            if "outcome" in dependency and "condition_task" not in by_key[upstream]:
                errors.append(f"{where}.{key}: outcome on {upstream!r}, which is no condition")
        cluster = task.get("job_cluster_key")
        if cluster is not None and cluster not in clusters:
            errors.append(f"{where}.{key}: job_cluster_key {cluster!r} is not defined")
    cycle = find_cycle(graph)
    if cycle:
        errors.append(f"{where}: depends_on cycle {' -> '.join(cycle)}")
        return errors
    for task in tasks:
        key = task.get("task_key")
        ancestors = upstream_of(key, graph)
        for _, text in strings(task):
            for source in TASK_VALUE_RE.findall(text):
                if source not in ancestors:
                    errors.append(f"{where}.{key}: reads task values of {source!r}, not upstream")
    return errors


def find_cycle(graph: dict[str, list[str]]) -> list[str] | None:
    """A dependency cycle as a list of task keys, or None."""
    state: dict[str, int] = {}
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for upstream in graph.get(node, []):
            if state.get(upstream) == 1:
                return [*path[path.index(upstream) :], upstream]
            if upstream not in state and (cycle := visit(upstream)):
                return cycle
        state[node] = 2
        path.pop()
        return None

    for node in graph:
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def upstream_of(key: str, graph: dict[str, list[str]]) -> set[str]:
    seen: set[str] = set()
    stack = list(graph.get(key, []))
    while stack:
        node = stack.pop()
        if node not in seen:
            seen.add(node)
            stack.extend(graph.get(node, []))
    return seen


# --- per-target checks -------------------------------------------------------------------


def merge(base: Any, override: Any, key: str | None = None) -> Any:
    """Target overrides over the base, as the CLI merges them: maps recursively, tasks (and
    other keyed lists) element by element, other lists concatenated, scalars replaced."""
    if isinstance(base, dict) and isinstance(override, dict):
        result = dict(base)
        for name, value in override.items():
            result[name] = merge(base[name], value, name) if name in base else value
        return result
    if isinstance(base, list) and isinstance(override, list):
        element_key = MERGE_BY_KEY.get(key or "")
        if not element_key:
            return [*base, *override]
        result_list = list(base)
        index = {item.get(element_key): i for i, item in enumerate(result_list)}
        for item in override:
            if item.get(element_key) in index:
                position = index[item.get(element_key)]
                result_list[position] = merge(result_list[position], item)
            else:
                result_list.append(item)
        return result_list
    return override


def resolve_variables(value: Any, variables: dict[str, Any], target: str, errors: list[str]) -> Any:
    """Substitute `${var.x}`: a whole-string reference keeps the variable's type."""

    def resolve(node: Any, depth: int = 0) -> Any:
        if depth > 10:
            errors.append(f"targets.{target}: variable references nest too deep (a cycle?)")
            return node
        if isinstance(node, dict):
            return {k: resolve(v, depth) for k, v in node.items()}
        if isinstance(node, list):
            return [resolve(v, depth) for v in node]
        if not isinstance(node, str) or "${var." not in node:
            return node
        whole = VAR_RE.fullmatch(node)
        if whole and whole.group(1) in variables:
            return resolve(variables[whole.group(1)], depth + 1)
        return VAR_RE.sub(
            lambda m: (
                str(resolve(variables[m.group(1)], depth + 1))
                if m.group(1) in variables
                else m.group(0)
            ),
            node,
        )

    return resolve(value)


def name_prefixed(target: dict[str, Any]) -> bool:
    """Whether the CLI prefixes resource names in this target (mutator ApplyPresets)."""
    return target.get("mode") == "development" or bool(
        (target.get("presets") or {}).get("name_prefix")
    )


def check_prefixed_names(resources: dict[str, dict[str, Any]], target: str) -> list[str]:
    """In a prefixed target the deployed name of a model, experiment or endpoint differs from
    its configured one ("dev_<user>_model", "/Users/u/[dev u] exp"): whoever needs the deployed
    name must reference it (${resources.<type>.<key>.name}), not repeat the configured value."""
    errors = []
    for kind in PREFIXED_KINDS:
        for key, body in (resources.get(kind) or {}).items():
            name = (body or {}).get("name")
            repeats = [
                f"{other_kind}.{other_key}.{location}"
                for other_kind, items in resources.items()
                for other_key, other in (items or {}).items()
                for location, text in strings(other)
                if (other_kind, other_key, location) != (kind, key, "name")
                and name
                and (text == name or text.endswith(f".{name}"))
            ]
            if repeats:
                errors.append(
                    f"targets.{target}: {kind}.{key} is deployed under a prefixed name here, "
                    f"but {len(repeats)} place(s) repeat its configured name {name!r} instead of "
                    f"${{resources.{kind}.{key}.name}}: {', '.join(repeats)}"
                )
    return errors


def check_target_resources(resources: dict[str, dict[str, Any]], target: str) -> list[str]:
    """Typed validation and schedule policy of the resources as deployed to one target."""
    errors = []
    for kind, items in resources.items():
        model = RESOURCE_MODELS.get(kind)
        if model is None:
            errors.append(f"targets.{target}: unsupported resource type {kind!r}")
            continue
        for key, body in (items or {}).items():
            errors.extend(
                f"targets.{target}: {kind}.{key}: {problem}"
                for problem in typed_problems(model, body or {})
            )
    for key, endpoint in (resources.get("model_serving_endpoints") or {}).items():
        for entity in ((endpoint or {}).get("config") or {}).get("served_entities") or []:
            size = entity.get("workload_size")
            if size is not None and size not in SERVING_WORKLOAD_SIZES:
                errors.append(
                    f"targets.{target}: {key}: workload_size {size!r} is not one of "
                    f"{', '.join(SERVING_WORKLOAD_SIZES)}"
                )
    for key, job in (resources.get("jobs") or {}).items():
        for trigger in ("schedule", "trigger", "continuous"):
            if trigger not in (job or {}):
                continue
            status = (job[trigger] or {}).get("pause_status", "UNPAUSED")
            if target != PROD_TARGET and status != "PAUSED":
                errors.append(f"targets.{target}: jobs.{key}.{trigger} is {status}, not PAUSED")
    return errors


def typed_problems(model: Any, body: dict[str, Any]) -> list[str]:
    """Errors of the typed model, plus values it silently coerced (1.5 -> 1, a list -> str)."""
    try:
        parsed = model.from_dict(body).as_dict()
    except (TypeError, ValueError, KeyError) as exc:
        return [f"{type(exc).__name__}: {exc}"]
    return [f"{path}: {problem}" for path, problem in coerced(body, parsed)]


def coerced(original: Any, parsed: Any, path: str = "") -> Iterator[tuple[str, str]]:
    if isinstance(original, dict) and isinstance(parsed, dict):
        for key, value in original.items():
            if value is None or value == {} or value == []:
                continue
            if key not in parsed:
                yield f"{path}.{key}", "dropped by the typed model"
            else:
                yield from coerced(value, parsed[key], f"{path}.{key}")
    elif isinstance(original, list) and isinstance(parsed, list):
        for index, (left, right) in enumerate(zip(original, parsed, strict=False)):
            yield from coerced(left, right, f"{path}[{index}]")
    elif type(original) is not type(parsed) or original != parsed:
        yield path or ".", f"{original!r} was read as {parsed!r} (wrong type)"


# --- helpers -------------------------------------------------------------------------------


def strings(node: Any, location: str = "") -> Iterator[tuple[str, str]]:
    """(location, text) for every string in a YAML tree, keys included."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield location or "(top)", str(key)
            yield from strings(value, join(location, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from strings(value, f"{location}[{index}]")
    elif isinstance(node, str):
        yield location, node


def items_with_keys(node: Any, location: str = "") -> Iterator[tuple[str, str, Any]]:
    """(location, key, value) for every mapping entry in a YAML tree."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield join(location, key), str(key), value
            yield from items_with_keys(value, join(location, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from items_with_keys(value, f"{location}[{index}]")


def join(location: str, key: object) -> str:
    return f"{location}.{key}" if location else str(key)


def rel(path: Path, root: Path) -> str:
    try:
        return str(path.relative_to(root))
    except ValueError:
        return str(path)
