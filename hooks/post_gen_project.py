"""Remove the parts of the generated project that belong to options that were not selected.

Cookiecutter renders this file with Jinja and runs it inside the generated project. Three tables
document which files belong to which option: OPTION_PATHS for yes/no options, JOINT_PATHS for
files that need several yes/no options at once, CHOICE_PATHS for options with several values
(the files of every value but the chosen one are removed). A listed
path that does not exist is a template bug (a renamed or moved file): the hook fails, and
cookiecutter deletes the half-finished project rather than handing out a project with a leftover.

Folders left empty by a removal are removed too. Whatever still refers to a removed file
(the bundle's `include`, workflow steps, README) is switched by Jinja conditions in the file
itself; tests/test_render.py checks that no such reference is left.

The hook deliberately does not run ruff: output must not depend on what is installed where the
template is rendered; the template tests check that the rendered code is already ruff-clean.

It records where the project came from in `.cruft.json` (the format of cruft, which applies later
template versions: README "Update from the template"): the template, its git commit and the
answers. `cruft create` writes that file itself (its context carries `_commit`); for plain
`cookiecutter` the hook writes it when the template is a git checkout at an absolute path (a
remote template's clone, or a local template given by its full path). Otherwise it says how to
link the project later; that is the one place where git, if installed, shapes the output.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

# option -> paths removed when the option is "no"; {package} is the package name.
OPTION_PATHS: dict[str, tuple[str, ...]] = {
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
        "dashboards",
        "scripts/screenshot-report.sh",
        "notebooks/monitor.py",
        "src/{package}/monitoring",
        "src/{package}_local/drift_check.py",
        "tests/test_drift.py",
        "tests/test_drift_calibration.py",
        "tests/test_monitoring.py",
        "tests/test_dashboard.py",
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

# options -> paths that only a project with every one of these options needs (removed when any
# of them is "no").
JOINT_PATHS: dict[tuple[str, ...], tuple[str, ...]] = {
    ("include_feature_store", "include_serving"): (
        "notebooks/publish_features.py",
        "src/{package}/features/online.py",
        "tests/test_online_features.py",
    ),
}

# choice option -> value -> paths that belong to that value only; the paths of every value that
# was not chosen are removed.
CHOICE_PATHS: dict[str, dict[str, tuple[str, ...]]] = {
    "cicd_platform": {
        "github_actions": (".github",),
        "azure_devops": (".azure-pipelines",),
        "gitlab": (".gitlab-ci.yml",),
    },
}

# Options whose default is a placeholder: (option, placeholder test, where the value is used).
PLACEHOLDER_UUID = "00000000-0000-0000-0000-"
PLACEHOLDERS: tuple[tuple[str, str, str], ...] = (
    ("staging_workspace_host", "1111111111", "databricks.yml: host of dev, test, staging"),
    ("prod_workspace_host", "2222222222", "databricks.yml: host of prod"),
    ("staging_service_principal", PLACEHOLDER_UUID, "databricks.yml: run_as of staging jobs"),
    ("prod_service_principal", PLACEHOLDER_UUID, "databricks.yml: run_as of prod jobs"),
    ("alert_email", "@example.com", "databricks.yml: alert_email of test, staging, prod"),
)


# Tool caches that a template developer's tools may leave inside the template folder.
TOOL_CACHES = (".ruff_cache", ".pytest_cache", ".mypy_cache", "__pycache__")


def remove_tool_caches(project: Path) -> None:
    for name in TOOL_CACHES:
        for path in sorted(project.rglob(name), reverse=True):
            shutil.rmtree(path, ignore_errors=True)


def paths_to_remove(context: dict[str, str]) -> list[str]:
    """Relative paths of everything that belongs to an unselected option or choice."""
    unselected = [
        path for option, paths in OPTION_PATHS.items() if context[option] == "no" for path in paths
    ]
    unselected += [
        path
        for options, paths in JOINT_PATHS.items()
        if any(context[option] == "no" for option in options)
        for path in paths
    ]
    unselected += [
        path
        for option, values in CHOICE_PATHS.items()
        for value, paths in values.items()
        if context[option] != value
        for path in paths
    ]
    return [path.replace("{package}", context["package_name"]) for path in unselected]


def remove(project: Path, relative_paths: list[str]) -> list[str]:
    """Delete the paths and the folders they leave empty; return the paths that were missing."""
    missing = []
    for relative in relative_paths:
        path = project / relative
        if path.is_dir():
            shutil.rmtree(path)
        elif path.exists():
            path.unlink()
        else:
            missing.append(relative)
            continue
        parent = path.parent
        while parent != project and not any(parent.iterdir()):
            parent.rmdir()
            parent = parent.parent
    return missing


def placeholder_report(context: dict[str, str]) -> list[str]:
    """One line per option that still holds its placeholder, naming where to set it."""
    return [
        f"  {option} = {context[option]}  ->  {where}"
        for option, marker, where in PLACEHOLDERS
        if marker in context.get(option, "")
    ]


# cookiecutter's abbreviations of hosted templates (gh:org/repo), as cruft needs a cloneable URL.
ABBREVIATIONS = {
    "gh:": "https://github.com/{0}.git",
    "gl:": "https://gitlab.com/{0}.git",
    "bb:": "https://bitbucket.org/{0}",
}
CRUFT_FILE = ".cruft.json"


def template_commit(repo_dir: str) -> str | None:
    """The commit checked out in the template's folder, if it is an absolute git checkout."""
    if not Path(repo_dir).is_absolute():
        return None
    try:
        proc = subprocess.run(
            ["git", "-C", repo_dir, "rev-parse", "--verify", "HEAD"],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return proc.stdout.strip() if proc.returncode == 0 else None


def template_source(template: str, repo_dir: str) -> str:
    """A source cruft can clone: the expanded URL, or the template's absolute folder."""
    for prefix, url in ABBREVIATIONS.items():
        if template.startswith(prefix):
            return url.format(template.removeprefix(prefix))
    return template if "://" in template or template.startswith("git@") else repo_dir


def cruft_state(context: dict[str, Any]) -> dict[str, Any] | None:
    """The content of .cruft.json for a plain cookiecutter run, or None when it cannot be told."""
    commit = template_commit(context.get("_repo_dir", ""))
    if commit is None:
        return None
    source = template_source(context["_template"], context["_repo_dir"])
    answers = {key: value for key, value in context.items() if not key.startswith("_")}
    return {
        "template": source,
        "commit": commit,
        "checkout": context.get("_checkout"),
        "context": {"cookiecutter": {**answers, "_template": source, "_commit": commit}},
        "directory": None,
    }


def record_template(project: Path, context: dict[str, Any]) -> None:
    if "_commit" in context:  # cruft is generating: it writes .cruft.json itself
        return
    state = cruft_state(context)
    if state is None:
        print(
            "note: the template is not a git checkout at an absolute path, so the project does not "
            "record it; to take later template versions, run `cruft link <template URL>` in the "
            "project (README: Update from the template)."
        )
        return
    text = json.dumps(state, ensure_ascii=False, indent=2, separators=(",", ": "))
    (project / CRUFT_FILE).write_text(text + "\n")


def main() -> int:
    context = json.loads(r'''{{ cookiecutter | tojson }}''')  # fmt: skip
    project = Path.cwd()
    remove_tool_caches(project)
    missing = remove(project, paths_to_remove(context))
    if missing:
        print(
            "ERROR: hooks/post_gen_project.py lists paths the template does not generate "
            f"(update OPTION_PATHS, JOINT_PATHS or CHOICE_PATHS): {', '.join(missing)}",
            file=sys.stderr,
        )
        return 1
    record_template(project, context)
    leftovers = placeholder_report(context)
    if leftovers:
        print(
            "note: these options still hold placeholders; the local demo and tests do not need "
            "them, but set them before the first deploy (README: Deploy to your workspace):\n"
            + "\n".join(leftovers)
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
