"""Offline validation of the generated bundle, and proof that the validator catches mistakes."""

from __future__ import annotations

import gzip
import json
import re
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from bundle_checks import TARGET_DEFINED_KINDS, check_bundle, loader
from ci_platforms import tool
from conftest import ALL_ON, COOKIECUTTER_JSON, Renderings

# Resource keys and (for jobs) task keys: the contract of docs/architecture.md, per option.
BASE_RESOURCES: dict[str, dict[str, list[str]]] = {
    "jobs": {
        "training_job": ["train", "validate", "check_passed", "deploy"],
        "batch_inference_job": ["score"],
        "rollback_job": ["rollback"],
    },
    "experiments": {"experiment": []},
    "registered_models": {"model": []},
    "schemas": {"project_schema": []},
}
OPTION_RESOURCES: dict[str, dict[str, dict[str, list[str]]]] = {
    "include_feature_store": {"jobs": {"feature_refresh_job": ["refresh_features"]}},
    "include_monitoring": {
        "jobs": {"monitoring_job": ["monitor", "check_retrain", "retrain"]},
        "dashboards": {"monitoring_dashboard": []},
        "alerts": {"drift_alert": []},
    },
    "include_streaming": {
        "jobs": {"streaming_inference_job": ["score_stream"]},
        "volumes": {"checkpoints": []},
    },
    "include_serving": {"jobs": {"canary_job": ["canary_check"]}},
    "model_approval": {"jobs": {"approval_job": ["decide", "check_approved", "deploy"]}},
}
# Resources that only some targets define (target -> kind -> keys), per option.
OPTION_TARGET_RESOURCES: dict[str, dict[str, dict[str, list[str]]]] = {
    "include_monitoring": {
        "staging": {"quality_monitors": ["inference_log_monitor"]},
        "prod": {"quality_monitors": ["inference_log_monitor"]},
    },
}
# Every option on, with classic compute (the job_cluster variable exists only there).
ALL_ON_CLASSIC = {**ALL_ON, "compute": "classic"}


def expected_resources(options: dict[str, str]) -> dict[str, dict[str, list[str]]]:
    expected = {kind: dict(items) for kind, items in BASE_RESOURCES.items()}
    for option, resources in OPTION_RESOURCES.items():
        if options[option] == "yes":
            for kind, items in resources.items():
                expected.setdefault(kind, {}).update(items)
    if options["include_feature_store"] == options["include_serving"] == "yes":
        # Serving looks the features up online: feature refresh publishes them.
        expected["jobs"]["feature_refresh_job"] = ["refresh_features", "publish_features"]
    return expected


def defined_resources(project: Path) -> dict[str, dict[str, list[str]]]:
    found: dict[str, dict[str, list[str]]] = {}
    for path in [project / "databricks.yml", *sorted((project / "resources").glob("*.yml"))]:
        document = yaml.safe_load(path.read_text()) or {}
        for kind, items in (document.get("resources") or {}).items():
            for key, body in (items or {}).items():
                tasks = [task["task_key"] for task in (body or {}).get("tasks") or []]
                found.setdefault(kind, {})[key] = tasks
    return found


def defined_target_resources(project: Path) -> dict[str, dict[str, list[str]]]:
    """Resources that targets define themselves (not overrides of top-level ones)."""
    found: dict[str, dict[str, list[str]]] = {}
    for path in [project / "databricks.yml", *sorted((project / "resources").glob("*.yml"))]:
        document = yaml.safe_load(path.read_text()) or {}
        for target, body in (document.get("targets") or {}).items():
            for kind, items in ((body or {}).get("resources") or {}).items():
                if kind in TARGET_DEFINED_KINDS:
                    found.setdefault(target, {})[kind] = sorted(items or {})
    return found


def test_bundle_validates_offline(rendered: tuple[dict[str, str], Path]) -> None:
    """Typed models per target, references, paths, task graphs and policies all pass."""
    _, project = rendered
    assert check_bundle(project) == []


