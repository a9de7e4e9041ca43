"""Offline validation of a rendered Databricks Asset Bundle.

The Databricks CLI is not available here. The bundle is loaded, for every target, by the
generated project's own loader (``<package>_local/runner/bundle.py``, the one the local runner
executes jobs from), which follows the CLI's merge, variable, preset and path rules: there is
one loader, and these checks see exactly what a local run sees. On the loaded bundle:

- every resource is validated with the typed models of ``databricks-bundles`` (unknown keys,
  enums, types), per target;
- references resolve, paths exist, task graphs are sound, policies hold (timeouts, failure
  mail, paused schedules outside prod, service principals in production targets);
- the CLI's own ``run_as`` and production-mode rules that ``bundle validate`` would apply;
- each dashboard's ``.lvdash.json``: valid JSON with datasets and pages, every widget querying a
  dataset that exists.

Variables that look a value up by name (a warehouse) get a stand-in value, as resource IDs do:
what a workspace would give.

``check_bundle(root)`` returns a list of readable error strings (empty when the bundle is valid).
"""

from __future__ import annotations

import importlib
import json
import re
import sys
import types
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

from databricks.bundles.alerts import Alert
from databricks.bundles.dashboards import Dashboard
from databricks.bundles.experiments import MlflowExperiment
from databricks.bundles.jobs import Job
from databricks.bundles.model_serving_endpoints import ModelServingEndpoint
from databricks.bundles.quality_monitors import QualityMonitor
from databricks.bundles.registered_models import RegisteredModel
from databricks.bundles.schemas import Schema
from databricks.bundles.volumes import Volume

TEMPLATE_DIR = Path(__file__).resolve().parents[1]
RUNNER_DIR = (
    TEMPLATE_DIR / "{{cookiecutter.project_slug}}" / "src" / "{{cookiecutter.package_name}}_local"
) / "runner"

# A service principal's user name is its application ID, which reads no mail.
SP_DEPLOYER = (
    "the deploying service principal's application ID, not a mailbox: pass "
    "--var alert_email=<address> (or BUNDLE_VAR_alert_email) when a service principal deploys"
)

# Jobs that a person starts in staging and prod (their runs record who decided).
PEOPLE_RUN_JOBS = ("rollback_job", "approval_job")

# Resource types the template may use, by their key under `resources:`.
RESOURCE_MODELS: dict[str, Any] = {
    "jobs": Job,
    "experiments": MlflowExperiment,
    "registered_models": RegisteredModel,
    "model_serving_endpoints": ModelServingEndpoint,
    "quality_monitors": QualityMonitor,
    "schemas": Schema,
    "volumes": Volume,
    "dashboards": Dashboard,
    "alerts": Alert,
}
REQUIRED_TARGETS = ("dev", "test", "staging", "prod")
PROD_TARGET = "prod"
DEV_TARGET = "dev"
# Resources the CLI rejects when a top-level run_as differs from the deploying identity
# (bundle/config/mutator/resourcemutator/run_as.go).
RUN_AS_REJECTED = ("model_serving_endpoints", "quality_monitors", "apps")
SERVING_WORKLOAD_SIZES = ("Small", "Medium", "Large")  # a plain string in the typed model
BUNDLE_PERMISSION_LEVELS = ("CAN_VIEW", "CAN_RUN", "CAN_MANAGE")
PRINCIPAL_KEYS = {"user_name", "group_name", "service_principal_name"}
REFERENCE_ROOTS = ("var", "bundle", "workspace", "resources", "artifacts")

