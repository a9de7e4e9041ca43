"""``scripts/bundle_facts.py``, which the pipelines run on ``databricks bundle validate -o json``,
here on the same bundle as the local loader resolves it, with a stand-in ``databricks`` on PATH
that answers ``tables exists``. And ``cleanup``, which prints the names the pipelines use."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from {{ cookiecutter.package_name }}_local.cleanup import cleanup_commands, is_protected, serving_endpoint
from {{ cookiecutter.package_name }}_local.cli import main
from {{ cookiecutter.package_name }}_local.runner import load_bundle

ROOT = Path(__file__).resolve().parents[1]
FAKE_CLI = """
import json, os, sys
with open(os.environ["FAKE_CALLS"], "a") as log:
    log.write(" ".join(sys.argv[1:]) + "\\n")
answer = os.environ["FAKE_ANSWER"]
if answer in ("true", "false"):
    print(json.dumps(dict(table_exists=answer == "true")))
else:
    print("Error: " + answer + ": the answer of the workspace", file=sys.stderr)
    sys.exit(1)
"""


def validated(tmp_path: Path, target: str) -> Path:
    """``bundle.json`` for ``target``: resources and variables as the loader resolves them."""
    bundle = load_bundle(ROOT, target, keep_unresolved=True)
    config = {
        "bundle": {"name": bundle.name, "target": bundle.target},
        "resources": bundle.resources,
        "variables": {name: {"value": value} for name, value in bundle.variables.items()},
    }
    path = tmp_path / f"{target}.json"
    path.write_text(json.dumps(config, default=str))
    return path


def facts(tmp_path: Path, *args: str, answer: str = "true") -> subprocess.CompletedProcess[str]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    cli = bin_dir / "databricks"
    cli.write_text(f"#!{sys.executable}\n{FAKE_CLI}")
    cli.chmod(0o755)
    env = {
        **os.environ,
        "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
        "FAKE_ANSWER": answer,
        "FAKE_CALLS": str(tmp_path / "calls.txt"),
    }
    return subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "bundle_facts.py"), *args],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )


def calls(tmp_path: Path) -> list[str]:
    path = tmp_path / "calls.txt"
    return path.read_text().splitlines() if path.exists() else []


@pytest.mark.parametrize("target", ["staging", "prod"])
def test_deploy_select_leaves_out_only_monitors_whose_table_is_missing(tmp_path, target):
    bundle = load_bundle(ROOT, target, keep_unresolved=True)
    monitors = bundle.resources.get("quality_monitors") or {}
    keys = [key for _kind, key, _body in bundle.iter_resources()]
    path = validated(tmp_path, target)

    done = facts(tmp_path, "deploy-select", str(path), "-t", target, answer="true")
    assert (done.returncode, done.stdout.strip()) == (0, "")  # every table there: deploy all
    tables = [str(body["table_name"]) for body in monitors.values()]
    assert calls(tmp_path) == [f"tables exists {t} -t {target} -o json" for t in tables]

    for missing in ("false", "TABLE_DOES_NOT_EXIST", "SCHEMA_DOES_NOT_EXIST"):
        done = facts(tmp_path, "deploy-select", str(path), "-t", target, answer=missing)
        expected = ",".join(k for k in keys if k not in monitors) if monitors else ""
        assert (done.returncode, done.stdout.strip()) == (0, expected), done.stderr

    denied = facts(tmp_path, "deploy-select", str(path), "-t", target, answer="PERMISSION_DENIED")
    if monitors:  # a refusal is not a missing table: the deploy stops
        assert denied.returncode == 2 and "error: " in denied.stderr
        assert "PERMISSION_DENIED" in denied.stderr
    else:
        assert (denied.returncode, denied.stdout.strip()) == (0, "")


def test_the_serving_endpoint_the_pipelines_delete_is_the_one_cleanup_names(tmp_path, capsys):
    bundle = load_bundle(ROOT, "test", keep_unresolved=True)
    done = facts(tmp_path, "serving-endpoint", str(validated(tmp_path, "test")))
    assert done.returncode == 0, done.stderr
    endpoint = done.stdout.strip()
    assert endpoint == serving_endpoint(bundle)
    assert main(["--project-dir", str(ROOT), "cleanup", "-t", "test"]) == 0
    printed = capsys.readouterr().out
    assert "deletes nothing" in printed
    for command in cleanup_commands(bundle):
        assert f"  {command}\n" in printed
    if endpoint:
        assert endpoint == f"{bundle.name}-test"
        assert f"databricks serving-endpoints delete {endpoint}" in printed
    else:
        assert "serving-endpoints" not in printed


def test_a_file_that_is_not_the_bundle_json_is_one_clear_error(tmp_path):
    (tmp_path / "plan.txt").write_text("no changes")
    done = facts(tmp_path, "serving-endpoint", str(tmp_path / "plan.txt"))
    assert done.returncode == 2
    assert done.stderr.startswith("error: ")
    assert "bundle validate -t <target> -o json" in done.stderr


def test_prod_data_and_model_are_protected_from_destroy_and_cleanup_says_so(capsys):
    """Prod's schema, model (and volume, monitor) carry lifecycle.prevent_destroy, which makes
    the CLI refuse a destroy; the cleanup of prod names them, other targets protect nothing."""
    prod = load_bundle(ROOT, "prod")
    protected = sorted(
        f"{kind}.{key}" for kind, key, body in prod.iter_resources() if is_protected(body)
    )
    expected = {"schemas.project_schema", "registered_models.model"}
    expected |= {f"volumes.{key}" for key in prod.resources.get("volumes") or {}}
    expected |= {f"quality_monitors.{key}" for key in prod.resources.get("quality_monitors") or {}}
    assert protected == sorted(expected)
    assert main(["--project-dir", str(ROOT), "cleanup", "-t", "prod"]) == 0
    printed = capsys.readouterr().out
    assert "destroy stops before deleting anything while" in printed
    assert printed.count("(lifecycle.prevent_destroy: destroy refuses to delete it)") == len(
        expected
    )
    for target in ("dev", "test", "staging"):
        bundle = load_bundle(ROOT, target)
        assert not [key for _, key, body in bundle.iter_resources() if is_protected(body)]
