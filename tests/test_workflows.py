"""The GitHub Actions workflows: the generated project's, for every option combination with
`cicd_platform=github_actions`, and the template repository's own.

GitHub's own checks, each run once per rendering over all its workflow files:
- schema: `check-jsonschema --builtin-schema vendor.github-workflows` (offline);
- `actionlint`;
- `zizmor --offline`, no findings at its default level;
- hardening rules (pins, permissions, no expressions in scripts, no secrets) and the GitHub side of
  the keyless login.
The flows (targets, jobs, lifecycle order, serialised deploys, forks) are the checks every
platform shares: tests/ci_semantics.py, run for every rendering by tests/test_ci_pipelines.py.
The last tests mutate a good rendering and show that each GitHub check fails on what it guards
against.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from ci_platforms import GITHUB_WORKFLOWS as WORKFLOWS
from ci_platforms import github_triggers as triggers
from ci_platforms import tool
from ci_semantics import lifecycle_jobs
from conftest import (
    COOKIECUTTER_JSON,
    DEFAULT_COMBINATION,
    TEMPLATE_DIR,
    Renderings,
    combination_id,
    combinations_where,
)

# The branch options are plain defaults of cookiecutter.json (the fixtures vary only the choices).
DEFAULT_BRANCH = COOKIECUTTER_JSON["default_branch"]
RELEASE_BRANCH = COOKIECUTTER_JSON["release_branch"]
TEMPLATE_WORKFLOWS = TEMPLATE_DIR / WORKFLOWS

USES_LINE = re.compile(r"^\s*(?:-\s+)?uses:\s*(?P<ref>\S+)(?P<rest>.*)$")
PINNED_REF = re.compile(r"^[\w.-]+/[\w.-]+(?:/[\w./-]+)?@[0-9a-f]{40}$")
VERSION_COMMENT = re.compile(r"^\s+#\s+v(?P<version>\d+(?:\.\d+)*)\s*$")
ALLOWED_JOB_PERMISSIONS = {("contents", "read"), ("id-token", "write")}


def workflow_files(workflow_dir: Path) -> list[Path]:
    files = sorted([*workflow_dir.glob("*.yml"), *workflow_dir.glob("*.yaml")])
    assert files, f"no workflow in {workflow_dir}"
    return files


def load_workflows(workflow_dir: Path) -> dict[str, dict[str, Any]]:
    return {path.name: yaml.safe_load(path.read_text()) for path in workflow_files(workflow_dir)}


def steps(workflow: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any], dict[str, Any]]]:
    for job_id, job in workflow["jobs"].items():
        for step in job.get("steps", []):
            yield job_id, job, step


def uses_action(step: dict[str, Any], action: str) -> bool:
    return str(step.get("uses", "")).split("@")[0] == action


def strings(node: Any) -> Iterator[str]:
    """Every string value (keys too) of a parsed YAML document."""
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for key, value in node.items():
            yield from strings(key)
            yield from strings(value)
    elif isinstance(node, list):
        for item in node:
            yield from strings(item)


def jobs_running_databricks(workflow: dict[str, Any]) -> set[str]:
    return {
        job_id
        for job_id, _job, step in steps(workflow)
        if re.search(r"(^|[\s;&|(])databricks\s", str(step.get("run", "")))
    }


def schema_check(workflow_dir: Path) -> subprocess.CompletedProcess[str]:
    return tool(
        "check-jsonschema",
        "--builtin-schema",
        "vendor.github-workflows",
        *workflow_files(workflow_dir),
    )


def actionlint_check(workflow_dir: Path) -> subprocess.CompletedProcess[str]:
    return tool("actionlint", "-no-color", *workflow_files(workflow_dir))


def zizmor_findings(path: Path) -> tuple[list[str], subprocess.CompletedProcess[str]]:
    """(`audit-id: file` per finding, the process) of `zizmor --offline` at its default level."""
    proc = tool("zizmor", "--offline", "--format", "json", path)
    assert proc.stdout.strip().startswith("["), (
        f"zizmor did not report:\n{proc.stdout}\n{proc.stderr}"
    )
    findings = [
        f"{finding['ident']}: {location['symbolic']['key']['Local']['verbatim_path']}"
        for finding in json.loads(proc.stdout)
        for location in finding["locations"][:1]
    ]
    return findings, proc


def hardening_problems(workflow_dir: Path) -> list[str]:
    """Rules that hold for every workflow, the template's own included."""
    problems = []
    for path in workflow_files(workflow_dir):
        name = path.name
        for number, line in enumerate(path.read_text().splitlines(), 1):
            match = USES_LINE.match(line)
            if not match or match["ref"].startswith("./"):
                continue
            if not PINNED_REF.match(match["ref"]):
                problems.append(
                    f"{name}:{number}: {match['ref']} is not pinned to a full commit SHA"
                )
            elif not VERSION_COMMENT.match(match["rest"]):
                problems.append(f"{name}:{number}: {match['ref']} has no `# vX.Y.Z` comment")

        workflow = yaml.safe_load(path.read_text())
        if "pull_request_target" in triggers(workflow):
            problems.append(
                f"{name}: pull_request_target runs fork code with repository credentials"
            )
        if workflow.get("permissions") != {"contents": "read"}:
            problems.append(f"{name}: top-level permissions must be exactly `contents: read`")
        talks_to_databricks = jobs_running_databricks(workflow)
        for job_id, job in workflow["jobs"].items():
            where = f"{name}: job {job_id}"
            timeout = job.get("timeout-minutes")
            if not isinstance(timeout, int) or timeout <= 0:
                problems.append(f"{where}: no timeout-minutes")
            permissions = job.get("permissions", {})
            if (
                not isinstance(permissions, dict)
                or not set(permissions.items()) <= ALLOWED_JOB_PERMISSIONS
            ):
                problems.append(
                    f"{where}: permissions {permissions} beyond contents: read, id-token: write"
                )
            elif permissions.get("id-token") == "write" and job_id not in talks_to_databricks:
                problems.append(f"{where}: id-token: write but the job does not talk to Databricks")
        for job_id, _job, step in steps(workflow):
            if (
                uses_action(step, "actions/checkout")
                and step.get("with", {}).get("persist-credentials") is not False
            ):
                problems.append(
                    f"{name}: job {job_id}: checkout without persist-credentials: false"
                )
            script = str(step.get("run", ""))
            if "${{" in script:
                problems.append(
                    f"{name}: job {job_id}: expression in a run script (pass it through env)"
                )
        if any("secrets." in value for value in strings(workflow)):
            # The default setup needs no secret; the documented alternatives add them by hand.
            problems.append(f"{name}: references a secret")
    return problems


