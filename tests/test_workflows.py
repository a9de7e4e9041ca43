"""The GitHub Actions workflows: the generated project's, for every option combination, and the
template repository's own.

Four checks, each run once per rendering over all its workflow files:
- schema: `check-jsonschema --builtin-schema vendor.github-workflows` (offline);
- `actionlint`;
- `zizmor --offline`, no findings at its default level;
- semantics (this file): hardening rules, and every `databricks bundle` command names a target of
  databricks.yml and, for `bundle run`, a job that the chosen options put in resources/.
The last tests mutate a good rendering and show that each check fails on what it guards against.
"""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from bundle_checks import loader
from conftest import COOKIECUTTER_JSON, DEFAULT_COMBINATION, TEMPLATE_DIR, Renderings, render

BIN = Path(sys.executable).parent
# The branch options are plain defaults of cookiecutter.json (the fixtures vary only the choices).
DEFAULT_BRANCH = COOKIECUTTER_JSON["default_branch"]
RELEASE_BRANCH = COOKIECUTTER_JSON["release_branch"]
WORKFLOWS = Path(".github/workflows")
TEMPLATE_WORKFLOWS = TEMPLATE_DIR / WORKFLOWS

# Jobs that exist for every option combination, and those an option adds (docs/architecture.md).
ALWAYS_JOBS = {"training_job", "batch_inference_job", "rollback_job"}
OPTIONAL_JOBS = {
    "feature_refresh_job": "include_feature_store",
    "monitoring_job": "include_monitoring",
}

USES_LINE = re.compile(r"^\s*(?:-\s+)?uses:\s*(?P<ref>\S+)(?P<rest>.*)$")
PINNED_REF = re.compile(r"^[\w.-]+/[\w.-]+(?:/[\w./-]+)?@[0-9a-f]{40}$")
VERSION_COMMENT = re.compile(r"^\s+#\s+v(?P<version>\d+(?:\.\d+)*)\s*$")
ALLOWED_JOB_PERMISSIONS = {("contents", "read"), ("id-token", "write")}
DEPLOYING_VERBS = {"deploy", "destroy", "run"}
# `databricks bundle` flags that take a value (as the next token), besides the target.
VALUE_FLAGS = {
    "--var",
    "-p",
    "--profile",
    "-o",
    "--output",
    "--params",
    "--python-params",
    "--select",
}


# --------------------------------------------------------------------------------------------
# Reading workflows
# --------------------------------------------------------------------------------------------


def workflow_files(workflow_dir: Path) -> list[Path]:
    files = sorted([*workflow_dir.glob("*.yml"), *workflow_dir.glob("*.yaml")])
    assert files, f"no workflow in {workflow_dir}"
    return files


def load_workflows(workflow_dir: Path) -> dict[str, dict[str, Any]]:
    return {path.name: yaml.safe_load(path.read_text()) for path in workflow_files(workflow_dir)}


def triggers(workflow: dict[str, Any]) -> dict[str, Any]:
    """The `on:` mapping (YAML 1.1 reads a bare `on` key as True), normalised to a dict."""
    on = workflow.get("on", workflow.get(True))
    if isinstance(on, str):
        return {on: {}}
    if isinstance(on, list):
        return {event: {} for event in on}
    return {event: (config or {}) for event, config in on.items()}


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


class BundleCommand:
    """One `databricks bundle <verb> ...` invocation found in a `run:` script."""

    def __init__(self, job_id: str, step: dict[str, Any], tokens: list[str]) -> None:
        self.job_id = job_id
        self.step = step
        self.verb = tokens[0] if tokens else ""
        self.target: str | None = None
        self.flags: set[str] = set()
        self.args: list[str] = []
        rest = iter(tokens[1:])
        for token in rest:
            if token in ("-t", "--target"):
                self.target = next(rest, "")
            elif token.startswith("--target="):
                self.target = token.split("=", 1)[1]
            elif token in VALUE_FLAGS:
                next(rest, None)
            elif token.startswith("-"):
                self.flags.add(token)
            else:
                self.args.append(token)

    def __repr__(self) -> str:
        args = " ".join(self.args)
        return f"databricks bundle {self.verb} -t {self.target} {args} (job {self.job_id})"