# The reference syntax of the bundle CLI (same pattern as databricks.bundles.core._transform).
_NAME = r"_*[^\W\d_]+(?:[-_]*[^\W_]+)*"
REFERENCE_RE = re.compile(rf"(?<!\$)\$\{{({_NAME}(?:\.{_NAME}(?:\[[0-9]+\])*)*(?:\[[0-9]+\])*)\}}")
ANY_REFERENCE_RE = re.compile(r"\$\{([^}]*)\}")
TASK_VALUE_RE = re.compile(r"\{\{\s*tasks\.([A-Za-z0-9_-]+)\.values\.[A-Za-z0-9_]+\s*\}\}")
UUID_RE = re.compile(r"[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}")
NOTEBOOK_HEADER = "# Databricks notebook source"
WORKSPACE_ID = 1234567890  # what a workspace would give a resource (jobs have numeric IDs)
LOOKUP_VALUE = "0123456789abcdef"  # what a workspace would give a lookup (a warehouse ID)
# Resource kinds a target may define itself (not only override): the Lakehouse monitor exists
# only in long-lived targets, because its table must exist before it can be created.
TARGET_DEFINED_KINDS = ("quality_monitors",)


@cache
def loader() -> types.ModuleType:
    """The generated project's bundle loader, imported from the template (it has no Jinja)."""
    package = types.ModuleType("generated_runner")
    package.__path__ = [str(RUNNER_DIR)]
    sys.modules["generated_runner"] = package
    return importlib.import_module("generated_runner.bundle")


def check_bundle(root: Path) -> list[str]:
    """Every problem found in the bundle rooted at ``root`` (empty list: valid)."""
    bundle_module = loader()
    try:
        raw = bundle_module.read_bundle(root)
    except bundle_module.BundleError as exc:
        return [str(exc)]
    errors: list[str] = []
    errors += check_unmatched_resource_files(root, raw.files)
    errors += check_references(raw.config)
    errors += check_targets(raw.config)
    lookups = dict.fromkeys(lookup_variables(raw.config), LOOKUP_VALUE)
    for target in sorted(raw.config.get("targets") or {}):
        try:
            bundle = bundle_module.load_bundle(
                root,
                target,
                lookups,
                keep_unresolved=True,
                resource_id=lambda kind, key: WORKSPACE_ID,
            )
        except bundle_module.BundleError as exc:
            errors.append(f"targets.{target}: {exc}")
            continue
        errors += [f"targets.{target}: {e}" for e in check_target(bundle, raw.config)]
    return errors


def lookup_variables(config: dict[str, Any]) -> list[str]:
    """Variables that some target resolves by a lookup."""
    names = {
        name
        for name, spec in (config.get("variables") or {}).items()
        if isinstance(spec, dict) and spec.get("lookup")
    }
    for body in (config.get("targets") or {}).values():
        for name, value in ((body or {}).get("variables") or {}).items():
            if isinstance(value, dict) and value.get("lookup"):
                names.add(name)
    return sorted(names)


# --- bundle-wide checks, on the files as written -----------------------------------------------


def check_unmatched_resource_files(root: Path, files: list[Path]) -> list[str]:
    return [
        f"{path.relative_to(root)}: not matched by any include of databricks.yml"
        for path in sorted((root / "resources").glob("*.y*ml"))
        if path not in files
    ]


def check_references(config: dict[str, Any]) -> list[str]:
    """`${...}` references: well formed, known roots, declared variables, defined resources."""
    errors = []
    variables = config.get("variables") or {}
    defined = {
        (kind, key)
        for kind, items in (config.get("resources") or {}).items()
        for key in items or {}
    }
    used = set()
    for location, text in strings(config):
        for raw in ANY_REFERENCE_RE.findall(text):
            if not REFERENCE_RE.fullmatch(f"${{{raw}}}"):
                errors.append(f"{location}: malformed reference ${{{raw}}}")
                continue
            parts = raw.split(".")
            if parts[0] not in REFERENCE_ROOTS:
                errors.append(f"{location}: unknown reference root ${{{raw}}}")
            elif parts[0] == "var":
                name = parts[1].split("[")[0]
                used.add(name)
                if name not in variables:
                    errors.append(f"{location}: undeclared variable ${{{raw}}}")
            elif parts[0] == "resources" and (
                len(parts) < 4 or (parts[1], parts[2]) not in defined
            ):
                errors.append(f"{location}: reference to undefined ${{{raw}}}")
    for name in sorted(set(variables) - used):
        errors.append(f"databricks.yml: variable {name!r} is declared but never used")
    return errors


