"""Every option combination renders exactly the expected files, all of them clean."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import COMBINATIONS, TEMPLATE_DIR, all_combinations, choice_options, load_hook

POST = load_hook("post_gen_project")

PACKAGE = "taxi_fare_regression"  # the default package name; {package} below

# Files generated whatever the options ({package}: the package directory).
BASE_FILES: tuple[str, ...] = (
    ".gitignore",
    "AGENTS.md",
    "README.md",
    "constraints.txt",
    "databricks.yml",
    "docs/architecture.md",
    "docs/ci-cd.md",
    "docs/customize.md",
    "docs/local-vs-databricks.md",
    "notebooks/batch_inference.py",
    "notebooks/deploy.py",
    "notebooks/exploration/eda.py",
    "notebooks/rollback.py",
    "notebooks/train.py",
    "notebooks/validate.py",
    "pyproject.toml",
    "scripts/bundle_facts.py",
    "resources/batch-inference-job.yml",
    "resources/ml-artifacts.yml",
    "resources/rollback-job.yml",
    "resources/training-job.yml",
    "src/{package}/__init__.py",
    "src/{package}/data/__init__.py",
    "src/{package}/data/profile.py",
    "src/{package}/data/trips.py",
    "src/{package}/deployment/__init__.py",
    "src/{package}/deployment/events.py",
    "src/{package}/deployment/promote.py",
    "src/{package}/features/__init__.py",
    "src/{package}/features/contract.py",
    "src/{package}/features/inline.py",
    "src/{package}/features/point_in_time.py",
    "src/{package}/features/transforms.py",
    "src/{package}/inference/__init__.py",
    "src/{package}/inference/batch.py",
    "src/{package}/model_card.py",
    "src/{package}/names.py",
    "src/{package}/platform/__init__.py",
    "src/{package}/platform/base.py",
    "src/{package}/platform/databricks.py",
    "src/{package}/errors.py",
    "src/{package}/recovery.py",
    "src/{package}/registry.py",
    "src/{package}/training/__init__.py",
    "src/{package}/training/dataset.py",
    "src/{package}/training/model.py",
    "src/{package}/training/train.py",
    "src/{package}/validation/__init__.py",
    "src/{package}/validation/gate.py",
    "src/{package}/validation/validate.py",
    "src/{package}_local/__init__.py",
    "src/{package}_local/__main__.py",
    "src/{package}_local/cards.py",
    "src/{package}_local/cleanup.py",
    "src/{package}_local/cli.py",
    "src/{package}_local/delta_store.py",
    "src/{package}_local/demo.py",
    "src/{package}_local/deployed.py",
    "src/{package}_local/destroy.py",
    "src/{package}_local/feature_lookups.py",
    "src/{package}_local/online_serving.py",
    "src/{package}_local/online_store.py",
    "src/{package}_local/platform.py",
    "src/{package}_local/quiet.py",
    "src/{package}_local/report.py",
    "src/{package}_local/runner/__init__.py",
    "src/{package}_local/runner/attempts.py",
    "src/{package}_local/runner/bundle.py",
    "src/{package}_local/runner/compute.py",
    "src/{package}_local/runner/conditions.py",
    "src/{package}_local/runner/dbutils.py",
    "src/{package}_local/runner/dynamic.py",
    "src/{package}_local/runner/engine.py",
    "src/{package}_local/runner/errors.py",
    "src/{package}_local/runner/merge.py",
    "src/{package}_local/runner/paths.py",
    "src/{package}_local/runner/presets.py",
    "src/{package}_local/runner/triggers.py",
    "src/{package}_local/runner/reading.py",
    "src/{package}_local/runner/results.py",
    "src/{package}_local/runner/variables.py",
    "src/{package}_local/sample.py",
    "src/{package}_local/serve.py",
    "src/{package}_local/serverless.py",
    "src/{package}_local/spark.py",
    "src/{package}_local/state.py",
    "src/{package}_local/streaming.py",
    "src/{package}_local/summary.py",
    "tests/__init__.py",
    "tests/bundles.py",
    "tests/conftest.py",
    "tests/test_cli_demo.py",
    "tests/test_bundle_facts.py",
    "tests/test_cli_errors.py",
    "tests/test_compute.py",
    "tests/test_contract.py",
    "tests/test_deployment.py",
    "tests/test_destroy.py",
    "tests/test_eda.py",
    "tests/test_end_to_end.py",
    "tests/test_features.py",
    "tests/test_gate.py",
    "tests/test_model.py",
    "tests/test_notebook_parameters.py",
    "tests/test_platform_databricks.py",
    "tests/test_platform_databricks_spark.py",
    "tests/test_platform_local.py",
    "tests/test_point_in_time.py",
    "tests/registry.py",
    "tests/test_registry.py",
    "tests/test_runner_bundle.py",
    "tests/test_runner_engine.py",
    "tests/test_runner_units.py",
    "tests/test_sample.py",
    "tests/test_triggers.py",
    "tests/test_wheel.py",
)
# Files generated only when the option is "yes".
OPTION_FILES: dict[str, tuple[str, ...]] = {
    "include_feature_store": (
        "resources/feature-refresh-job.yml",
        "notebooks/feature_refresh.py",
        "src/{package}/features/lookups.py",
        "src/{package}/features/refresh.py",
        "src/{package}/training/feature_store_dataset.py",
        "tests/test_feature_store.py",
    ),
    "include_monitoring": (
        "resources/monitoring-job.yml",
        "resources/monitoring-dashboard.yml",
        "resources/monitoring-alert.yml",
        "resources/lakehouse-monitor.yml",
        "dashboards/monitoring.lvdash.json",
        "scripts/screenshot-report.sh",
        "notebooks/monitor.py",
        "src/{package}/monitoring/__init__.py",
        "src/{package}/monitoring/decisions.py",
        "src/{package}/monitoring/drift.py",
        "src/{package}/monitoring/monitor.py",
        "src/{package}_local/drift_check.py",
        "tests/test_dashboard.py",
        "tests/test_drift.py",
        "tests/test_drift_calibration.py",
        "tests/test_monitoring.py",
        "tests/test_retrain_decisions.py",
    ),
    "include_serving": (
        "resources/canary-job.yml",
        "notebooks/canary_check.py",
        "src/{package}/deployment/canary.py",
        "src/{package}_local/endpoint.py",
        "tests/test_canary.py",
    ),
    "include_streaming": (
        "resources/streaming-inference-job.yml",
        "notebooks/streaming_inference.py",
        "src/{package}/inference/streaming.py",
    ),
    "model_approval": (
        "resources/approval-job.yml",
        "notebooks/approve.py",
        "src/{package}/deployment/approval.py",
        "tests/test_approval.py",
    ),
}
# Files generated only when every one of several options is "yes".
JOINT_FILES: dict[tuple[str, ...], tuple[str, ...]] = {
    ("include_feature_store", "include_serving"): (
        "notebooks/publish_features.py",
        "src/{package}/features/online.py",
        "tests/test_online_features.py",
    ),
}
# Files generated only for one value of a choice option.
CHOICE_FILES: dict[str, dict[str, tuple[str, ...]]] = {
    "cicd_platform": {
        "github_actions": (
            ".github/actions/setup-databricks-cli/action.yml",
            ".github/workflows/ci.yml",
            ".github/workflows/deploy-prod.yml",
            ".github/workflows/deploy-staging.yml",
            ".github/zizmor.yml",
        ),
        "azure_devops": (
            ".azure-pipelines/ci.yml",
            ".azure-pipelines/deploy-prod.yml",
            ".azure-pipelines/deploy-staging.yml",
            ".azure-pipelines/templates/setup-databricks-cli.yml",
        ),
        "gitlab": (".gitlab-ci.yml",),
    },
}
# What must not be mentioned in the bundle or the workflows once an option is off.
OPTION_REFERENCES: dict[str, tuple[str, ...]] = {
    "include_feature_store": ("feature-refresh-job", "feature_refresh", "refresh_features"),
    "include_monitoring": ("monitoring-job", "monitoring_job", "monitor.py", "retrain"),
    "include_serving": ("serving_endpoint_name", "serving_query_group", "canary"),
    "include_streaming": (
        "streaming-inference",
        "streaming_inference",
        "streaming_checkpoint",
        "volumes",
    ),
    "model_approval": ("approval_job", "approval-job", "approve.py", "require_approval"),
}

# Output that looks like Jinja but is meant to be there: GitHub expressions, Databricks dynamic
# value references, and shell ${#var}. (Azure Pipelines' $(var) and GitLab's $VAR / ${VAR} have no
# double braces and need no allowance.)
ALLOWED_BRACES = re.compile(
    r"\$\{\{[^\n{}]*\}\}"
    r"|\{\{\s*(?:tasks\.[\w-]+\.values\.\w+|job\.parameters\.[\w-]+"
    r"|job\.(?:id|run_id|name|repair_count|start_time\.\w+|trigger\.\w+)"
    r"|task\.(?:name|run_id|execution_count|notebook_path)|workspace\.(?:id|url))\s*\}\}"
    r"|\$\{#"
)
JINJA_MARKERS = ("{{", "{%", "{#")


def expected_files(options: dict[str, str]) -> set[str]:
    files = set(BASE_FILES)
    for option, paths in OPTION_FILES.items():
        if options[option] == "yes":
            files.update(paths)
    for joint, paths in JOINT_FILES.items():
        if all(options[option] == "yes" for option in joint):
            files.update(paths)
    for option, values in CHOICE_FILES.items():
        files.update(values[options[option]])
    if POST.template_commit(str(TEMPLATE_DIR)):  # the hook records a git checkout's commit
        files.add(POST.CRUFT_FILE)
    return {path.replace("{package}", PACKAGE) for path in files}


def generated_files(project: Path) -> list[Path]:
    return sorted(path for path in project.rglob("*") if path.is_file())


def test_exact_file_set(rendered: tuple[dict[str, str], Path]) -> None:
    """No file missing, none extra, no empty folder."""
    options, project = rendered
    actual = {path.relative_to(project).as_posix() for path in generated_files(project)}
    expected = expected_files(options)
    assert sorted(expected - actual) == [], "missing"
    assert sorted(actual - expected) == [], "unexpected"
    empty = [p for p in project.rglob("*") if p.is_dir() and not any(p.iterdir())]
    assert empty == []


def test_no_leftover_jinja(rendered: tuple[dict[str, str], Path]) -> None:
    _, project = rendered
    leftovers = []
    for path in generated_files(project):
        for number, line in enumerate(path.read_text().splitlines(), start=1):
            rest = ALLOWED_BRACES.sub("", line)
            if any(marker in rest for marker in JINJA_MARKERS):
                leftovers.append(f"{path.relative_to(project)}:{number}: {line.strip()}")
    assert leftovers == []


def test_yaml_parses(rendered: tuple[dict[str, str], Path]) -> None:
    _, project = rendered
    paths = [p for p in generated_files(project) if p.suffix in {".yml", ".yaml"}]
    assert paths
    for path in paths:
        assert isinstance(yaml.safe_load(path.read_text()), dict), path


def test_no_reference_to_removed_parts(rendered: tuple[dict[str, str], Path]) -> None:
    """The bundle and the workflows do not mention a job, file or task that was removed."""
    options, project = rendered
    texts = {
        path.relative_to(project).as_posix(): path.read_text()
        for path in generated_files(project)
        if path.suffix in {".yml", ".yaml"}
    }
    dangling = [
        f"{name}: {needle}"
        for option, needles in OPTION_REFERENCES.items()
        if options[option] == "no"
        for needle in needles
        for name, text in texts.items()
        if needle in text
    ]
    assert dangling == []


def test_deployed_package_never_names_the_local_twin(rendered: tuple[dict[str, str], Path]) -> None:
    """Nothing that deploys (``src/<package>/``, the notebooks) imports or names the twin: the
    twin registers its platform with the deployed package, never the other way round."""
    _, project = rendered
    package = next(p.name for p in (project / "src").iterdir() if not p.name.endswith("_local"))
    deployed = [*(project / "src" / package).rglob("*.py"), *(project / "notebooks").rglob("*.py")]
    assert deployed
    naming = [
        path.relative_to(project).as_posix()
        for path in deployed
        if f"{package}_local" in path.read_text()
    ]
    assert naming == []


def run_ruff(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """The ruff of this interpreter, with the generated project's own configuration."""
    ruff = Path(sys.executable).parent / "ruff"
    return subprocess.run(
        [str(ruff), *args, "--no-cache", "."],
        cwd=project,
        capture_output=True,
        text=True,
        check=False,
    )


