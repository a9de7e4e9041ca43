"""What the CI/CD pipelines must do on every platform: the checks shared by GitHub Actions, Azure
Pipelines and GitLab CI.

A platform adapter (tests/ci_platforms.py) reads a rendering's pipeline files into CiJob records
and says which jobs an event starts (a pull request to a branch, a push to a branch, a pull request
from a fork). The checks below judge those records; each returns one line per problem, so a test
asserts an empty list and a mutation test asserts the line it expects.

The three flows every platform has:
- pull request to the default branch: lint, unit tests, `bundle validate -t staging` (never prod),
  and on `test` a deploy, every job of the lifecycle in order, and a destroy that always runs (plus
  deleting the test serving endpoint when the project has one); no workspace job for a fork;
- push to the default branch: validate, deploy and run the lifecycle (without monitoring) once on
  staging;
- push to the release branch: validate and deploy prod, and nothing else.

The staging and prod deploys are guarded: `bundle validate -o json` writes the bundle as the CLI
resolves it, `scripts/bundle_facts.py deploy-select` reads from it which resources to deploy (all
of them, or every one but a Lakehouse monitor whose table batch inference has not written yet:
such a monitor cannot be created), then `bundle plan` shows what will change, in the job's
summary, and `bundle deploy` deploys, both with the same selection. That guarded step counts as
one plan and one deploy in the flows above; the generated project's tests/test_bundle_facts.py
checks what the script selects, on the bundle its loader resolves.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import yaml

PULL_REQUEST = "pull_request"
PUSH = "push"
# A branch that no pipeline may deploy from, and a base branch no pull request flow may target.
OTHER_BRANCH = "feature/unrelated-change"

# Jobs that exist for every option combination, and those an option adds (docs/architecture.md).
ALWAYS_JOBS = {"training_job", "batch_inference_job", "rollback_job"}
OPTIONAL_JOBS = {
    "feature_refresh_job": "include_feature_store",
    "monitoring_job": "include_monitoring",
    "streaming_inference_job": "include_streaming",
    "approval_job": "model_approval",
}
LIFECYCLE_ORDER = (
    "feature_refresh_job",
    "training_job",
    "batch_inference_job",
    "streaming_inference_job",
    "monitoring_job",
)

DEPLOYING_VERBS = {"deploy", "destroy", "run"}
# `databricks bundle` flags that take a value (as the next token), besides the target.
VALUE_FLAGS = {"--var", "-p", "--profile", "-o", "--output", "--params", "--python-params"}
DATABRICKS_CALL = re.compile(r"(^|[\s;&|(])databricks\s")


@dataclass
class BundleCommand:
    """One `databricks bundle <verb> ...` invocation in a job's script."""

    job: str
    tokens: list[str]
    always: bool = False  # runs after a failure or a cancellation too
    verb: str = ""
    target: str | None = None
    flags: set[str] = field(default_factory=set)
    args: list[str] = field(default_factory=list)
    select: set[str] | None = None  # `deploy --select a,b`: only these resources
    output: str | None = None  # `-o json`

    def __post_init__(self) -> None:
        self.verb = self.tokens[0] if self.tokens else ""
        rest = iter(self.tokens[1:])
        for token in rest:
            if token in ("-t", "--target"):
                self.target = next(rest, "")
            elif token.startswith("--target="):
                self.target = token.split("=", 1)[1]
            elif token == "--select" or token.startswith("--select="):
                value = token.split("=", 1)[1] if "=" in token else next(rest, "")
                self.select = (self.select or set()) | set(filter(None, value.split(",")))
            elif token in ("-o", "--output"):
                self.output = next(rest, "")
            elif token in VALUE_FLAGS:
                next(rest, None)
            elif token.startswith("-"):
                self.flags.add(token)
            else:
                self.args.append(token)

    @property
    def reads_facts(self) -> bool:
        """`bundle validate -o json`: the bundle as the CLI resolves it, for a script to read."""
        return self.verb == "validate" and self.output == "json"

    def __str__(self) -> str:
        return f"databricks bundle {self.verb} -t {self.target} {' '.join(self.args)}".rstrip()


