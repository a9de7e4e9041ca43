"""The pre-generation hook rejects bad input cleanly; the post-generation hook's table is sound."""

from __future__ import annotations

import json
import re
import shutil
import tomllib
from pathlib import Path

import pytest
import yaml
from bundle_checks import check_bundle
from conftest import COOKIECUTTER_JSON, TEMPLATE_DIR, load_hook, render
from cookiecutter.exceptions import FailedHookException
from cookiecutter.main import cookiecutter

PRE = load_hook("pre_gen_project")
POST = load_hook("post_gen_project")

# (field named in the message, extra context) for every kind of bad input.
BAD_INPUTS: dict[str, tuple[str, dict[str, str]]] = {
    "slug-uppercase": ("project_slug", {"project_slug": "Taxi-Fares"}),
    "slug-leading-digit": ("project_slug", {"project_name": "2 Fast Fares"}),
    "slug-trailing-hyphen": ("project_slug", {"project_slug": "taxi-"}),
    "name-with-quotes": ("project_name", {"project_name": "Taxi ''' \"Fares\""}),
    "name-with-slash": ("project_name", {"project_name": "Taxi/Fares"}),
    "package-keyword": ("package_name", {"package_name": "class"}),
    "package-not-identifier": ("package_name", {"package_name": "taxi-fares"}),
    "package-shadows-stdlib": ("package_name", {"package_name": "json"}),
    "model-with-dot": ("model_name", {"model_name": "taxi.model"}),
    "catalog-with-dot": ("catalog_dev", {"catalog_dev": "main.dev"}),
    "catalog-with-semicolon": ("catalog_staging", {"catalog_staging": "staging;drop"}),
    "catalog-with-quote": ("catalog_test", {"catalog_test": "te`st"}),
    "catalog-too-long": ("catalog_test", {"catalog_test": "t" * 256}),
    "schema-with-space": ("schema", {"schema": "taxi fares"}),
    "prod-catalog-shared": ("catalog_prod", {"catalog_prod": "staging"}),
    "host-http": (
        "staging_workspace_host",
        {"staging_workspace_host": "http://adb-1.1.azuredatabricks.net"},
    ),
    "host-with-path": (
        "prod_workspace_host",
        {"prod_workspace_host": "https://adb-2.2.azuredatabricks.net/?o=2"},
    ),
    "host-wrong-cloud": (
        "prod_workspace_host",
        {"prod_workspace_host": "https://dbc-2222.cloud.databricks.com"},
    ),
    "release-equals-default": ("release_branch", {"release_branch": "main"}),
    "branch-double-dot": ("default_branch", {"default_branch": "main..dev"}),
    "branch-leading-dash": ("release_branch", {"release_branch": "-release"}),
    "branch-glob": ("release_branch", {"release_branch": "release/*"}),
    "principal-not-uuid": ("prod_service_principal", {"prod_service_principal": "ml-prod-sp"}),
    "principal-short-uuid": (
        "staging_service_principal",
        {"staging_service_principal": "00000000-0000-0000-0000-00000000001"},
    ),
    "group-empty": ("read_group", {"read_group": ""}),
    "group-odd": ("read_group", {"read_group": "readers; DROP"}),
    "group-padded": ("read_group", {"read_group": " readers "}),
    "approvers-odd": ("approvers_group", {"approvers_group": "approvers`; rm"}),
}