def test_resources_match_the_contract(rendered: tuple[dict[str, str], Path]) -> None:
    """Exactly the jobs (with their tasks, in order) and artifacts the options call for."""
    options, project = rendered
    assert defined_resources(project) == expected_resources(options)
    expected_targets: dict[str, dict[str, list[str]]] = {}
    for option, targets in OPTION_TARGET_RESOURCES.items():
        if options[option] == "yes":
            for target, kinds in targets.items():
                expected_targets.setdefault(target, {}).update(kinds)
    assert defined_target_resources(project) == expected_targets


# --- the validator catches each kind of mistake ---------------------------------------------

Mutation = Callable[[dict[str, Any]], None]


def task(document: dict[str, Any], job: str, key: str) -> dict[str, Any]:
    tasks = document["resources"]["jobs"][job]["tasks"]
    return next(t for t in tasks if t["task_key"] == key)


def target_job(document: dict[str, Any], target: str, job: str) -> dict[str, Any]:
    """A job's override in a target of databricks.yml."""
    return document["targets"][target]["resources"]["jobs"][job]


def set_in(path: list[Any], value: Any) -> Mutation:
    def mutate(document: dict[str, Any]) -> None:
        node = document
        for part in path[:-1]:
            node = node[part]
        node[path[-1]] = value

    return mutate


TRAIN = "resources/training-job.yml"
JOB = ["resources", "jobs", "training_job"]
DASHBOARD = "resources/monitoring-dashboard.yml"
ALERT = "resources/monitoring-alert.yml"
DRIFT_ALERT = ["resources", "alerts", "drift_alert"]
MONITOR = "resources/lakehouse-monitor.yml"