def bundle_commands(script: str, job: str, *, always: bool = False) -> list[BundleCommand]:
    commands = []
    for line in script.splitlines():
        for segment in re.split(r"&&|\|\||;|\|", line):
            try:
                tokens = shlex.split(segment, comments=True)
            except ValueError:  # a quote that spans lines: not a bundle command
                continue
            for i in range(len(tokens) - 1):
                if tokens[i] == "databricks" and tokens[i + 1] == "bundle":
                    commands.append(BundleCommand(job, tokens[i + 2 :], always))
    return commands


def steps(commands: list[BundleCommand]) -> list[BundleCommand]:
    """The commands with the `--select` alternatives left out: in the guarded deploy (a full plan
    and deploy, else a `--select` plan and deploy) each verb is one step."""
    kept: list[BundleCommand] = []
    for command in commands:
        if command.select is not None and any(
            (k.verb, k.target, k.job, k.select) == (command.verb, command.target, command.job, None)
            for k in kept
        ):
            continue
        kept.append(command)
    return kept


@dataclass
class CiJob:
    """One job of a pipeline, as far as the checks care."""

    name: str
    script: str  # what the job runs in order
    always_script: str = ""  # what it runs whatever happened before (cleanup)
    published: set[str] = field(default_factory=set)  # files kept as the job's artifacts
    environment: str | None = None  # the platform environment it deploys to
    credentials: str | None = None  # whose workspace credentials it gets (test, staging, prod)
    credentialed: bool = False  # whether it can obtain a token at all
    auth_type: str | None = None  # DATABRICKS_AUTH_TYPE
    lock: str | None = None  # the group that serialises its deploys
    cancellable: bool = False  # whether a newer run may cancel it while it deploys
    needs: set[str] = field(default_factory=set)
    timeout_minutes: int | None = None

    @property
    def commands(self) -> list[BundleCommand]:
        return [
            *bundle_commands(self.script, self.name),
            *bundle_commands(self.always_script, self.name, always=True),
        ]

    @property
    def talks_to_databricks(self) -> bool:
        return bool(DATABRICKS_CALL.search(f"{self.script}\n{self.always_script}"))


class Pipelines(Protocol):
    """A rendering's pipelines on one platform."""

    def jobs(self) -> list[CiJob]:
        """Every job of every pipeline file."""
        ...

    def triggered(self, event: str, branch: str, *, fork: bool = False) -> list[CiJob]:
        """The jobs that `event` on `branch` starts, in pipeline order (for a pull request, the
        branch is its base; `fork` means it comes from a fork)."""
        ...


# --------------------------------------------------------------------------------------------
# The options and the bundle
# --------------------------------------------------------------------------------------------


def expected_jobs(options: dict[str, str]) -> set[str]:
    return ALWAYS_JOBS | {job for job, option in OPTIONAL_JOBS.items() if options[option] == "yes"}


def lifecycle_jobs(options: dict[str, str]) -> list[str]:
    """The jobs of the options, in the order the lifecycle runs them."""
    return [job for job in LIFECYCLE_ORDER if job in expected_jobs(options)]


def bundle_targets(project: Path) -> set[str]:
    return set(yaml.safe_load((project / "databricks.yml").read_text())["targets"])


def resource_jobs(project: Path) -> set[str]:
    jobs: set[str] = set()
    for path in sorted((project / "resources").glob("*.yml")):
        document = yaml.safe_load(path.read_text()) or {}
        jobs |= set((document.get("resources") or {}).get("jobs") or {})
    return jobs


# --------------------------------------------------------------------------------------------
# The checks
# --------------------------------------------------------------------------------------------


def command_problems(
    jobs: Iterable[CiJob], targets: set[str], defined: set[str], wanted: set[str]
) -> list[str]:
    """Every bundle command names a target of databricks.yml; every `bundle run` a job that is
    defined in resources/ and belongs to the chosen options."""
    problems = []
    for job in jobs:
        for command in job.commands:
            where = f"{job.name}: {command}"
            if command.target is None:
                problems.append(f"{where}: no explicit -t (would use the default target)")
            elif command.target not in targets:
                problems.append(f"{where}: target {command.target!r} not in databricks.yml")
            if command.verb == "run":
                key = command.args[0] if command.args else ""
                if key not in defined:
                    problems.append(f"{where}: job {key!r} is not defined in resources/")
                elif key not in wanted:
                    problems.append(f"{where}: job {key!r} does not exist for these options")
    return problems