@pytest.mark.parametrize(("field", "context"), BAD_INPUTS.values(), ids=BAD_INPUTS.keys())
def test_bad_input_is_rejected_without_output(
    field: str, context: dict[str, str], tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    """One message names the field and its rule; the output directory stays empty."""
    output = tmp_path / "out"
    with pytest.raises(FailedHookException):
        render(output, **context)
    messages = [line for line in capfd.readouterr().err.splitlines() if line.startswith("ERROR: ")]
    assert len(messages) == 1, messages
    assert f"Invalid value for {field!r}" in messages[0]
    assert " must " in messages[0]
    assert not output.exists() or not any(output.iterdir())


def test_custom_input_renders(tmp_path: Path) -> None:
    """Spaces, capitals and underscores in the name, other catalogs, branches and hosts."""
    project = render(
        tmp_path,
        project_name="  My Fancy_Fare Model ",
        cloud="aws",
        staging_workspace_host="https://dbc-a1b2c3d4-e5f6.cloud.databricks.com",
        prod_workspace_host="https://dbc-f6e5d4c3-b2a1.cloud.databricks.com",
        default_branch="develop",
        release_branch="release/v1",
        catalog_dev="ml_dev",
        catalog_test="ml_ci",
        catalog_staging="ml_staging",
        catalog_prod="ml_prod",
        prod_service_principal="6f1c2d3e-4a5b-4c6d-8e9f-0a1b2c3d4e5f",
        read_group="ML Readers",
    )
    assert project.name == "my-fancy-fare-model"
    assert (project / "src" / "my_fancy_fare_model").is_dir()
    bundle = (project / "databricks.yml").read_text()
    for value in ("name: my-fancy-fare-model", "catalog: ml_prod", "dbc-f6e5d4c3-b2a1"):
        assert value in bundle
    assert "6f1c2d3e-4a5b-4c6d-8e9f-0a1b2c3d4e5f" in bundle
    assert check_bundle(project) == []


def test_punctuated_name_keeps_files_parseable(tmp_path: Path) -> None:
    """Free-text punctuation the hook allows cannot break YAML or TOML."""
    name = "Taxi: Fares & Tips #1 (NYC), 50% off!"
    project = render(tmp_path, project_name=name, project_slug="taxi-fares")
    pyproject = tomllib.loads((project / "pyproject.toml").read_text())
    assert name in pyproject["project"]["description"]
    for path in project.rglob("*.yml"):
        assert isinstance(yaml.safe_load(path.read_text()), dict), path


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("project_slug", "a" * 64),
        ("package_name", "_private_pkg"),
        ("default_branch", "feature/x-1.2"),
        ("read_group", "data.science@corp"),
        ("approvers_group", "ML Approvers"),
        ("staging_service_principal", "ABCDEF01-2345-6789-abcd-ef0123456789"),
    ],
)
def test_valid_edge_values_pass(field: str, value: str) -> None:
    """Values at the edge of each rule are accepted (the rules are not stricter than stated)."""
    context = default_context() | {field: value}
    assert PRE.first_error(context) is None


def test_hook_choices_match_cookiecutter_json() -> None:
    """The hook's choice lists are the ones cookiecutter.json offers."""
    for field, allowed in PRE.CHOICES.items():
        assert sorted(allowed) == sorted(COOKIECUTTER_JSON[field]), field


def test_every_removal_path_exists_in_the_template() -> None:
    """A stale OPTION_PATHS or CHOICE_PATHS entry (renamed file) would make every such rendering
    fail; every value of a choice option has its row."""
    template = TEMPLATE_DIR / "{{cookiecutter.project_slug}}"
    for option, paths in POST.OPTION_PATHS.items():
        assert option in COOKIECUTTER_JSON
        for path in paths:
            assert (template / path.replace("{package}", "{{cookiecutter.package_name}}")).exists()
    for options, paths in POST.JOINT_PATHS.items():
        assert all(option in COOKIECUTTER_JSON for option in options), options
        for path in paths:
            assert (template / path.replace("{package}", "{{cookiecutter.package_name}}")).exists()
    for option, values in POST.CHOICE_PATHS.items():
        assert sorted(values) == sorted(COOKIECUTTER_JSON[option]), option
        for path in (p for paths in values.values() for p in paths):
            assert (template / path.replace("{package}", "{{cookiecutter.package_name}}")).exists()