def check_targets(config: dict[str, Any]) -> list[str]:
    """Required targets, production settings, a catalog per target, policy of run_as."""
    errors = []
    targets = config.get("targets") or {}
    resources = config.get("resources") or {}
    for name in REQUIRED_TARGETS:
        if name not in targets:
            errors.append(f"databricks.yml: target {name!r} is missing")
    defaults = [name for name, body in targets.items() if (body or {}).get("default")]
    if defaults != [DEV_TARGET]:
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
            errors += check_production_target(where, body, resources)
        own = body.get("resources") or {}
        rejected = [k for k in RUN_AS_REJECTED if resources.get(k) or own.get(k)]
        if body.get("run_as") and rejected:
            errors.append(
                f"{where}: a target-level run_as makes `bundle validate` reject "
                f"{', '.join(rejected)} for any other deployer: set run_as per job"
            )
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
        for kind, items in (body.get("resources") or {}).items():
            for key in items or {}:
                if key not in (resources.get(kind) or {}) and kind not in TARGET_DEFINED_KINDS:
                    errors.append(f"{where}: overrides unknown {kind}.{key}")
    prod_catalog = catalogs.get(PROD_TARGET)
    for name, catalog in catalogs.items():
        if name != PROD_TARGET and catalog == prod_catalog:
            errors.append(f"databricks.yml: targets.{name} uses the prod catalog {catalog!r}")
    return errors


def check_production_target(
    where: str, body: dict[str, Any], resources: dict[str, Any]
) -> list[str]:
    """Production mode: an explicit root path, jobs run as a service principal, an https host."""
    errors = []
    if not (body.get("workspace") or {}).get("root_path"):
        errors.append(f"{where}: mode production needs workspace.root_path in the target")
    if not (body.get("workspace") or {}).get("host", "").startswith("https://"):
        errors.append(f"{where}: workspace.host must be an https URL")
    job_overrides = (body.get("resources") or {}).get("jobs") or {}
    for job in resources.get("jobs") or {}:
        principal = ((job_overrides.get(job) or {}).get("run_as") or {}).get(
            "service_principal_name", ""
        )
        if not UUID_RE.fullmatch(str(principal)):
            errors.append(
                f"{where}: run_as of job {job!r} must be a service principal application ID"
            )
        runners = [
            p.get("group_name")
            for p in (job_overrides.get(job) or {}).get("permissions") or []
            if p.get("level") == "CAN_MANAGE_RUN"
        ]
        if job in PEOPLE_RUN_JOBS and not any(runners):
            errors.append(
                f"{where}: job {job!r} is started by people, but no group may run it "
                "(CAN_MANAGE_RUN): only its owner, the service principal, and admins could"
            )
    return errors


# --- per-target checks, on the bundle as the loader resolves it ---------------------------------


def check_target(bundle: Any, config: dict[str, Any]) -> list[str]:
    """Typed validation, references left unresolved, paths, task graphs and policies."""
    errors = []
    for kind, key, body in bundle.iter_resources():
        model = RESOURCE_MODELS.get(kind)
        if model is None:
            errors.append(f"unsupported resource type {kind!r}")
            continue
        errors += [f"{kind}.{key}: {problem}" for problem in typed_problems(model, body)]
        errors += [
            f"{kind}.{key}.{location}: unresolved {text!r}"
            for location, text in strings(body)
            if "${" in text
        ]
    for key, endpoint in (bundle.resources.get("model_serving_endpoints") or {}).items():
        for entity in ((endpoint or {}).get("config") or {}).get("served_entities") or []:
            size = entity.get("workload_size")
            if size is not None and size not in SERVING_WORKLOAD_SIZES:
                errors.append(
                    f"{key}: workload_size {size!r} is not one of "
                    f"{', '.join(SERVING_WORKLOAD_SIZES)}"
                )
    for key, dashboard in (bundle.resources.get("dashboards") or {}).items():
        errors += check_dashboard(f"dashboards.{key}", dashboard)
    for key, alert in (bundle.resources.get("alerts") or {}).items():
        errors += check_alert_policy(f"alerts.{key}", alert, bundle)
    for key, job in (bundle.resources.get("jobs") or {}).items():
        errors += check_job_policy(f"jobs.{key}", job, bundle)
        errors += check_task_graph(f"jobs.{key}", job)
        errors += check_job_paths(f"jobs.{key}", job)
    errors += check_prefixed_names(bundle, config)
    return errors


