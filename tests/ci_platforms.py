"""Read each CI/CD platform's pipeline files into the records of tests/ci_semantics.py.

One adapter per value of the `cicd_platform` option. Each knows where its files are, how to check
them against the platform's published JSON schema (offline, with check-jsonschema's built-in
copies), which DATABRICKS_AUTH_TYPE its keyless login uses, and which jobs an event starts:
- GitHub Actions: the `on:` filters of each workflow; a fork's pull request skips the jobs gated on
  the `credentials` job;
- Azure Pipelines: the `trigger:` and `pr:` of each pipeline file (absent means every branch), and
  the fork condition on System.PullRequest.IsFork;
- GitLab CI: the `workflow:rules` and each job's `rules:`, evaluated for the predefined variables
  that GitLab sets for the event.
A job that needs a job which does not run does not run either.
"""

from __future__ import annotations

import copy
import fnmatch
import re
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from ci_semantics import PULL_REQUEST, PUSH, CiJob, as_list

BIN = Path(sys.executable).parent


def tool(name: str, *args: str | Path) -> subprocess.CompletedProcess[str]:
    executable = BIN / name
    assert executable.exists(), f"{name} is not installed next to {sys.executable}"
    return subprocess.run(
        [str(executable), *map(str, args)], capture_output=True, text=True, timeout=300, check=False
    )


def runnable(jobs: list[CiJob], started: set[str]) -> list[CiJob]:
    """The started jobs whose needs all run too (a job waiting for a skipped job is skipped)."""
    running = set(started)
    changed = True
    while changed:
        changed = False
        for job in jobs:
            if job.name in running and not job.needs <= running:
                running.discard(job.name)
                changed = True
    return [job for job in jobs if job.name in running]


def branch_matches(patterns: list[str], branch: str) -> bool:
    return any(fnmatch.fnmatchcase(branch, str(pattern)) for pattern in patterns)


def minutes(value: Any) -> int | None:
    """A timeout as whole minutes ("150", 150 or GitLab's "150 minutes")."""
    match = re.fullmatch(r"\s*(\d+)\s*(?:m|min|minutes?)?\s*", str(value)) if value else None
    return int(match.group(1)) if match else None


# --------------------------------------------------------------------------------------------
# GitHub Actions
# --------------------------------------------------------------------------------------------

GITHUB_WORKFLOWS = Path(".github/workflows")
CREDENTIALS_GATE = "needs.credentials.outputs.available"


def github_triggers(workflow: dict[str, Any]) -> dict[str, Any]:
    """The `on:` mapping (YAML 1.1 reads a bare `on` key as True), normalised to a dict."""
    on = workflow.get("on", workflow.get(True))
    if isinstance(on, str):
        return {on: {}}
    if isinstance(on, list):
        return {event: {} for event in on}
    return {event: (config or {}) for event, config in on.items()}


class GitHubPipelines:
    def __init__(self, project: Path) -> None:
        self.workflows = {
            path.name: yaml.safe_load(path.read_text())
            for path in sorted((project / GITHUB_WORKFLOWS).glob("*.y*ml"))
        }

    def _jobs(self, name: str, workflow: dict[str, Any]) -> list[CiJob]:
        jobs = []
        for job_id, job in workflow["jobs"].items():
            steps = job.get("steps", [])
            concurrency = job.get("concurrency")
            env = job.get("env") or {}
            jobs.append(
                CiJob(
                    name=f"{name}:{job_id}",
                    script="\n".join(
                        str(s.get("run", "")) for s in steps if s.get("if") != "always()"
                    ),
                    always_script="\n".join(
                        str(s.get("run", "")) for s in steps if s.get("if") == "always()"
                    ),
                    environment=job.get("environment"),
                    credentials=job.get("environment"),
                    credentialed=(job.get("permissions") or {}).get("id-token") == "write",
                    auth_type=env.get("DATABRICKS_AUTH_TYPE"),
                    lock=str(concurrency.get("group")) if isinstance(concurrency, dict) else None,
                    cancellable=not isinstance(concurrency, dict)
                    or concurrency.get("cancel-in-progress") is not False,
                    needs={f"{name}:{need}" for need in as_list(job.get("needs"))},
                    timeout_minutes=minutes(job.get("timeout-minutes")),
                )
            )
        return jobs

    def jobs(self) -> list[CiJob]:
        return [job for name, wf in self.workflows.items() for job in self._jobs(name, wf)]

    def triggered(self, event: str, branch: str, *, fork: bool = False) -> list[CiJob]:
        started: list[CiJob] = []
        for name, workflow in self.workflows.items():
            config = github_triggers(workflow).get(event)
            if config is None or not branch_matches(config.get("branches", ["*"]), branch):
                continue
            jobs = self._jobs(name, workflow)
            gated = {
                f"{name}:{job_id}"
                for job_id, job in workflow["jobs"].items()
                if fork and CREDENTIALS_GATE in str(job.get("if", ""))
            }
            started += runnable(jobs, {job.name for job in jobs} - gated)
        return started