def bundle_commands(workflow: dict[str, Any]) -> list[BundleCommand]:
    commands = []
    for job_id, _job, step in steps(workflow):
        for line in str(step.get("run", "")).splitlines():
            for segment in re.split(r"&&|\|\||;|\|", line):
                tokens = shlex.split(segment, comments=True)
                for i in range(len(tokens) - 1):
                    if tokens[i] == "databricks" and tokens[i + 1] == "bundle":
                        commands.append(BundleCommand(job_id, step, tokens[i + 2 :]))
    return commands


def jobs_running_databricks(workflow: dict[str, Any]) -> set[str]:
    return {
        job_id
        for job_id, _job, step in steps(workflow)
        if re.search(r"(^|[\s;&|(])databricks\s", str(step.get("run", "")))
    }


# --------------------------------------------------------------------------------------------
# The checks
# --------------------------------------------------------------------------------------------


def tool(name: str, *args: str | Path) -> subprocess.CompletedProcess[str]:
    executable = BIN / name
    assert executable.exists(), f"{name} is not installed next to {sys.executable}"
    return subprocess.run(
        [str(executable), *map(str, args)], capture_output=True, text=True, timeout=300, check=False
    )


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


def expected_jobs(options: dict[str, str]) -> set[str]:
    return ALWAYS_JOBS | {job for job, option in OPTIONAL_JOBS.items() if options[option] == "yes"}


def bundle_targets(project: Path) -> dict[str, dict[str, Any]]:
    return yaml.safe_load((project / "databricks.yml").read_text())["targets"]


def resource_jobs(project: Path) -> set[str]:
    jobs: set[str] = set()
    for path in sorted((project / "resources").glob("*.yml")):
        document = yaml.safe_load(path.read_text()) or {}
        jobs |= set((document.get("resources") or {}).get("jobs") or {})
    return jobs


def bundle_problems(project: Path, options: dict[str, str]) -> list[str]:
    """Every bundle command names a target of databricks.yml; every `bundle run` a job that exists
    in resources/ and belongs to the chosen options; deploying jobs are serialised per target."""
    targets = bundle_targets(project)
    defined_jobs = resource_jobs(project)
    wanted_jobs = expected_jobs(options)
    problems = []
    for name, workflow in load_workflows(project / WORKFLOWS).items():
        talks_to_databricks = jobs_running_databricks(workflow)
        for command in bundle_commands(workflow):
            if command.target is None:
                problems.append(f"{name}: {command}: no explicit -t (would use the default target)")
            elif command.target not in targets:
                problems.append(
                    f"{name}: {command}: target {command.target!r} not in databricks.yml"
                )
            if command.verb == "run":
                key = command.args[0] if command.args else ""
                if key not in defined_jobs:
                    problems.append(f"{name}: {command}: job {key!r} is not defined in resources/")
                elif key not in wanted_jobs:
                    problems.append(
                        f"{name}: {command}: job {key!r} does not exist for these options"
                    )
            if command.verb in DEPLOYING_VERBS:
                job = workflow["jobs"][command.job_id]
                concurrency = job.get("concurrency") or {}
                if not isinstance(concurrency, dict) or command.target not in str(
                    concurrency.get("group", "")
                ):
                    problems.append(
                        f"{name}: job {command.job_id}: no concurrency group for {command.target}"
                    )
                elif concurrency.get("cancel-in-progress") is not False:
                    problems.append(
                        f"{name}: job {command.job_id}: a deploy could be cancelled halfway"
                    )
                if job.get("environment") != command.target:
                    problems.append(
                        f"{name}: job {command.job_id}: not in environment {command.target!r}"
                    )
        for job_id in talks_to_databricks:
            job = workflow["jobs"][job_id]
            env = job.get("env", {})
            if env.get("DATABRICKS_AUTH_TYPE") != "github-oidc":
                problems.append(f"{name}: job {job_id}: DATABRICKS_AUTH_TYPE is not github-oidc")
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
# Generated project, every option combination
# --------------------------------------------------------------------------------------------


@pytest.fixture
def workflows(rendered: tuple[dict[str, str], Path]) -> dict[str, dict[str, Any]]:
    return load_workflows(rendered[1] / WORKFLOWS)


