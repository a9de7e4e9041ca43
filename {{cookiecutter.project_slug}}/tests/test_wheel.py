"""The wheel `databricks bundle deploy` builds holds what Databricks runs, and nothing local."""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import yaml

PACKAGE = "{{ cookiecutter.package_name }}"
LOCAL_PACKAGE = f"{PACKAGE}_local"


@pytest.fixture(scope="module")
def wheel(project_root: Path, tmp_path_factory: pytest.TempPathFactory) -> zipfile.ZipFile:
    """Build the wheel with the command of databricks.yml's artifact, in a copy of the project."""
    copy = tmp_path_factory.mktemp("wheel") / "project"
    shutil.copytree(
        project_root,
        copy,
        ignore=shutil.ignore_patterns(".local", "dist", "build", ".venv", "__pycache__", ".*"),
    )
    artifact = yaml.safe_load((copy / "databricks.yml").read_text())["artifacts"]
    command = artifact["python_artifact"]["build"]
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    done = subprocess.run(
        command, shell=True, cwd=copy, env=env, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    wheels = list((copy / "dist").glob("*.whl"))
    assert len(wheels) == 1, wheels
    return zipfile.ZipFile(wheels[0])


def test_wheel_holds_exactly_the_deployed_package(wheel, project_root: Path):
    modules = {n for n in wheel.namelist() if not n.split("/")[0].endswith(".dist-info")}
    source = project_root / "src" / PACKAGE
    expected = {f"{PACKAGE}/{path.relative_to(source).as_posix()}" for path in source.rglob("*.py")}
    assert modules == expected
    assert not [n for n in wheel.namelist() if LOCAL_PACKAGE in n or n.startswith("tests/")]


def test_wheel_depends_only_on_what_the_runtime_provides(wheel):
    metadata = next(n for n in wheel.namelist() if n.endswith(".dist-info/METADATA"))
    requires = [
        line.split(":", 1)[1].strip()
        for line in wheel.read(metadata).decode().splitlines()
        if line.startswith("Requires-Dist:") and "extra ==" not in line
    ]
    names = {r.split(">")[0].split("<")[0].split("=")[0].strip() for r in requires}
    assert "mlflow-skinny" in names
    assert not names & {"mlflow", "pyspark", "deltalake", "pyyaml", "pytest"}
    assert all("<" in r for r in requires), f"unbounded: {requires}"


def _imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_deployed_code_and_notebooks_never_name_the_local_twin(project_root: Path):
    """The dependency runs one way: the twin registers its platform with the deployed package,
    which neither imports nor mentions it."""
    source = project_root / "src" / PACKAGE
    deployed = [*source.rglob("*.py"), *(project_root / "notebooks").rglob("*.py")]
    importing = [
        str(path.relative_to(project_root))
        for path in deployed
        if any(name.split(".")[0] == LOCAL_PACKAGE for name in _imported_modules(path))
    ]
    assert importing == []
    naming = [str(p.relative_to(project_root)) for p in deployed if LOCAL_PACKAGE in p.read_text()]
    assert naming == []