# --------------------------------------------------------------------------------------------
# Azure Pipelines
# --------------------------------------------------------------------------------------------

AZURE_PIPELINES = Path(".azure-pipelines")
NOT_A_FORK = "ne(variables['System.PullRequest.IsFork'], 'True')"
ONLY_A_FORK = "eq(variables['System.PullRequest.IsFork'], 'True')"


def azure_branches(trigger: Any) -> list[str] | None:
    """The branches a `trigger:` or `pr:` value includes: None for `none`; absent means all."""
    if trigger is None:
        return ["*"]
    if trigger == "none":
        return None
    if isinstance(trigger, list):
        return [str(b) for b in trigger]
    return [str(b) for b in (trigger.get("branches") or {}).get("include", ["*"])]


def azure_variables(variables: Any) -> tuple[dict[str, str], list[str]]:
    """(name -> value, variable groups) of a `variables:` mapping or list."""
    if isinstance(variables, dict):
        return {str(k): str(v) for k, v in variables.items()}, []
    values, groups = {}, []
    for item in as_list(variables):
        if "group" in item:
            groups.append(str(item["group"]))
        elif "name" in item:
            values[str(item["name"])] = str(item.get("value", ""))
    return values, groups


class AzurePipelines:
    def __init__(self, project: Path) -> None:
        self.files = {
            path.name: yaml.safe_load(path.read_text())
            for path in sorted((project / AZURE_PIPELINES).glob("*.yml"))
        }

    def _jobs(self, name: str, pipeline: dict[str, Any]) -> list[CiJob]:
        top_values, _ = azure_variables(pipeline.get("variables"))
        sequential = pipeline.get("lockBehavior") == "sequential"
        jobs = []
        for job in pipeline.get("jobs", []):
            job_id = job.get("job") or job.get("deployment")
            if "deployment" in job:
                steps = job["strategy"]["runOnce"]["deploy"]["steps"]
            else:
                steps = job.get("steps", [])
            environment = job.get("environment")
            if isinstance(environment, dict):
                environment = environment.get("name")
            values, groups = azure_variables(job.get("variables"))
            scopes = [g.removeprefix("databricks-") for g in groups if g.startswith("databricks-")]

            def text(step: dict[str, Any]) -> str:
                return str(step.get("script") or step.get("bash") or "")

            jobs.append(
                CiJob(
                    name=f"{name}:{job_id}",
                    script="\n".join(text(s) for s in steps if s.get("condition") != "always()"),
                    always_script="\n".join(
                        text(s) for s in steps if s.get("condition") == "always()"
                    ),
                    environment=environment,
                    credentials=scopes[0] if len(scopes) == 1 else None,
                    credentialed=any("SYSTEM_ACCESSTOKEN" in (s.get("env") or {}) for s in steps),
                    auth_type={**top_values, **values}.get("DATABRICKS_AUTH_TYPE"),
                    lock=f"environment {environment}"
                    if sequential and "deployment" in job and environment
                    else None,
                    needs={f"{name}:{need}" for need in as_list(job.get("dependsOn"))},
                    timeout_minutes=minutes(job.get("timeoutInMinutes")),
                )
            )
        return jobs

    def jobs(self) -> list[CiJob]:
        return [job for name, p in self.files.items() for job in self._jobs(name, p)]

    def triggered(self, event: str, branch: str, *, fork: bool = False) -> list[CiJob]:
        started: list[CiJob] = []
        for name, pipeline in self.files.items():
            key = "pr" if event == PULL_REQUEST else "trigger"
            branches = azure_branches(pipeline.get(key))
            if branches is None or not branch_matches(branches, branch):
                continue
            jobs = self._jobs(name, pipeline)
            skipped = set()
            for job, raw in zip(jobs, pipeline.get("jobs", []), strict=True):
                condition = str(raw.get("condition", ""))
                if (NOT_A_FORK in condition and fork) or (ONLY_A_FORK in condition and not fork):
                    skipped.add(job.name)
            started += runnable(jobs, {job.name for job in jobs} - skipped)
        return started