def test_workflows_match_github_schema(rendered: tuple[dict[str, str], Path]) -> None:
    proc = schema_check(rendered[1] / WORKFLOWS)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_actionlint_passes(rendered: tuple[dict[str, str], Path]) -> None:
    proc = actionlint_check(rendered[1] / WORKFLOWS)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_zizmor_reports_nothing(rendered: tuple[dict[str, str], Path]) -> None:
    findings, proc = zizmor_findings(rendered[1])
    assert findings == [], proc.stdout
    assert proc.returncode == 0, proc.stderr
    audited = re.findall(r"completed (\S+)", proc.stderr)
    actions = list((rendered[1] / ".github" / "actions").rglob("action.yml"))
    assert len(audited) == len(workflow_files(rendered[1] / WORKFLOWS)) + len(actions), proc.stderr


def test_workflows_are_hardened(rendered: tuple[dict[str, str], Path]) -> None:
    assert hardening_problems(rendered[1] / WORKFLOWS) == []


def test_bundle_commands_name_defined_targets_and_jobs(
    rendered: tuple[dict[str, str], Path],
) -> None:
    options, project = rendered
    assert bundle_problems(project, options) == []


def workflow_on_push_to(
    workflows: dict[str, dict[str, Any]], branch: str
) -> tuple[str, dict[str, Any]]:
    found = [
        (name, workflow)
        for name, workflow in workflows.items()
        if triggers(workflow).get("push", {}).get("branches") == [branch]
    ]
    assert len(found) == 1, (
        f"expected one workflow on push to {branch}, found {[n for n, _ in found]}"
    )
    return found[0]


def verbs_in_order(workflow: dict[str, Any], target: str) -> list[str]:
    """The verbs of the target's bundle commands, in order; alternatives in one step (deploy
    with or without the Lakehouse monitor) count once."""
    verbs: list[str] = []
    last_step: dict[str, Any] | None = None
    for command in bundle_commands(workflow):
        if command.target != target:
            continue
        if not (verbs and command.step is last_step and command.verb == verbs[-1]):
            verbs.append(command.verb)
        last_step = command.step
    return verbs


def lifecycle_jobs(options: dict[str, str]) -> list[str]:
    """The jobs of the options, in the order the lifecycle runs them."""
    order = ["feature_refresh_job", "training_job", "batch_inference_job", "monitoring_job"]
    return [job for job in order if job in expected_jobs(options)]


def test_staging_workflow(
    rendered: tuple[dict[str, str], Path], workflows: dict[str, dict[str, Any]]
) -> None:
    options, _project = rendered
    name, workflow = workflow_on_push_to(workflows, DEFAULT_BRANCH)
    assert set(triggers(workflow)) == {"push"}, name
    commands = bundle_commands(workflow)
    assert {command.target for command in commands} == {"staging"}
    runs = [job for job in lifecycle_jobs(options) if job != "monitoring_job"]
    assert verbs_in_order(workflow, "staging") == ["validate", "deploy", *["run"] * len(runs)]
    assert [c.args[0] for c in commands if c.verb == "run"] == runs
    assert {workflow["jobs"][command.job_id]["environment"] for command in commands} == {"staging"}


def test_prod_workflow(workflows: dict[str, dict[str, Any]]) -> None:
    name, workflow = workflow_on_push_to(workflows, RELEASE_BRANCH)
    assert set(triggers(workflow)) == {"push"}, name
    assert verbs_in_order(workflow, "prod") == ["validate", "deploy"]
    (job_id,) = {command.job_id for command in bundle_commands(workflow)}
    assert workflow["jobs"][job_id]["environment"] == "prod"
    # Only the prod workflow deploys prod, and nothing else deploys from the release branch.
    for other, other_workflow in workflows.items():
        if other != name:
            assert "prod" not in {
                c.target for c in bundle_commands(other_workflow) if c.verb != "validate"
            }