def github_auth_problems(workflow_dir: Path) -> list[str]:
    """GitHub's side of the keyless login: the environment's variables name the workspace and the
    service principal, and every job that talks to Databricks runs in an environment with
    `id-token: write` (the shared checks in ci_semantics.py judge the rest)."""
    problems = []
    for name, workflow in load_workflows(workflow_dir).items():
        for job_id in jobs_running_databricks(workflow):
            job = workflow["jobs"][job_id]
            env = job.get("env", {})
            if env.get("DATABRICKS_CLIENT_ID") != "${{ vars.DATABRICKS_CLIENT_ID }}":
                problems.append(
                    f"{name}: job {job_id}: DATABRICKS_CLIENT_ID is not the environment's variable"
                )
            if "DATABRICKS_HOST" in env and env["DATABRICKS_HOST"] != "${{ vars.DATABRICKS_HOST }}":
                problems.append(
                    f"{name}: job {job_id}: DATABRICKS_HOST is not the environment's variable"
                )
            if (job.get("permissions") or {}).get("id-token") != "write":
                problems.append(
                    f"{name}: job {job_id}: talks to Databricks without id-token: write"
                )
            if not job.get("environment"):
                problems.append(
                    f"{name}: job {job_id}: talks to Databricks outside a GitHub environment"
                )
    return problems


# --------------------------------------------------------------------------------------------
# Generated project, every option combination with GitHub Actions
# --------------------------------------------------------------------------------------------