# --------------------------------------------------------------------------------------------
# GitLab CI
# --------------------------------------------------------------------------------------------

GITLAB_CI = Path(".gitlab-ci.yml")
GITLAB_KEYWORDS = {
    "workflow", "stages", "default", "variables", "include", "image", "services", "cache",
    "before_script", "after_script",
}  # fmt: skip
RULE_TOKEN = re.compile(r"\s*(?:(\$\w+)|\"([^\"]*)\"|'([^']*)'|(==|!=|&&|\|\||\(|\))|(null))")


def evaluate_rule(expression: str, variables: dict[str, str]) -> bool:
    """A GitLab `rules:if` made of $VARIABLES, quoted strings, null, ==, !=, &&, || and
    parentheses (what this template writes), for the given predefined variables."""
    tokens: list[tuple[str, str | None]] = []
    position = 0
    expression = expression.strip()
    while position < len(expression):
        match = RULE_TOKEN.match(expression, position)
        assert match and match.end() > position, f"cannot read {expression[position:]!r}"
        var, dq, sq, op, null = match.groups()
        if var:
            tokens.append(("value", variables.get(var[1:])))
        elif dq is not None or sq is not None:
            tokens.append(("value", dq if dq is not None else sq))
        elif null:
            tokens.append(("value", None))
        else:
            tokens.append(("op", op))
        position = match.end()

    def parse_or(i: int) -> tuple[bool, int]:
        result, i = parse_and(i)
        while i < len(tokens) and tokens[i] == ("op", "||"):
            right, i = parse_and(i + 1)
            result = result or right
        return result, i

    def parse_and(i: int) -> tuple[bool, int]:
        result, i = parse_atom(i)
        while i < len(tokens) and tokens[i] == ("op", "&&"):
            right, i = parse_atom(i + 1)
            result = result and right
        return result, i

    def parse_atom(i: int) -> tuple[bool, int]:
        if tokens[i] == ("op", "("):
            result, i = parse_or(i + 1)
            assert tokens[i] == ("op", ")"), expression
            return result, i + 1
        left = tokens[i][1]
        if i + 1 < len(tokens) and tokens[i + 1] in (("op", "=="), ("op", "!=")):
            right = tokens[i + 2][1]
            equal = (left or None) == (right or None)
            return (equal if tokens[i + 1][1] == "==" else not equal), i + 3
        return bool(left), i + 1

    result, end = parse_or(0)
    assert end == len(tokens), f"cannot read {expression!r}"
    return result


def merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """GitLab's `extends`: mappings merge key by key, anything else is replaced."""
    merged = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def gitlab_event(event: str, branch: str, fork: bool) -> dict[str, str]:
    """The predefined variables GitLab sets for a push or a merge request pipeline."""
    if event == PUSH:
        return {
            "CI_PIPELINE_SOURCE": "push",
            "CI_COMMIT_BRANCH": branch,
            "CI_COMMIT_REF_NAME": branch,
        }
    return {
        "CI_PIPELINE_SOURCE": "merge_request_event",
        "CI_MERGE_REQUEST_TARGET_BRANCH_NAME": branch,
        "CI_MERGE_REQUEST_SOURCE_BRANCH_NAME": "some-change",
        "CI_COMMIT_REF_NAME": "some-change",
        "CI_MERGE_REQUEST_PROJECT_ID": "1",
        "CI_MERGE_REQUEST_SOURCE_PROJECT_ID": "2" if fork else "1",
    }