@pytest.mark.parametrize("target", ["staging", "prod"])
def test_deploy_adds_the_lakehouse_monitor_once_its_table_exists(
    rendered: tuple[dict[str, str], Path], workflows: dict[str, dict[str, Any]], target: str
) -> None:
    """A monitor needs its table: while inference_log is missing, deploy every other resource."""
    options, project = rendered
    deploys = [
        c
        for workflow in workflows.values()
        for c in bundle_commands(workflow)
        if c.verb == "deploy" and c.target == target
    ]
    if options["include_monitoring"] == "no":
        assert [c.flags for c in deploys] == [set()]
        return
    full, partial = deploys
    assert full.step is partial.step and full.flags == set()
    script = str(full.step["run"])
    selected = re.search(rf"deploy -t {target} --select (\S+)", script)
    assert selected, script
    bundle = loader().load_bundle(project, target, {"warehouse_id": "x"}, keep_unresolved=True)
    monitors = set(bundle.resources.get("quality_monitors") or {})
    everything = {key for _kind, key, _body in bundle.iter_resources()}
    assert monitors and set(selected[1].split(",")) == everything - monitors
    catalog = bundle_targets(project)[target]["variables"]["catalog"]
    schema = bundle.resources["schemas"]["project_schema"]["name"]
    assert full.step["env"]["MONITORED_TABLE"] == f"{catalog}.{schema}.inference_log"
    assert 'databricks tables exists "$MONITORED_TABLE"' in script
    assert script.index("deploy -t") > script.index('if [ "$exists" = "true" ]')


def test_pull_request_workflow(
    rendered: tuple[dict[str, str], Path], workflows: dict[str, dict[str, Any]]
) -> None:
    options, _project = rendered
    workflow, *others = [w for w in workflows.values() if "pull_request" in triggers(w)]
    assert others == []
    assert triggers(workflow) == {"pull_request": {"branches": [DEFAULT_BRANCH]}}
    jobs = workflow["jobs"]

    # Lint and unit tests: no credentials, the project's own commands.
    scripts = {
        job_id: "\n".join(str(s.get("run", "")) for s in job.get("steps", []))
        for job_id, job in jobs.items()
    }
    lint = next(job_id for job_id, script in scripts.items() if "ruff check" in script)
    tests = next(job_id for job_id, script in scripts.items() if "pytest" in script)
    assert 'pip install -e ".[local,dev]" -c constraints.txt' in scripts[tests]
    test_steps = jobs[tests]["steps"]
    java = next(step for step in test_steps if uses_action(step, "actions/setup-java"))
    assert java["with"] == {"distribution": "temurin", "java-version": "17"}
    python = next(step for step in test_steps if uses_action(step, "actions/setup-python"))
    assert python["with"]["cache"] == "pip"
    for job_id in (lint, tests):
        assert "permissions" not in jobs[job_id] and "environment" not in jobs[job_id]

    # Validation of staging (never prod: pull requests get no prod access), then deploy ->
    # every job of the lifecycle -> destroy on test.
    commands = bundle_commands(workflow)
    assert [(c.verb, c.target) for c in commands if c.verb == "validate"] == [
        ("validate", "staging")
    ]
    integration = [c for c in commands if c.target == "test"]
    wanted = lifecycle_jobs(options)
    assert [c.verb for c in integration] == ["deploy", *["run"] * len(wanted), "destroy"]
    assert [c.args[0] for c in integration if c.verb == "run"] == wanted
    destroy = integration[-1]
    assert "--auto-approve" in destroy.flags
    assert destroy.step.get("if") == "always()"
    cleanup = [
        s for _j, _job, s in steps(workflow) if "serving-endpoints delete" in str(s.get("run"))
    ]
    assert len(cleanup) == (options["include_serving"] == "yes")
    (integration_job,) = {c.job_id for c in integration}
    assert {"unit-tests", "validate"} <= set(jobs[integration_job]["needs"])

    # The workspace jobs run only when credentials can exist; otherwise a job explains the skip.
    gate = jobs["credentials"]
    gate_script = gate["steps"][0]["run"]
    assert "::notice" in gate_script and "GITHUB_STEP_SUMMARY" in gate_script
    assert "github.event.pull_request.head.repo.full_name" in str(gate["steps"][0]["env"])
    for job_id in {c.job_id for c in commands}:
        assert "credentials" in jobs[job_id]["needs"]
        assert jobs[job_id]["if"] == "needs.credentials.outputs.available == 'true'"


SETUP_CLI = ".github/actions/setup-databricks-cli/action.yml"


def test_cli_is_pinned_in_one_place(
    rendered: tuple[dict[str, str], Path], workflows: dict[str, dict[str, Any]]
) -> None:
    """Every workflow installs the CLI through the one composite action that pins it."""
    project = rendered[1]
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
    databricks_jobs = sum(len(jobs_running_databricks(w)) for w in workflows.values())
    assert len([s for w in workflows.values() for *_, s in steps(w) if s.get("uses") in local]) == (
        databricks_jobs
    )


