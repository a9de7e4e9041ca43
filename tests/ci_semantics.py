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

Where a target has a Lakehouse monitor (staging and prod, with monitoring), its deploy checks that
the monitored table exists and otherwise deploys every other resource (`--select`): a monitor
cannot be created on a table that batch inference has not written yet. That guarded step counts
as one deploy in the flows above.
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
            elif token in VALUE_FLAGS:
                next(rest, None)
            elif token.startswith("-"):
                self.flags.add(token)
            else:
                self.args.append(token)

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
    """The commands with the `--select` alternative of a deploy left out: the guarded deploy of a
    target with a Lakehouse monitor (a full deploy, else a `--select` one) is one step."""
    kept: list[BundleCommand] = []
    for command in commands:
        previous = kept[-1] if kept else None
        if (
            command.verb == "deploy"
            and command.select is not None
            and previous is not None
            and (previous.verb, previous.target, previous.job, previous.select)
            == ("deploy", command.target, command.job, None)
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
    commands = [command for job in jobs for command in job.commands]
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
    if verbs != ["validate", "deploy", *["run"] * len(runs)]:
        problems.append(f"default branch: {verbs}, not validate, deploy, {len(runs)} runs")
    if [c.args[0] if c.args else "" for c in commands if c.verb == "run"] != runs:
        problems.append(f"default branch: does not run the lifecycle {runs}")
    return problems


def prod_problems(jobs: list[CiJob]) -> list[str]:
    """Validate and deploy prod, with the prod credentials, and nothing else."""
    commands = steps([command for job in jobs for command in job.commands])
    problems = [
        f"release branch: {c.job}: {c} is not a validate or deploy of prod"
        for c in commands
        if c.target != "prod" or c.verb not in ("validate", "deploy")
    ]
    problems += [
        f"release branch: {job.name} gets {job.credentials} credentials"
        for job in jobs
        if job.credentials not in (None, "prod")
    ]
    if [c.verb for c in commands] != ["validate", "deploy"]:
        problems.append(f"release branch: {[c.verb for c in commands]}, not validate, deploy")
    return problems


# The guarded deploy: the monitored table's name, the check (in the target's workspace: without
# `-t` the CLI would ask the bundle's default target), failures other than a missing schema or
# catalog stopping the step, a full deploy if the table exists, else every other resource (an
# optional message between).
GUARDED_DEPLOY = re.compile(
    r"^[ \t]*table=(?P<table>\S+)\n"
    r"(?:[ \t]*#.*\n)?"
    r"[ \t]*found=\"\$\(databricks tables exists \"\$table\""
    r"(?: -t (?P<checked>\S+))? -o json 2>&1\)\" "
    r"\|\| case \"\$found\" in\n"
    r"[ \t]*(?P<tolerated>\S+)\) ;;\n"
    r"[ \t]*\*\) echo \"\$found\" >&2; exit 1 ;;\n"
    r"[ \t]*esac\n"
    r"[ \t]*if printf '%s' \"\$found\" \| grep -q '\"table_exists\": \*true'; then\n"
    r"[ \t]*databricks bundle deploy -t (?P<full>\S+)\n"
    r"[ \t]*else\n"
    r"(?:[ \t]*echo .*\n)?"
    r"[ \t]*databricks bundle deploy -t (?P<partial>\S+) --select (?P<select>\S+)\n"
    r"[ \t]*fi$",
    re.MULTILINE,
)


@dataclass(frozen=True)
class MonitoredBundle:
    """A target's resources, as the CLI would deploy them, and the tables its monitors need."""

    resources: set[str]  # every resource key
    monitors: dict[str, str]  # quality monitor key -> its table


def monitored_bundle(project: Path, target: str) -> MonitoredBundle:
    from bundle_checks import loader  # the generated project's own loader

    bundle = loader().load_bundle(project, target, keep_unresolved=True)
    monitors = bundle.resources.get("quality_monitors") or {}
    return MonitoredBundle(
        resources={key for _kind, key, _body in bundle.iter_resources()},
        monitors={key: str(body["table_name"]) for key, body in monitors.items()},
    )


def monitor_problems(
    jobs: list[CiJob], bundle: MonitoredBundle, target: str, flow: str
) -> list[str]:
    """Where the target has a Lakehouse monitor, its deploy first checks the monitored table and,
    while it is missing, deploys exactly every other resource; without one, nothing is left out."""
    deploys = [c for job in jobs for c in job.commands if c.verb == "deploy" and c.target == target]
    if not bundle.monitors:
        return [
            f"{flow}: {c.job}: deploys only {sorted(c.select)} but {target} has no monitor"
            for c in deploys
            if c.select is not None
        ]
    (table, *others) = sorted(set(bundle.monitors.values()))
    guarded = [m for job in jobs for m in GUARDED_DEPLOY.finditer(job.script)]
    if others or len(guarded) != 1 or len(deploys) != 2:
        return [
            f"{flow}: the deploy of {target} does not check that {table} exists before it "
            f"deploys the Lakehouse monitor ({len(guarded)} guarded deploys, {len(deploys)} "
            "deploys)"
        ]
    (match,) = guarded
    problems = []
    if match["table"] != table:
        problems.append(f"{flow}: checks {match['table']}, not the monitored table {table}")
    if (match["full"], match["partial"]) != (target, target):
        problems.append(f"{flow}: the guarded deploy is not of {target} in both branches")
    if match["checked"] != target:
        problems.append(
            f"{flow}: the table check runs in {match['checked'] or 'the default target'}'s "
            f"workspace, not {target}'s (-t {target})"
        )
    if match["tolerated"] != "*_DOES_NOT_EXIST*":
        problems.append(
            f"{flow}: a failed table check passes as a missing table ({match['tolerated']}), "
            "not only a missing schema or catalog"
        )
    selected = set(filter(None, match["select"].split(",")))
    expected = bundle.resources - set(bundle.monitors)
    if expected - selected:
        problems.append(f"{flow}: --select misses {sorted(expected - selected)}")
    if selected - expected:
        problems.append(
            f"{flow}: --select names {sorted(selected - expected)}, not a resource but the monitor"
        )
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
        *monitor_problems(
            pipelines.triggered(PUSH, default_branch),
            monitored_bundle(project, "staging"),
            "staging",
            "default branch",
        ),
        *monitor_problems(
            pipelines.triggered(PUSH, release_branch),
            monitored_bundle(project, "prod"),
            "prod",
            "release branch",
        ),
    ]


def as_list(value: Any) -> list[Any]:
    """A YAML value that may be one item or a list of them, as a list."""
    if value is None:
        return []
    return value if isinstance(value, list) else [value]