def job_problems(jobs: Iterable[CiJob], auth_type: str) -> list[str]:
    """Deploys are serialised per target and never cancelled halfway; every job has a timeout;
    only jobs that talk to Databricks get credentials, keyless ones, of a named scope."""
    problems = []
    for job in jobs:
        if not job.timeout_minutes or job.timeout_minutes <= 0:
            problems.append(f"{job.name}: no timeout")
        for target in sorted({c.target or "" for c in job.commands if c.verb in DEPLOYING_VERBS}):
            if not job.lock or target not in job.lock:
                problems.append(f"{job.name}: no lock that serialises deploys of {target}")
            elif job.cancellable:
                problems.append(f"{job.name}: a deploy of {target} could be cancelled halfway")
            if job.environment != target:
                problems.append(f"{job.name}: deploys {target} outside environment {target!r}")
        if job.talks_to_databricks:
            if job.auth_type != auth_type:
                problems.append(f"{job.name}: DATABRICKS_AUTH_TYPE is not {auth_type}")
            if not job.credentialed or not job.credentials:
                problems.append(f"{job.name}: talks to Databricks without scoped credentials")
        elif job.credentialed:
            problems.append(f"{job.name}: gets a token but does not talk to Databricks")
    return problems


def pull_request_problems(jobs: list[CiJob], options: dict[str, str]) -> list[str]:
    """Lint and unit tests without credentials; staging validated (prod never); on `test`: deploy,
    every lifecycle job in order, then a destroy and the serving endpoint's deletion that always
    run; the integration job waits for the unit tests and the validation."""
    problems = []
    by_name = {job.name: job for job in jobs}
    lint = [job for job in jobs if "ruff check" in job.script]
    tests = [job for job in jobs if "pytest" in job.script]
    if len(lint) != 1 or len(tests) != 1:
        return [f"pull request: expected one lint and one pytest job, found {lint + tests}"]
    if 'pip install -e ".[local,dev]" -c constraints.txt' not in tests[0].script:
        problems.append("pull request: the unit tests do not install the project's own lock")
    for job in (lint[0], tests[0]):
        if job.credentialed or job.credentials or job.environment:
            problems.append(f"pull request: {job.name} gets workspace credentials")
    for job in jobs:
        if job.credentials not in (None, "test"):
            problems.append(f"pull request: {job.name} gets {job.credentials} credentials")
    everything = [command for job in jobs for command in job.commands]
    commands = [c for c in everything if not (c.reads_facts and c.target == "test")]
    validations = [(c.verb, c.target) for c in commands if c.verb == "validate"]
    if validations != [("validate", "staging")]:
        problems.append(f"pull request: validates {validations}, not exactly staging")
    for command in commands:
        if command.target not in ("test", "staging") or (
            command.target == "staging" and command.verb != "validate"
        ):
            problems.append(f"pull request: {command.job}: {command} is not allowed")
    integration = [c for c in commands if c.target == "test"]
    wanted = lifecycle_jobs(options)
    verbs = [c.verb for c in integration]
    if verbs != ["deploy", *["run"] * len(wanted), "destroy"]:
        problems.append(f"pull request: on test {verbs}, not deploy, {len(wanted)} runs, destroy")
    runs = [c.args[0] if c.args else "" for c in integration if c.verb == "run"]
    if runs != wanted:
        problems.append(f"pull request: runs {runs}, not the lifecycle {wanted}")
    destroys = [c for c in integration if c.verb == "destroy"]
    if not destroys or not all(c.always and "--auto-approve" in c.flags for c in destroys):
        problems.append("pull request: the destroy of test does not always run with --auto-approve")
    owners = {c.job for c in integration}
    if len(owners) != 1:
        problems.append(f"pull request: test is deployed by {sorted(owners)}, not by one job")
    else:
        (owner,) = owners
        cleanup = by_name[owner].always_script.count("serving-endpoints delete")
        if cleanup != (options["include_serving"] == "yes"):
            problems.append(f"pull request: {cleanup} serving endpoint deletions that always run")
        facts = [c for c in everything if c.reads_facts and c.target == "test" and c.job == owner]
        if cleanup and (
            "bundle_facts.py serving-endpoint" not in by_name[owner].always_script or not facts
        ):
            problems.append(
                "pull request: the test serving endpoint is deleted by a name that does not come "
                "from `bundle validate -t test -o json` (scripts/bundle_facts.py serving-endpoint)"
            )
        validator = next((c.job for c in commands if c.verb == "validate"), "")
        if not {tests[0].name, validator} <= by_name[owner].needs:
            problems.append(
                f"pull request: {owner} does not wait for the unit tests and validation"
            )
    return problems