def test_no_template_syntax_left(rendered: tuple[dict[str, str], Path]) -> None:
    project = rendered[1]
    for path in [
        *workflow_files(project / WORKFLOWS),
        project / SETUP_CLI,
        project / "docs" / "ci-cd.md",
    ]:
        text = path.read_text()
        assert "cookiecutter" not in text and "{%" not in text, path
        assert not re.search(r"(?<!\$)\{\{", text), path  # only GitHub's ${{ }} may remain


def test_ci_cd_doc_matches_options(rendered: tuple[dict[str, str], Path]) -> None:
    options, project = rendered
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
    # Every SHA the workflows use is listed in the doc's table, with its version.
    for workflow_path in [*workflow_files(project / WORKFLOWS), project / SETUP_CLI]:
        for ref, version in re.findall(
            r"uses: \S+@([0-9a-f]{40}) # (v[\d.]+)", workflow_path.read_text()
        ):
            assert f"`{ref}` ({version})" in doc


def test_branch_names_come_from_options(tmp_path: Path) -> None:
    project = render(tmp_path, default_branch="trunk", release_branch="production")
    workflows = load_workflows(project / WORKFLOWS)
    _, staging = workflow_on_push_to(workflows, "trunk")
    _, prod = workflow_on_push_to(workflows, "production")
    assert "staging" in {c.target for c in bundle_commands(staging)}
    assert "prod" in {c.target for c in bundle_commands(prod)}
    pull_request = [w for w in workflows.values() if "pull_request" in triggers(w)]
    assert [triggers(w)["pull_request"]["branches"] for w in pull_request] == [["trunk"]]
    branch_filters = [
        branch
        for workflow in workflows.values()
        for config in triggers(workflow).values()
        for branch in config.get("branches", [])
    ]
    assert sorted(branch_filters) == ["production", "trunk", "trunk"]


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
# Each check bites
# --------------------------------------------------------------------------------------------


@pytest.fixture
def good_copy(renderings: Renderings, tmp_path: Path) -> Path:
    """The workflows, bundle config and resources of the default rendering, in a scratch folder."""
    source = renderings.get(DEFAULT_COMBINATION)
    copy = tmp_path / "project"
    shutil.copytree(source / ".github", copy / ".github")
    shutil.copytree(source / "resources", copy / "resources")
    shutil.copy(source / "databricks.yml", copy / "databricks.yml")
    assert hardening_problems(copy / WORKFLOWS) == []
    assert bundle_problems(copy, DEFAULT_COMBINATION) == []
    assert zizmor_findings(copy)[0] == []
    return copy


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{old!r} not in {path.name}"
    path.write_text(text.replace(old, new, 1))


def staging_workflow(project: Path) -> Path:
    name, _ = workflow_on_push_to(load_workflows(project / WORKFLOWS), DEFAULT_BRANCH)
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


def test_undefined_target_fails(good_copy: Path) -> None:
    edit(
        staging_workflow(good_copy),
        "  databricks bundle deploy -t staging\n",
        "  databricks bundle deploy -t qa\n",
    )
    problems = bundle_problems(good_copy, DEFAULT_COMBINATION)
    assert any("'qa' not in databricks.yml" in problem for problem in problems), problems


def test_undefined_or_optional_job_fails(good_copy: Path) -> None:
    edit(staging_workflow(good_copy), "run -t staging training_job", "run -t staging trainig_job")
    options = {**DEFAULT_COMBINATION, "include_feature_store": "no"}
    ci = good_copy / WORKFLOWS / "ci.yml"
    assert "feature_refresh_job" in ci.read_text()  # the default rendering has the feature store
    problems = bundle_problems(good_copy, options)
    assert any("'trainig_job' is not defined" in problem for problem in problems), problems
    assert any("'feature_refresh_job' does not exist for these options" in p for p in problems), (
        problems
    )


def test_unserialised_deploy_and_persisted_credentials_fail(good_copy: Path) -> None:
    path = staging_workflow(good_copy)
    edit(
        path,
        "      cancel-in-progress: false\n    permissions:",
        "      cancel-in-progress: true\n    permissions:",
    )
    edit(path, "persist-credentials: false", "persist-credentials: true")
    assert any(
        "cancelled halfway" in problem
        for problem in bundle_problems(good_copy, DEFAULT_COMBINATION)
    )
    assert any(
        "persist-credentials" in problem for problem in hardening_problems(good_copy / WORKFLOWS)
    )


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