# id -> (file, mutation, text expected in one of the errors)
CORRUPTIONS: dict[str, tuple[str, Mutation, str]] = {
    "misspelled-key": (
        TRAIN,
        lambda d: task(d, "training_job", "train")["notebook_task"].update(base_parameter={}),
        "Unexpected field 'base_parameter'",
    ),
    "misspelled-job-key": (TRAIN, set_in([*JOB, "timeout_second"], 60), "'timeout_second'"),
    "wrong-type-int": (TRAIN, set_in([*JOB, "timeout_seconds"], "one hour"), "invalid literal"),
    "wrong-type-coerced": (
        TRAIN,
        lambda d: task(d, "training_job", "train").update(max_retries=1.5),
        "wrong type",
    ),
    "wrong-type-list": (TRAIN, set_in([*JOB, "description"], ["a", "b"]), "wrong type"),
    "bad-enum-via-variable": (
        "databricks.yml",
        set_in(["variables", "schedule_pause_status", "default"], "Paused"),
        "is not a valid PauseStatus",
    ),
    "bad-key-in-complex-variable": (
        "databricks.yml",
        lambda d: d["variables"]["job_cluster"]["default"].update(num_worker=1),
        "Unexpected field 'num_worker'",
    ),
    "dangling-depends-on": (
        TRAIN,
        set_in([*JOB, "tasks", 2, "depends_on"], [{"task_key": "validat"}]),
        "depends_on unknown task 'validat'",
    ),
    "depends-on-cycle": (
        TRAIN,
        set_in([*JOB, "tasks", 0, "depends_on"], [{"task_key": "deploy"}]),
        "depends_on cycle",
    ),
    "task-value-not-upstream": (
        TRAIN,
        lambda d: task(d, "training_job", "deploy").pop("depends_on"),
        "reads task values of 'train', not upstream",
    ),
    "undeclared-variable": (
        TRAIN,
        lambda d: task(d, "training_job", "train")["notebook_task"]["base_parameters"].update(
            catalog="${var.catalgo}"
        ),
        "undeclared variable ${var.catalgo}",
    ),
    "missing-notebook": (
        TRAIN,
        lambda d: task(d, "training_job", "train")["notebook_task"].update(
            notebook_path="../notebooks/trian.py"
        ),
        "notebooks/trian.py' does not exist",
    ),
    "dangling-resource-reference": (
        "resources/monitoring-job.yml",
        lambda d: task(d, "monitoring_job", "retrain")["run_job_task"].update(
            job_id="${resources.jobs.training.id}"
        ),
        "reference to undefined ${resources.jobs.training.id}",
    ),
    "unpaused-outside-prod": (
        "resources/batch-inference-job.yml",
        set_in(
            ["resources", "jobs", "batch_inference_job", "schedule", "pause_status"], "UNPAUSED"
        ),
        "targets.staging: jobs.batch_inference_job.schedule is UNPAUSED",
    ),
    "no-timeout": (
        TRAIN,
        lambda d: d["resources"]["jobs"]["training_job"].pop("timeout_seconds"),
        "timeout_seconds is not set",
    ),
    "no-failure-notification": (
        TRAIN,
        lambda d: d["resources"]["jobs"]["training_job"].pop("email_notifications"),
        "no failure notification",
    ),
    "override-of-unknown-resource": (
        "databricks.yml",
        lambda d: d["targets"]["prod"]["resources"].update(registered_models={"modle": {}}),
        "overrides unknown registered_models.modle",
    ),
    "prod-job-without-service-principal": (
        "databricks.yml",
        lambda d: d["targets"]["prod"]["resources"]["jobs"]["training_job"].pop("run_as"),
        "run_as of job 'training_job' must be a service principal",
    ),
    "target-run-as-with-serving-or-monitor": (
        "databricks.yml",
        lambda d: (
            d["targets"]["staging"].update(run_as={"service_principal_name": "x"}),
            d.setdefault("resources", {}).update(
                quality_monitors={
                    "m": {"table_name": "a.b.c", "assets_dir": "/x", "output_schema_name": "a.b"}
                }
            ),
        ),
        "a target-level run_as makes `bundle validate` reject quality_monitors",
    ),
    "production-without-root-path": (
        "databricks.yml",
        lambda d: d["targets"]["staging"]["workspace"].pop("root_path"),
        "targets.staging: mode production needs workspace.root_path",
    ),
    "failure-mail-to-a-service-principal": (
        "databricks.yml",
        set_in(
            ["targets", "staging", "variables", "alert_email"], "${workspace.current_user.userName}"
        ),
        "failure mail goes to the deploying identity",
    ),
    "task-names-no-compute": (
        TRAIN,
        lambda d: task(d, "training_job", "train").pop("job_cluster_key"),
        "training_job.train: names no compute",
    ),
    "undeclared-job-cluster": (
        TRAIN,
        lambda d: task(d, "training_job", "train").update(job_cluster_key="ml_clustre"),
        "job_cluster_key 'ml_clustre' is not defined",
    ),
    "target-appends-a-task-with-a-missing-notebook": (
        "databricks.yml",
        lambda d: d["targets"]["dev"].update(
            resources={
                "jobs": {
                    "training_job": {
                        "tasks": [
                            {
                                "task_key": "extra",
                                "job_cluster_key": "ml_cluster",
                                "notebook_task": {"notebook_path": "notebooks/nope.py"},
                            }
                        ]
                    }
                }
            }
        ),
        "training_job.extra: notebook",
    ),
    "target-without-catalog": (
        "databricks.yml",
        lambda d: d["targets"]["test"]["variables"].pop("catalog"),
        "targets.test: does not set its own catalog",
    ),
    "configured-name-in-prefixed-target": (
        "resources/rollback-job.yml",
        lambda d: task(d, "rollback_job", "rollback")["notebook_task"]["base_parameters"].update(
            model_name="${var.catalog}.${var.schema}.${var.model_name}"
        ),
        "targets.dev: registered_models.model is deployed as",
    ),
    "bad-target-permission": (
        "databricks.yml",
        lambda d: d["targets"]["prod"]["permissions"].append({"level": "CAN_QUERY"}),
        "targets.prod.permissions[1]: needs a level",
    ),
    "dashboard-without-dataset-schema": (
        DASHBOARD,
        lambda d: d["resources"]["dashboards"]["monitoring_dashboard"].pop("dataset_schema"),
        "dashboards.monitoring_dashboard: dataset_schema is not set",
    ),
    "dashboard-file-missing": (
        DASHBOARD,
        lambda d: d["resources"]["dashboards"]["monitoring_dashboard"].update(
            file_path="../dashboards/monitor.lvdash.json"
        ),
        "monitor.lvdash.json' does not exist",
    ),
    "alert-unpaused-outside-prod": (
        ALERT,
        set_in([*DRIFT_ALERT, "schedule", "pause_status"], "UNPAUSED"),
        "targets.staging: alerts.drift_alert.schedule is UNPAUSED",
    ),
    "alert-mails-the-deployer": (
        ALERT,
        set_in(
            [*DRIFT_ALERT, "evaluation", "notification", "subscriptions"],
            [{"user_email": "${workspace.current_user.userName}"}],
        ),
        "targets.prod: alerts.drift_alert: notifies the deploying identity",
    ),
    "alert-bad-operator": (
        ALERT,
        set_in([*DRIFT_ALERT, "evaluation", "comparison_operator"], "ABOVE"),
        "is not a valid ComparisonOperator",
    ),
    "monitor-misspelled-column-key": (
        MONITOR,
        lambda d: d["targets"]["prod"]["resources"]["quality_monitors"]["inference_log_monitor"][
            "inference_log"
        ].update(timestamp_column="scored_at"),
        "quality_monitors.inference_log_monitor: ValueError: Unexpected field 'timestamp_column'",
    ),
    "monitor-bad-problem-type": (
        MONITOR,
        lambda d: d["targets"]["staging"]["resources"]["quality_monitors"]["inference_log_monitor"][
            "inference_log"
        ].update(problem_type="REGRESSION"),
        "is not a valid MonitorInferenceLogProblemType",
    ),
    "bad-volume-type": (
        "resources/ml-artifacts.yml",
        set_in(["resources", "volumes", "checkpoints", "volume_type"], "MANAGD"),
        "is not a valid VolumeType",
    ),
    "approval-deploys-a-version-no-task-decided": (
        "resources/approval-job.yml",
        lambda d: task(d, "approval_job", "deploy")["notebook_task"]["base_parameters"].update(
            model_version="{" * 2 + "tasks.decid.values.model_version" + "}" * 2
        ),
        "reads task values of 'decid', not upstream",
    ),
    "approvers-cannot-run-rollback": (
        "databricks.yml",
        lambda d: target_job(d, "prod", "rollback_job").pop("permissions"),
        "targets.prod: job 'rollback_job' is started by people, but no group may run it",
    ),
    "approvers-only-view-approval": (
        "databricks.yml",
        lambda d: target_job(d, "staging", "approval_job")["permissions"][0].update(
            level="CAN_VIEW"
        ),
        "targets.staging: job 'approval_job' is started by people, but no group may run it",
    ),
    "include-matches-nothing": (
        "databricks.yml",
        lambda d: d["include"].append("resources/missing.yml"),
        "include 'resources/missing.yml' does not match any file",
    ),
}