@pytest.fixture(params=combinations_where("cicd_platform", "github_actions"), ids=combination_id)
def github_rendered(
    request: pytest.FixtureRequest, renderings: Renderings
) -> tuple[dict[str, str], Path]:
    return request.param, renderings.get(request.param)


@pytest.fixture
def workflows(github_rendered: tuple[dict[str, str], Path]) -> dict[str, dict[str, Any]]:
    return load_workflows(github_rendered[1] / WORKFLOWS)


def test_workflows_match_github_schema(github_rendered: tuple[dict[str, str], Path]) -> None:
    proc = schema_check(github_rendered[1] / WORKFLOWS)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_actionlint_passes(github_rendered: tuple[dict[str, str], Path]) -> None:
    proc = actionlint_check(github_rendered[1] / WORKFLOWS)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_zizmor_reports_nothing(github_rendered: tuple[dict[str, str], Path]) -> None:
    findings, proc = zizmor_findings(github_rendered[1])
    assert findings == [], proc.stdout
    assert proc.returncode == 0, proc.stderr
    audited = re.findall(r"completed (\S+)", proc.stderr)
    actions = list((github_rendered[1] / ".github" / "actions").rglob("action.yml"))
    assert len(audited) == len(workflow_files(github_rendered[1] / WORKFLOWS)) + len(actions), (
        proc.stderr
    )


def test_workflows_are_hardened(github_rendered: tuple[dict[str, str], Path]) -> None:
    assert hardening_problems(github_rendered[1] / WORKFLOWS) == []


def test_keyless_login_uses_the_environments_variables(
    github_rendered: tuple[dict[str, str], Path],
) -> None:
    assert github_auth_problems(github_rendered[1] / WORKFLOWS) == []


def test_pull_request_workflow_specifics(workflows: dict[str, dict[str, Any]]) -> None:
    """What GitHub adds to the shared pull request flow: the tests' Python and Java setup, and a
    job that explains why a fork's pull request skips the workspace jobs."""
    workflow, *others = [w for w in workflows.values() if "pull_request" in triggers(w)]
    assert others == []
    assert triggers(workflow) == {"pull_request": {"branches": [DEFAULT_BRANCH]}}
    jobs = workflow["jobs"]
    test_steps = jobs["unit-tests"]["steps"]
    java = next(step for step in test_steps if uses_action(step, "actions/setup-java"))
    assert java["with"] == {"distribution": "temurin", "java-version": "17"}
    python = next(step for step in test_steps if uses_action(step, "actions/setup-python"))
    assert python["with"]["cache"] == "pip"
    for job_id in ("lint", "unit-tests"):
        assert "permissions" not in jobs[job_id] and "environment" not in jobs[job_id]

    # The workspace jobs run only when credentials can exist; otherwise a job explains the skip.
    gate = jobs["credentials"]
    gate_script = gate["steps"][0]["run"]
    assert "::notice" in gate_script and "GITHUB_STEP_SUMMARY" in gate_script
    assert "github.event.pull_request.head.repo.full_name" in str(gate["steps"][0]["env"])
    for job_id in jobs_running_databricks(workflow):
        assert "credentials" in jobs[job_id]["needs"]
        assert jobs[job_id]["if"] == "needs.credentials.outputs.available == 'true'"


SETUP_CLI = ".github/actions/setup-databricks-cli/action.yml"


def test_cli_is_pinned_in_one_place(
    github_rendered: tuple[dict[str, str], Path], workflows: dict[str, dict[str, Any]]
) -> None:
    """Every workflow installs the CLI through the one composite action that pins it."""
    project = github_rendered[1]
    local = {
        step["uses"]
        for workflow in workflows.values()
        for _job_id, _job, step in steps(workflow)
        if str(step.get("uses", "")).startswith("./")
    }
    assert local == {"./.github/actions/setup-databricks-cli"}
    assert not [
        step
        for workflow in workflows.values()
        for _job_id, _job, step in steps(workflow)
        if uses_action(step, "databricks/setup-cli")
    ]
    action = yaml.safe_load((project / SETUP_CLI).read_text())
    (setup,) = action["runs"]["steps"]
    assert PINNED_REF.match(setup["uses"]) and setup["uses"].startswith("databricks/setup-cli@")
    assert re.fullmatch(r"\d+\.\d+\.\d+", str(setup["with"]["version"]))
    assert setup["uses"] == f"databricks/setup-cli@{COOKIECUTTER_JSON['__setup_cli_commit']}"
    assert str(setup["with"]["version"]) == COOKIECUTTER_JSON["__databricks_cli_version"]
    databricks_jobs = sum(len(jobs_running_databricks(w)) for w in workflows.values())
    assert len([s for w in workflows.values() for *_, s in steps(w) if s.get("uses") in local]) == (
        databricks_jobs
    )


