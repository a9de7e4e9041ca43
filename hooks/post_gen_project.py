"""Remove the parts of the generated project that belong to options that were not selected.

Cookiecutter renders this file with Jinja and runs it inside the generated project. The one
table below, OPTION_PATHS, documents which files belong to which option. A listed path that does
not exist is a template bug (a renamed or moved file): the hook fails, and cookiecutter deletes
the half-finished project rather than handing out a project with a leftover.

Folders left empty by a removal are removed too. Whatever still refers to a removed file
(the bundle's `include`, workflow steps, README) is switched by Jinja conditions in the file
itself; tests/test_render.py checks that no such reference is left.

The hook deliberately does not run ruff: output must not depend on what is installed where the
template is rendered; the template tests check that the rendered code is already ruff-clean.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

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
        "tests/test_drift.py",
        "tests/test_monitoring.py",
        "tests/test_dashboard.py",
    ),
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
    """Relative paths of everything that belongs to an unselected option."""
    return [
        path.replace("{package}", context["package_name"])
        for option, paths in OPTION_PATHS.items()
        if context[option] == "no"
        for path in paths
    ]


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


def main() -> int:
    context = json.loads(r'''{{ cookiecutter | tojson }}''')  # fmt: skip
    project = Path.cwd()
    remove_tool_caches(project)
    missing = remove(project, paths_to_remove(context))
    if missing:
        print(
            "ERROR: hooks/post_gen_project.py lists paths the template does not generate "
            f"(update OPTION_PATHS): {', '.join(missing)}",
            file=sys.stderr,
        )
        return 1
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