def mutated_copy(source: Path, file: str, mutate: Mutation, tmp_path: Path) -> Path:
    """A copy of the rendering ``source`` with ``mutate`` applied to the YAML ``file``."""
    project = tmp_path / "project"
    shutil.copytree(source, project)
    path = project / file
    document = yaml.safe_load(path.read_text())
    mutate(document)
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return project


@pytest.fixture(scope="module")
def pristine(renderings: Renderings) -> tuple[Path, list[str]]:
    """The rendering with every option on and classic compute (copied, never modified) and its
    own errors."""
    project = renderings.get(ALL_ON_CLASSIC)
    return project, check_bundle(project)


@pytest.mark.parametrize(("file", "mutate", "expected"), CORRUPTIONS.values(), ids=CORRUPTIONS)
def test_validator_catches(
    file: str, mutate: Mutation, expected: str, pristine: tuple[Path, list[str]], tmp_path: Path
) -> None:
    """The corruption produces a new error with the expected text."""
    source, before = pristine
    project = mutated_copy(source, file, mutate, tmp_path)
    new_errors = set(check_bundle(project)) - set(before)
    assert any(expected in error for error in new_errors), new_errors


LVDASH = "dashboards/monitoring.lvdash.json"

# id -> (mutation of the dashboard's JSON, text expected in one of the errors)
DASHBOARD_CORRUPTIONS: dict[str, tuple[Callable[[dict[str, Any]], Any], str]] = {
    "widget-queries-unknown-dataset": (
        lambda d: d["pages"][0]["layout"][1]["widget"]["queries"][0]["query"].update(
            datasetName="champion_histroy"
        ),
        "queries unknown dataset 'champion_histroy'",
    ),
    "dataset-renamed-under-its-widgets": (
        lambda d: d["datasets"][0].update(name="renamed"),
        "queries unknown dataset 'champion_history'",
    ),
    "no-pages": (lambda d: d.pop("pages"), "has no pages"),
    "dataset-without-query": (lambda d: d["datasets"][1].pop("queryLines"), "has no query"),
}