def staging_problems(jobs: list[CiJob], options: dict[str, str]) -> list[str]:
    """Validate, deploy, then the lifecycle once (monitoring waits for its schedule), on staging
    and nothing else, with the staging credentials only."""
    commands = steps([command for job in jobs for command in job.commands])
    problems = [
        f"default branch: {c.job}: {c} is not on staging" for c in commands if c.target != "staging"
    ]
    problems += [
        f"default branch: {job.name} gets {job.credentials} credentials"
        for job in jobs
        if job.credentials not in (None, "staging")
    ]
    runs = [job for job in lifecycle_jobs(options) if job != "monitoring_job"]
    verbs = [c.verb for c in commands]
    if verbs != ["validate", "plan", "deploy", *["run"] * len(runs)]:
        problems.append(f"default branch: {verbs}, not validate, plan, deploy, {len(runs)} runs")
    if [c.args[0] if c.args else "" for c in commands if c.verb == "run"] != runs:
        problems.append(f"default branch: does not run the lifecycle {runs}")
    return problems


def prod_problems(jobs: list[CiJob]) -> list[str]:
    """Validate and deploy prod, with the prod credentials, and nothing else."""
    commands = steps([command for job in jobs for command in job.commands])
    problems = [
        f"release branch: {c.job}: {c} is not a validate, plan or deploy of prod"
        for c in commands
        if c.target != "prod" or c.verb not in ("validate", "plan", "deploy")
    ]
    problems += [
        f"release branch: {job.name} gets {job.credentials} credentials"
        for job in jobs
        if job.credentials not in (None, "prod")
    ]
    if [c.verb for c in commands] != ["validate", "plan", "deploy"]:
        problems.append(f"release branch: {[c.verb for c in commands]}, not validate, plan, deploy")
    return problems


# The guarded deploy: the selection read from the bundle JSON in the target's workspace, then in
# both branches the plan (to plan.txt) and the deploy of the target, the second pair with the
# selection (an optional message between).
GUARDED_DEPLOY = re.compile(
    r"^[ \t]*select=\"\$\(python3? scripts/bundle_facts\.py deploy-select (?P<json>\S+) "
    r"-t (?P<facts>\S+)\)\"\n"
    r"[ \t]*if \[ -z \"\$select\" \]; then\n"
    r"[ \t]*databricks bundle plan -t (?P<plan_full>\S+) > plan\.txt\n"
    r"(?P<full_between>(?:(?![ \t]*databricks bundle).*\n)*?)"
    r"[ \t]*databricks bundle deploy -t (?P<full>\S+)\n"
    r"[ \t]*else\n"
    r"(?:[ \t]*echo .*\n)?"
    r"[ \t]*databricks bundle plan -t (?P<plan_partial>\S+) --select \"\$select\" > plan\.txt\n"
    r"(?P<partial_between>(?:(?![ \t]*databricks bundle).*\n)*?)"
    r"[ \t]*databricks bundle deploy -t (?P<partial>\S+) --select \"\$select\"\n"
    r"[ \t]*fi$",
    re.MULTILINE,
)
FACTS_FILE = re.compile(r"databricks bundle validate -t (?P<target>\S+) -o json > (?P<file>\S+)")
# Where each platform shows the plan: the job summary (GitHub, Azure) or the job's artifacts.
PLAN_SUMMARIES = ('"$GITHUB_STEP_SUMMARY"', "##vso[task.uploadsummary]")