def check_job_policy(where: str, job: dict[str, Any], bundle: Any) -> list[str]:
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
    if bundle.target != DEV_TARGET and bundle.user_name in on_failure:
        errors.append(
            f"{where}: failure mail goes to the deploying identity, which is a service "
            "principal outside dev: set alert_email for this target"
        )
    if UUID_RE.fullmatch(bundle.user_name) and bundle.user_name in on_failure:
        errors.append(f"{where}: failure mail goes to {SP_DEPLOYER}")
    for trigger in ("schedule", "trigger", "continuous"):
        status = (job.get(trigger) or {}).get("pause_status")
        if trigger in job and bundle.target != PROD_TARGET and status != "PAUSED":
            errors.append(f"{where}.{trigger} is {status}, not PAUSED")
    compute = {"job_cluster_key", "environment_key", "existing_cluster_id", "new_cluster"}
    for task in job.get("tasks") or []:
        if "condition_task" in task or "run_job_task" in task:
            continue
        if not compute & set(task):
            errors.append(f"{where}.{task.get('task_key')}: names no compute")
    return errors


def check_dashboard(where: str, dashboard: dict[str, Any]) -> list[str]:
    """The ``.lvdash.json`` parses, has datasets and pages, and every widget queries a dataset
    that exists; unqualified table names need the deployed catalog and schema."""
    errors = []
    for field_name in ("warehouse_id", "dataset_catalog", "dataset_schema"):
        if not dashboard.get(field_name):
            errors.append(f"{where}: {field_name} is not set")
    file_path = dashboard.get("file_path")
    if not file_path or not Path(file_path).is_file():
        return [*errors, f"{where}: file_path {file_path!r} does not exist"]
    errors += [f"{where}: {file_path}: {problem}" for problem in lvdash_problems(Path(file_path))]
    return errors


def lvdash_problems(path: Path) -> list[str]:
    """Problems of a Lakeview dashboard file (empty list: valid)."""
    try:
        content = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        return [f"not valid JSON: {exc}"]
    if not isinstance(content, dict):
        return ["not a JSON object"]
    datasets = content.get("datasets")
    pages = content.get("pages")
    problems = []
    if not isinstance(datasets, list) or not datasets:
        problems.append("has no datasets")
        datasets = []
    if not isinstance(pages, list) or not pages:
        problems.append("has no pages")
        pages = []
    names = [d.get("name") for d in datasets if isinstance(d, dict)]
    for name in sorted({n for n in names if names.count(n) > 1 or not n}, key=str):
        problems.append(f"dataset name {name!r} is empty or used twice")
    for dataset in datasets:
        if not (dataset.get("query") or dataset.get("queryLines")):
            problems.append(f"dataset {dataset.get('name')!r} has no query")
    for page in pages:
        for item in page.get("layout") or []:
            widget = item.get("widget") or {}
            for query in widget.get("queries") or []:
                used = (query.get("query") or {}).get("datasetName")
                if used not in names:
                    problems.append(
                        f"widget {widget.get('name')!r} on page {page.get('name')!r} queries "
                        f"unknown dataset {used!r}"
                    )
    return problems