@pytest.mark.parametrize(
    ("mutate", "expected"), DASHBOARD_CORRUPTIONS.values(), ids=DASHBOARD_CORRUPTIONS
)
def test_dashboard_check_catches(
    mutate: Callable[[dict[str, Any]], Any],
    expected: str,
    pristine: tuple[Path, list[str]],
    tmp_path: Path,
) -> None:
    source, before = pristine
    project = tmp_path / "project"
    shutil.copytree(source, project)
    path = project / LVDASH
    content = json.loads(path.read_text())
    mutate(content)
    path.write_text(json.dumps(content))
    new_errors = set(check_bundle(project)) - set(before)
    assert any(expected in error for error in new_errors), new_errors


def test_dashboard_that_is_not_json_is_caught(
    pristine: tuple[Path, list[str]], tmp_path: Path
) -> None:
    source, before = pristine
    project = tmp_path / "project"
    shutil.copytree(source, project)
    (project / LVDASH).write_text('{"datasets": [')
    new_errors = set(check_bundle(project)) - set(before)
    assert any("not valid JSON" in error for error in new_errors), new_errors


def test_the_schema_variable_describes_the_prefixes_each_target_gives(
    rendered: tuple[dict[str, str], Path],
) -> None:
    """What `schema`'s description says dev and test do to the name is what they do."""
    _, project = rendered
    bundles = {t: loader().load_bundle(project, t, keep_unresolved=True) for t in ("dev", "test")}
    names = {t: b.resources["schemas"]["project_schema"]["name"] for t, b in bundles.items()}
    schema = bundles["dev"].variables["schema"]
    user = bundles["dev"].user_name
    assert names == {"dev": f"dev_{loader().short_name(user)}_{schema}", "test": f"test_{schema}"}
    description = loader().read_bundle(project).config["variables"]["schema"]["description"]
    assert "dev_<you>_" in description and "test_" in description
    assert "per run" not in description  # test shares one schema, one CI run at a time


# --- the pinned Databricks CLI's own schema ------------------------------------------------------

SCHEMAS = Path(__file__).resolve().parent / "schemas"
CLI_VERSION = COOKIECUTTER_JSON["__databricks_cli_version"]