def test_no_template_syntax_left(github_rendered: tuple[dict[str, str], Path]) -> None:
    project = github_rendered[1]
    for path in [
        *workflow_files(project / WORKFLOWS),
        project / SETUP_CLI,
        project / "docs" / "ci-cd.md",
    ]:
        text = path.read_text()
        assert "cookiecutter" not in text and "{%" not in text, path
        assert not re.search(r"(?<!\$)\{\{", text), path  # only GitHub's ${{ }} may remain


def test_ci_cd_doc_matches_options(github_rendered: tuple[dict[str, str], Path]) -> None:
    options, project = github_rendered
    doc = (project / "docs" / "ci-cd.md").read_text()
    for needed in (
        "DATABRICKS_AUTH_TYPE", "github-oidc", "DATABRICKS_HOST", "DATABRICKS_CLIENT_ID",
        "DATABRICKS_CLIENT_SECRET", "service-principal-federation-policy", "environment:prod",
        "required reviewers", "GRANT", f"selected: `{DEFAULT_BRANCH}`",
        f"selected: `{RELEASE_BRANCH}`", "Cutting a release",
    ):  # fmt: skip
        assert needed in doc, needed
    assert ("ARM_CLIENT_SECRET" in doc) == (options["cloud"] == "azure")
    for environment in ("test", "staging", "prod"):
        assert f"| `{environment}` |" in doc
    assert ("feature_refresh_job" in doc) == (options["include_feature_store"] == "yes")
    assert "Azure Pipelines" not in doc and "GitLab" not in doc
    # The doc's lifecycle lists are those the workflows run.
    assert ", ".join(f"`{job}`" for job in lifecycle_jobs(options)) in doc
    # Every SHA the workflows use is listed in the doc's table, with its version.
    for workflow_path in [*workflow_files(project / WORKFLOWS), project / SETUP_CLI]:
        for ref, version in re.findall(
            r"uses: \S+@([0-9a-f]{40}) # (v[\d.]+)", workflow_path.read_text()
        ):
            assert f"`{ref}` ({version})" in doc


# --------------------------------------------------------------------------------------------
# The template repository's own workflows
# --------------------------------------------------------------------------------------------


def test_template_workflows_pass_schema_actionlint_and_zizmor() -> None:
    proc = schema_check(TEMPLATE_WORKFLOWS)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    proc = actionlint_check(TEMPLATE_WORKFLOWS)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    findings, proc = zizmor_findings(TEMPLATE_WORKFLOWS)
    assert findings == [] and proc.returncode == 0, proc.stdout + proc.stderr


def test_template_workflows_are_hardened() -> None:
    assert hardening_problems(TEMPLATE_WORKFLOWS) == []


def test_template_workflow_runs_the_suite_on_pull_requests_and_pushes() -> None:
    workflows = load_workflows(TEMPLATE_WORKFLOWS)
    running = [
        workflow
        for workflow in workflows.values()
        if any(str(step.get("run", "")).strip() == "bash .ci/run" for *_, step in steps(workflow))
    ]
    assert len(running) == 1
    assert {"pull_request", "push"} <= set(triggers(running[0]))
    java = [step for _j, _job, step in steps(running[0]) if uses_action(step, "actions/setup-java")]
    assert java and java[0]["with"]["java-version"] == "17"


# --------------------------------------------------------------------------------------------
# Each GitHub check bites (the shared checks bite in tests/test_ci_pipelines.py)
# --------------------------------------------------------------------------------------------