def test_python_compiles_and_passes_ruff_check(rendered: tuple[dict[str, str], Path]) -> None:
    _, project = rendered
    sources = [p for p in generated_files(project) if p.suffix == ".py"]
    assert sources
    for path in sources:
        compile(path.read_text(), str(path), "exec")
    result = run_ruff(project, "check", "--quiet")
    assert result.returncode == 0, result.stdout + result.stderr


def test_python_is_ruff_formatted(rendered: tuple[dict[str, str], Path]) -> None:
    """Jinja conditions leave no stray blank lines or indentation behind."""
    _, project = rendered
    result = run_ruff(project, "format", "--check")
    assert result.returncode == 0, result.stdout + result.stderr


def covered(files: set[str], paths: set[str]) -> set[str]:
    """The files that are one of the paths or lie in a folder among them."""
    return {f for f in files if any(f == p or f.startswith(f"{p}/") for p in paths)}


@pytest.mark.parametrize("option", sorted(OPTION_FILES))
def test_tables_agree_with_the_hook(option: str) -> None:
    """Every path the post-generation hook removes is an option file of this module."""
    removed = {path.replace("{package}", PACKAGE) for path in POST.OPTION_PATHS[option]}
    listed = {path.replace("{package}", PACKAGE) for path in OPTION_FILES[option]}
    orphans = {path for path in removed if not covered(listed, {path})}
    assert orphans == set()