def guarded_deploy_problems(jobs: list[CiJob], target: str, flow: str) -> list[str]:
    """The deploy of `target` is the guarded one: selection from the bundle the CLI resolved,
    plan shown before the deploy, plan and deploy with the same selection, all of `target`."""
    guarded = [(job, m) for job in jobs for m in GUARDED_DEPLOY.finditer(job.script)]
    deploys = [c for job in jobs for c in job.commands if c.verb == "deploy" and c.target == target]
    if len(guarded) != 1 or len(deploys) != 2:
        return [
            f"{flow}: the deploy of {target} is not the guarded one (scripts/bundle_facts.py "
            f"deploy-select, then plan and deploy): {len(guarded)} guarded deploys, "
            f"{len(deploys)} deploys"
        ]
    ((job, match),) = guarded
    problems = []
    planned = {match[k] for k in ("facts", "plan_full", "full", "plan_partial", "partial")}
    if planned != {target}:
        problems.append(
            f"{flow}: the guarded deploy reads, plans or deploys {sorted(planned - {target})}, "
            f"not only {target} (-t {target})"
        )
    facts = [m for m in FACTS_FILE.finditer(job.script) if m["file"] == match["json"]]
    if [m["target"] for m in facts] != [target]:
        problems.append(
            f"{flow}: {match['json']} is not written by `databricks bundle validate -t {target} "
            "-o json` in the same job"
        )
    shown = any(mark in job.script for mark in PLAN_SUMMARIES) or "plan.txt" in job.published
    if not shown or any("plan.txt" not in match[k] for k in ("full_between", "partial_between")):
        problems.append(f"{flow}: the plan of {target} is not shown before the deploy")
    return problems


def quiet_problems(jobs: list[CiJob], event: str) -> list[str]:
    """No job of `event` touches a workspace or gets a token."""
    return [
        f"{event}: {job.name} talks to Databricks or gets a token"
        for job in jobs
        if job.talks_to_databricks or job.credentialed
    ]


def flow_problems(
    pipelines: Pipelines, options: dict[str, str], default_branch: str, release_branch: str
) -> list[str]:
    """The three flows, and nothing that touches a workspace on any other event."""
    return [
        *pull_request_problems(pipelines.triggered(PULL_REQUEST, default_branch), options),
        *quiet_problems(
            pipelines.triggered(PULL_REQUEST, default_branch, fork=True), "a fork's pull request"
        ),
        *staging_problems(pipelines.triggered(PUSH, default_branch), options),
        *prod_problems(pipelines.triggered(PUSH, release_branch)),
        *quiet_problems(pipelines.triggered(PUSH, OTHER_BRANCH), f"a push to {OTHER_BRANCH}"),
        *quiet_problems(
            pipelines.triggered(PULL_REQUEST, OTHER_BRANCH), f"a pull request to {OTHER_BRANCH}"
        ),
    ]


def pipeline_problems(
    pipelines: Pipelines,
    project: Path,
    options: dict[str, str],
    *,
    auth_type: str,
    default_branch: str,
    release_branch: str,
) -> list[str]:
    """Every shared check, for one rendering."""
    jobs = pipelines.jobs()
    return [
        *command_problems(
            jobs, bundle_targets(project), resource_jobs(project), expected_jobs(options)
        ),
        *job_problems(jobs, auth_type),
        *flow_problems(pipelines, options, default_branch, release_branch),
        *guarded_deploy_problems(
            pipelines.triggered(PUSH, default_branch), "staging", "default branch"
        ),
        *guarded_deploy_problems(
            pipelines.triggered(PUSH, release_branch), "prod", "release branch"
        ),
    ]


def as_list(value: Any) -> list[Any]:
    """A YAML value that may be one item or a list of them, as a list."""
    if value is None:
        return []
    return value if isinstance(value, list) else [value]