@pytest.fixture
def good_copy(renderings: Renderings, tmp_path: Path) -> Path:
    """The workflows of the default rendering, in a scratch folder."""
    source = renderings.get(DEFAULT_COMBINATION)
    copy = tmp_path / "project"
    shutil.copytree(source / ".github", copy / ".github")
    assert hardening_problems(copy / WORKFLOWS) == []
    assert github_auth_problems(copy / WORKFLOWS) == []
    assert zizmor_findings(copy)[0] == []
    return copy


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{old!r} not in {path.name}"
    path.write_text(text.replace(old, new, 1))


def staging_workflow(project: Path) -> Path:
    (name,) = [
        name
        for name, workflow in load_workflows(project / WORKFLOWS).items()
        if triggers(workflow).get("push", {}).get("branches") == [DEFAULT_BRANCH]
    ]
    return project / WORKFLOWS / name


def test_unpinned_action_fails(good_copy: Path) -> None:
    path = staging_workflow(good_copy)
    edit(
        path,
        "actions/checkout@08c6903cd8c0fde910a37f88322edcfb5dd907a8 # v5.0.0",
        "actions/checkout@v5",
    )
    assert any("unpinned-uses" in finding for finding in zizmor_findings(good_copy)[0])
    assert any("not pinned" in problem for problem in hardening_problems(good_copy / WORKFLOWS))


def test_sha_without_version_comment_fails(good_copy: Path) -> None:
    path = staging_workflow(good_copy)
    edit(
        path,
        "08c6903cd8c0fde910a37f88322edcfb5dd907a8 # v5.0.0",
        "08c6903cd8c0fde910a37f88322edcfb5dd907a8",
    )
    assert any("comment" in problem for problem in hardening_problems(good_copy / WORKFLOWS))


def test_pull_request_target_fails(good_copy: Path) -> None:
    edit(good_copy / WORKFLOWS / "ci.yml", "  pull_request:\n", "  pull_request_target:\n")
    assert any("dangerous-triggers" in finding for finding in zizmor_findings(good_copy)[0])
    assert any(
        "pull_request_target" in problem for problem in hardening_problems(good_copy / WORKFLOWS)
    )


def test_persisted_credentials_fail(good_copy: Path) -> None:
    edit(staging_workflow(good_copy), "persist-credentials: false", "persist-credentials: true")
    assert any(
        "persist-credentials" in problem for problem in hardening_problems(good_copy / WORKFLOWS)
    )


def test_client_id_outside_the_environment_fails(good_copy: Path) -> None:
    edit(
        staging_workflow(good_copy),
        "DATABRICKS_CLIENT_ID: ${{ vars.DATABRICKS_CLIENT_ID }}",
        "DATABRICKS_CLIENT_ID: 00000000-0000-0000-0000-000000000001",
    )
    problems = github_auth_problems(good_copy / WORKFLOWS)
    assert any("DATABRICKS_CLIENT_ID is not the environment's variable" in p for p in problems)


def test_schema_and_actionlint_fail_on_broken_workflow(good_copy: Path) -> None:
    path = staging_workflow(good_copy)
    edit(path, "timeout-minutes: ", "timeout-minutes: soon #")
    assert schema_check(good_copy / WORKFLOWS).returncode != 0
    edit(path, "timeout-minutes: soon #", "timeout-minutes: ")
    edit(
        path, "    runs-on: ubuntu-latest\n", "    needs: no-such-job\n    runs-on: ubuntu-latest\n"
    )
    assert schema_check(good_copy / WORKFLOWS).returncode == 0
    proc = actionlint_check(good_copy / WORKFLOWS)
    assert proc.returncode != 0 and "no-such-job" in proc.stdout


def test_expression_in_run_script_and_secret_fail(good_copy: Path) -> None:
    path = staging_workflow(good_copy)
    edit(
        path,
        "run: databricks bundle validate -t staging",
        'run: echo "${{ secrets.TOKEN }}" > token.txt',
    )
    problems = hardening_problems(good_copy / WORKFLOWS)
    assert any("expression in a run script" in problem for problem in problems)
    assert any("references a secret" in problem for problem in problems)