def rules_decide(rules: list[dict[str, Any]], variables: dict[str, str]) -> str | None:
    """The `when` of the first matching rule (None: no rule matches, the job is not added)."""
    for rule in rules:
        if "if" not in rule or evaluate_rule(str(rule["if"]), variables):
            return str(rule.get("when", "on_success"))
    return None


class GitLabPipelines:
    def __init__(self, project: Path) -> None:
        self.config = yaml.safe_load((project / GITLAB_CI).read_text())
        self.definitions = {
            name: self._resolve(name)
            for name in self.config
            if name not in GITLAB_KEYWORDS and not name.startswith(".")
        }

    def _resolve(self, name: str) -> dict[str, Any]:
        job = self.config[name]
        resolved: dict[str, Any] = {}
        for parent in as_list(job.get("extends")):
            resolved = merge(resolved, self._resolve(parent))
        return merge(resolved, {k: v for k, v in job.items() if k != "extends"})

    def _job(self, name: str, job: dict[str, Any]) -> CiJob:
        environment = job.get("environment")
        if isinstance(environment, dict):
            environment = environment.get("name")
        variables = {**(self.config.get("variables") or {}), **(job.get("variables") or {})}
        return CiJob(
            name=name,
            script="\n".join(map(str, [*as_list(job.get("before_script")), *job["script"]])),
            always_script="\n".join(map(str, as_list(job.get("after_script")))),
            environment=environment,
            credentials=environment,
            credentialed=bool(job.get("id_tokens")),
            auth_type=variables.get("DATABRICKS_AUTH_TYPE"),
            lock=job.get("resource_group"),
            cancellable=job.get("interruptible") is True,
            needs={n["job"] if isinstance(n, dict) else str(n) for n in as_list(job.get("needs"))},
            timeout_minutes=minutes(job.get("timeout")),
            published=set(map(str, as_list((job.get("artifacts") or {}).get("paths")))),
        )

    def jobs(self) -> list[CiJob]:
        return [self._job(name, job) for name, job in self.definitions.items()]

    def triggered(self, event: str, branch: str, *, fork: bool = False) -> list[CiJob]:
        variables = gitlab_event(event, branch, fork)
        workflow = (self.config.get("workflow") or {}).get("rules")
        if workflow is not None and rules_decide(workflow, variables) in (None, "never"):
            return []
        jobs = self.jobs()
        started = {
            name
            for name, job in self.definitions.items()
            if rules_decide(job.get("rules", [{}]), variables) not in (None, "never")
        }
        return runnable(jobs, started)


# --------------------------------------------------------------------------------------------
# The platforms
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Platform:
    name: str  # the value of cicd_platform
    auth_type: str  # the keyless DATABRICKS_AUTH_TYPE
    files: Callable[[Path], list[Path]]  # the pipeline files that the schema covers
    schema_args: tuple[str, ...]
    load: Callable[[Path], Any]

    def schema_check(self, project: Path) -> subprocess.CompletedProcess[str]:
        return tool("check-jsonschema", *self.schema_args, *self.files(project))


PLATFORMS: dict[str, Platform] = {
    "github_actions": Platform(
        name="github_actions",
        auth_type="github-oidc",
        files=lambda project: sorted((project / GITHUB_WORKFLOWS).glob("*.y*ml")),
        schema_args=("--builtin-schema", "vendor.github-workflows"),
        load=GitHubPipelines,
    ),
    "azure_devops": Platform(
        name="azure_devops",
        auth_type="azure-devops-oidc",
        files=lambda project: sorted((project / AZURE_PIPELINES).rglob("*.yml")),
        # The Azure Pipelines schema's patterns are not valid in unicode mode
        # (python-jsonschema/check-jsonschema#550), and its template expressions need the
        # azure-pipelines transform.
        schema_args=(
            "--builtin-schema",
            "vendor.azure-pipelines",
            "--regex-variant",
            "nonunicode",
            "--data-transform",
            "azure-pipelines",
        ),
        load=AzurePipelines,
    ),
    "gitlab": Platform(
        name="gitlab",
        auth_type="env-oidc",
        files=lambda project: [project / GITLAB_CI],
        schema_args=("--builtin-schema", "vendor.gitlab-ci"),
        load=GitLabPipelines,
    ),
}