def check_alert_policy(where: str, alert: dict[str, Any], bundle: Any) -> list[str]:
    """Paused outside prod (as job schedules are); nobody notified is a service principal."""
    errors = []
    status = (alert.get("schedule") or {}).get("pause_status")
    if bundle.target != PROD_TARGET and status != "PAUSED":
        errors.append(f"{where}.schedule is {status}, not PAUSED")
    subscriptions = ((alert.get("evaluation") or {}).get("notification") or {}).get(
        "subscriptions"
    ) or []
    if not subscriptions:
        errors.append(f"{where}: notifies nobody")
    emails = [s.get("user_email") for s in subscriptions]
    if bundle.target != DEV_TARGET and bundle.user_name in emails:
        errors.append(
            f"{where}: notifies the deploying identity, which is a service principal outside "
            "dev: set alert_email for this target"
        )
    if UUID_RE.fullmatch(bundle.user_name) and bundle.user_name in emails:
        errors.append(f"{where}: notifies {SP_DEPLOYER}")
    return errors


def check_task_graph(where: str, job: dict[str, Any]) -> list[str]:
    """Unique task keys, known dependencies and compute, no cycle, task values from upstream."""
    errors = []
    tasks = job.get("tasks") or []
    keys = [task.get("task_key") for task in tasks]
    for key in {k for k in keys if keys.count(k) > 1 or not k}:
        errors.append(f"{where}: task_key {key!r} is used twice or empty")
    declared = {
        "job_cluster_key": {c.get("job_cluster_key") for c in job.get("job_clusters") or []},
        "environment_key": {e.get("environment_key") for e in job.get("environments") or []},
    }
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
        for field_name, known in declared.items():
            value = task.get(field_name)
            if value is not None and value not in known:
                errors.append(f"{where}.{key}: {field_name} {value!r} is not defined")
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


def check_job_paths(where: str, job: dict[str, Any]) -> list[str]:
    """Notebooks exist (relative to the file that names them, as the CLI resolves them)."""
    errors = []
    for task in job.get("tasks") or []:
        notebook = (task.get("notebook_task") or {}).get("notebook_path")
        if not notebook:
            continue
        path = Path(notebook)
        if not path.is_file():
            errors.append(f"{where}.{task.get('task_key')}: notebook {notebook!r} does not exist")
        elif path.suffix == ".py" and path.read_text().split("\n", 1)[0] != NOTEBOOK_HEADER:
            errors.append(f"{where}.{task.get('task_key')}: {notebook!r} is not a notebook")
    return errors


def check_prefixed_names(bundle: Any, config: dict[str, Any]) -> list[str]:
    """In a prefixed target the deployed name of a schema, model, experiment or endpoint
    differs from its configured one: whoever needs the deployed name must reference it
    (${resources.<kind>.<key>.name}), not repeat the configured value."""
    prefix = str(bundle.presets.get("name_prefix") or "")
    if not prefix:
        return []
    uc_prefix = loader().normalize_prefix(prefix)
    errors = []
    for kind in ("schemas", "registered_models", "model_serving_endpoints", "experiments"):
        for key, body in (bundle.resources.get(kind) or {}).items():
            deployed = str((body or {}).get("name") or "")
            if kind == "experiments":
                folder, _, base = deployed.rpartition("/")
                configured = f"{folder}/{base.removeprefix(prefix)}"
            else:
                configured = deployed.removeprefix(uc_prefix)
            if not configured or configured == deployed:
                continue
            pattern = re.compile(rf"(^|[./]){re.escape(configured)}($|\.)")
            repeats = [
                f"{other_kind}.{other_key}.{location}"
                for other_kind, other_key, other in bundle.iter_resources()
                if (other_kind, other_key) != (kind, key)
                for location, text in strings(other)
                if pattern.search(text)
            ]
            if repeats:
                errors.append(
                    f"{kind}.{key} is deployed as {deployed!r} here, but {len(repeats)} "
                    f"place(s) use its configured name {configured!r} instead of "
                    f"${{resources.{kind}.{key}.name}}: {', '.join(repeats)}"
                )
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


def join(location: str, key: object) -> str:
    return f"{location}.{key}" if location else str(key)