def test_post_hook_prunes_empty_folders_and_reports_missing(tmp_path: Path) -> None:
    (tmp_path / "a" / "b").mkdir(parents=True)
    (tmp_path / "a" / "b" / "only.py").write_text("")
    (tmp_path / "keep").mkdir()
    (tmp_path / "keep" / "other.py").write_text("")
    (tmp_path / "keep" / "gone.py").write_text("")
    missing = POST.remove(tmp_path, ["a/b/only.py", "keep/gone.py", "never/there.py"])
    assert missing == ["never/there.py"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep"]
    assert [p.name for p in (tmp_path / "keep").iterdir()] == ["other.py"]


def test_stale_removal_table_fails_without_output(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    """A removal path the template no longer generates stops generation and leaves nothing."""
    template = tmp_path / "template"
    project = template / "{{cookiecutter.project_slug}}"
    shutil.copytree(TEMPLATE_DIR / "hooks", template / "hooks")
    shutil.copy(TEMPLATE_DIR / "cookiecutter.json", template)
    option, option_paths = next(iter(POST.OPTION_PATHS.items()))
    gone = option_paths[0]
    choice_paths = {
        p for values in POST.CHOICE_PATHS.values() for ps in values.values() for p in ps
    }
    joint_paths = {p for paths in POST.JOINT_PATHS.values() for p in paths}
    option_paths = {p for paths in POST.OPTION_PATHS.values() for p in paths}
    for path in (option_paths | joint_paths | choice_paths) - {gone}:
        target = project / path.replace("{package}", "{{cookiecutter.package_name}}")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text("")
    output = tmp_path / "out"
    with pytest.raises(FailedHookException):
        cookiecutter(
            str(template), no_input=True, output_dir=str(output), extra_context={option: "no"}
        )
    error = capfd.readouterr().err
    assert gone in error
    assert not any(path in error for path in choice_paths)
    assert not output.exists() or not any(output.iterdir())


def test_post_hook_records_a_git_template_for_cruft(tmp_path: Path) -> None:
    """A plain cookiecutter run from a git checkout leaves .cruft.json with the template, its
    commit and the answers; a relative path or a non-git folder leaves none and says how to link;
    under cruft (whose context has _commit) the hook writes nothing."""
    context = default_context() | {"_template": str(TEMPLATE_DIR), "_repo_dir": str(TEMPLATE_DIR)}
    POST.record_template(tmp_path, context)
    state = json.loads((tmp_path / ".cruft.json").read_text())
    assert state["template"] == str(TEMPLATE_DIR)
    assert re.fullmatch(r"[0-9a-f]{40}", state["commit"])
    assert state["context"]["cookiecutter"]["project_slug"] == "taxi-fare-regression"
    assert state["context"]["cookiecutter"]["_commit"] == state["commit"]
    for template, repo_dir in ((".", "."), (str(tmp_path), str(tmp_path))):
        assert POST.cruft_state(context | {"_template": template, "_repo_dir": repo_dir}) is None
    (tmp_path / ".cruft.json").unlink()
    POST.record_template(tmp_path, context | {"_commit": "abc"})
    assert not (tmp_path / ".cruft.json").exists()
    assert POST.template_source("gh:org/repo", "/x") == "https://github.com/org/repo.git"
    assert POST.template_source("https://example.com/t.git", "/x") == "https://example.com/t.git"
    assert POST.template_source("templates/t", "/abs/templates/t") == "/abs/templates/t"


def default_context() -> dict[str, str]:
    """A valid context as the hook sees it (cookiecutter.json's defaults, rendered)."""
    context = {
        key: value[0] if isinstance(value, list) else value
        for key, value in COOKIECUTTER_JSON.items()
        if not key.startswith("_")
    }
    context |= {
        "project_slug": "taxi-fare-regression",
        "package_name": "taxi_fare_regression",
        "model_name": "taxi_fare_regression_model",
        "schema": "taxi_fare_regression",
        "read_group": "taxi-fare-regression-readers",
        "approvers_group": "taxi-fare-regression-approvers",
        "staging_workspace_host": "https://adb-1.1.azuredatabricks.net",
        "prod_workspace_host": "https://adb-2.2.azuredatabricks.net",
    }
    assert PRE.first_error(context) is None
    return context