@pytest.fixture(scope="session")
def cli_schema(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bundle schema of the CLI release the pipelines install (tests/schemas/README.md)."""
    path = tmp_path_factory.mktemp("cli-schema") / f"bundle-{CLI_VERSION}.json"
    packed = SCHEMAS / f"databricks-bundle-{CLI_VERSION}.json.gz"
    path.write_bytes(gzip.decompress(packed.read_bytes()))
    return path


def bundle_files(project: Path) -> list[Path]:
    return [project / "databricks.yml", *sorted((project / "resources").glob("*.yml"))]


def test_the_vendored_schema_is_the_pinned_clis() -> None:
    """One schema, of the release that `__databricks_cli_version` pins (and the pipelines use)."""
    assert [p.name for p in SCHEMAS.glob("*.json.gz")] == [
        f"databricks-bundle-{CLI_VERSION}.json.gz"
    ]
    assert f"| {CLI_VERSION} |" in (SCHEMAS / "README.md").read_text()


def test_bundle_files_match_the_pinned_clis_schema(
    rendered: tuple[dict[str, str], Path], cli_schema: Path
) -> None:
    _, project = rendered
    proc = tool("check-jsonschema", "--schemafile", cli_schema, *bundle_files(project))
    assert proc.returncode == 0, proc.stdout + proc.stderr


SCHEMA_BREAKS = {
    "unknown-job-field": (TRAIN, set_in([*JOB, "max_concurrent_run"], 1), "max_concurrent_run"),
    "bad-permission-level": (
        "databricks.yml",
        lambda d: target_job(d, "prod", "rollback_job")["permissions"][0].update(level="CAN_RUN"),
        "'CAN_RUN' is not one of",
    ),
    "engine-misspelt": (
        "databricks.yml",
        lambda d: d["bundle"].update(engine="drect"),
        "drect",
    ),
}


@pytest.mark.parametrize(("file", "mutate", "expected"), SCHEMA_BREAKS.values(), ids=SCHEMA_BREAKS)
def test_the_schema_check_catches(
    file: str,
    mutate: Mutation,
    expected: str,
    pristine: tuple[Path, list[str]],
    cli_schema: Path,
    tmp_path: Path,
) -> None:
    project = mutated_copy(pristine[0], file, mutate, tmp_path)
    proc = tool("check-jsonschema", "--verbose", "--schemafile", cli_schema, *bundle_files(project))
    assert proc.returncode != 0 and expected in proc.stdout + proc.stderr, proc.stdout[-3000:]


def test_a_service_principal_deploying_dev_mails_alert_email_not_its_application_id(
    pristine: tuple[Path, list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Dev mails the deploying person; a service principal deploying dev (its user name an
    application ID) needs alert_email set, which then receives every failure and alert."""
    source, _ = pristine
    monkeypatch.setenv("DATABRICKS_USER", "11111111-2222-3333-4444-555555555555")
    unset = [e for e in check_bundle(source) if "application ID, not a mailbox" in e]
    assert any(e.startswith("targets.dev: jobs.training_job: failure mail") for e in unset), unset
    assert any("alerts.drift_alert: notifies" in e for e in unset), unset
    monkeypatch.setenv("BUNDLE_VAR_alert_email", "ml-alerts@example.com")
    assert [e for e in check_bundle(source) if "not a mailbox" in e] == []
    dev = loader().load_bundle(source, "dev", keep_unresolved=True)
    assert dev.resources["jobs"]["training_job"]["email_notifications"]["on_failure"] == [
        "ml-alerts@example.com"
    ]


def documented_trigger(project: Path) -> dict[str, Any]:
    """The table update trigger that the generated docs/customize.md shows for batch inference."""
    text = (project / "docs" / "customize.md").read_text()
    block = re.search(r"```yaml\n(\s+trigger:\n.*?)```", text, re.S)
    assert block, "docs/customize.md shows no trigger block"
    return yaml.safe_load(block.group(1))["trigger"]


def test_the_documented_table_update_trigger_is_a_valid_job_trigger(
    pristine: tuple[Path, list[str]], cli_schema: Path, tmp_path: Path
) -> None:
    """In place of batch inference's schedule, the customize guide's trigger passes the typed
    models, the offline checks and the pinned CLI's schema."""
    source, before = pristine
    trigger = documented_trigger(source)
    assert set(trigger["table_update"]) >= {"table_names"}
    assert "condition" not in trigger["table_update"]  # databricks/cli#6315: never converges

    def use_trigger(document: dict[str, Any]) -> None:
        job = document["resources"]["jobs"]["batch_inference_job"]
        del job["schedule"]
        job["trigger"] = trigger

    project = mutated_copy(source, "resources/batch-inference-job.yml", use_trigger, tmp_path)
    assert set(check_bundle(project)) - set(before) == set()
    proc = tool("check-jsonschema", "--schemafile", cli_schema, *bundle_files(project))
    assert proc.returncode == 0, proc.stdout + proc.stderr