def test_joint_tables_agree_with_the_hook() -> None:
    """The files that need several options are the ones the hook removes without them."""
    assert sorted(POST.JOINT_PATHS) == sorted(JOINT_FILES)
    for joint, paths in POST.JOINT_PATHS.items():
        assert sorted(paths) == sorted(JOINT_FILES[joint]), joint


@pytest.mark.parametrize("option", sorted(CHOICE_FILES))
def test_choice_tables_agree_with_the_hook(option: str) -> None:
    """For every value of a choice option, the hook's paths hold exactly that value's files: no
    value's files survive another value's rendering, and no other file is removed with them."""
    assert sorted(POST.CHOICE_PATHS[option]) == sorted(CHOICE_FILES[option])
    every_file = set(BASE_FILES) | {f for files in OPTION_FILES.values() for f in files}
    for value, files in CHOICE_FILES[option].items():
        paths = set(POST.CHOICE_PATHS[option][value])
        listed = set(files)
        assert all(covered(listed, {path}) for path in paths), (value, paths)
        assert covered(listed, paths) == listed, value
        others = every_file | {
            f for v, fs in CHOICE_FILES[option].items() if v != value for f in fs
        }
        assert covered(others, paths) == set(), value


def test_root_readme_is_current() -> None:
    """The template's README counts the renderings and combinations the tests use and names every
    value of every choice option that is not a yes/no toggle."""
    readme = (TEMPLATE_DIR / "README.md").read_text()
    count = f"({len(COMBINATIONS)} renderings cover the {len(all_combinations())} combinations)"
    assert count in readme
    for option, values in choice_options().items():
        if sorted(values) == ["no", "yes"]:
            continue
        (row,) = [line for line in readme.splitlines() if line.startswith(f"| `{option}` |")]
        for value in values:
            assert value in row, (option, value)


def test_customize_guide_names_every_seam(rendered: tuple[dict[str, str], Path]) -> None:
    """Each file with a `# Customize:` seam is named in docs/customize.md (and a seam is there)."""
    _, project = rendered
    guide = (project / "docs" / "customize.md").read_text()
    seams = [
        path.relative_to(project).as_posix()
        for path in generated_files(project)
        if path.suffix in {".py", ".yml"} and "# Customize:" in path.read_text()
    ]
    assert len(seams) >= 8, seams
    unnamed = [
        path
        for path in seams
        if path not in guide and path.removeprefix(f"src/{PACKAGE}/") not in guide
    ]
    assert unnamed == []


def test_serverless_readme_names_the_environment_error_and_its_fallback(
    rendered: tuple[dict[str, str], Path],
) -> None:
    """Older workspaces refuse a notebook task environment: the README quotes the error."""
    options, project = rendered
    readme = (project / "README.md").read_text()
    error = "A task environment can not be provided for notebook task"
    assert (error in readme) == (options["compute"] == "serverless")
    if options["compute"] == "serverless":
        assert "%pip install <wheel>" in readme and "dbutils.library.restartPython()" in readme
