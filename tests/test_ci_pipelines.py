"""The CI/CD pipelines of every rendering, whatever its `cicd_platform`: the platform's JSON schema
and the shared semantics of tests/ci_semantics.py (branches from the options, targets and jobs that
exist, the lifecycle in order, prod only from the release branch, serialised deploys, keyless
credentials only where needed, nothing for forks). GitHub's own extra checks (actionlint, zizmor,
hardening) are in tests/test_workflows.py.

The deploys of staging and prod leave the Lakehouse monitor out while its table is missing:
`scripts/bundle_facts.py` reads which resources to deploy from `bundle validate -o json`; what it
selects is checked here for every combination of the options that add resources, on the bundle
the generated loader resolves.

The mutation tests change a good rendering of each platform and show that each shared check fails
on what it guards against.
"""

from __future__ import annotations

import itertools
import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from ci_platforms import AZURE_PIPELINES, GITLAB_CI, PLATFORMS, GitLabPipelines
from ci_semantics import lifecycle_jobs, pipeline_problems
from conftest import COOKIECUTTER_JSON, DEFAULT_COMBINATION, Renderings, render
from test_bundle import OPTION_RESOURCES

DEFAULT_BRANCH = COOKIECUTTER_JSON["default_branch"]
RELEASE_BRANCH = COOKIECUTTER_JSON["release_branch"]
CLI_VERSION = re.compile(r'DATABRICKS_CLI_VERSION: "(\d+\.\d+\.\d+)"')


def problems(
    project: Path,
    options: dict[str, str],
    default_branch: str = DEFAULT_BRANCH,
    release_branch: str = RELEASE_BRANCH,
) -> list[str]:
    platform = PLATFORMS[options["cicd_platform"]]
    return pipeline_problems(
        platform.load(project),
        project,
        options,
        auth_type=platform.auth_type,
        default_branch=default_branch,
        release_branch=release_branch,
    )


def test_every_platform_has_an_adapter() -> None:
    assert sorted(PLATFORMS) == sorted(COOKIECUTTER_JSON["cicd_platform"])


def test_pipelines_match_the_platform_schema(rendered: tuple[dict[str, str], Path]) -> None:
    options, project = rendered
    proc = PLATFORMS[options["cicd_platform"]].schema_check(project)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_pipelines_run_the_three_flows(rendered: tuple[dict[str, str], Path]) -> None:
    options, project = rendered
    assert problems(project, options) == []


@pytest.mark.parametrize("platform", sorted(PLATFORMS))
def test_branch_names_come_from_options(platform: str, tmp_path: Path) -> None:
    """Other branch names reach every flow, and the default names then start nothing."""
    options = {**DEFAULT_COMBINATION, "cicd_platform": platform}
    project = render(tmp_path, **options, default_branch="trunk", release_branch="production")
    assert problems(project, options, "trunk", "production") == []
    stale = problems(project, options)
    assert any("pull request: expected one lint" in p for p in stale), stale
    assert any("release branch: [], not validate, plan, deploy" in p for p in stale), stale


def test_cli_is_pinned_in_one_place(rendered: tuple[dict[str, str], Path]) -> None:
    """Azure Pipelines and GitLab install the CLI from one place that pins its version; every job
    that talks to Databricks goes through it (GitHub: tests/test_workflows.py). The README's
    manual install names the same version."""
    options, project = rendered
    platform = PLATFORMS[options["cicd_platform"]]
    readme = (project / "README.md").read_text()
    if platform.name == "github_actions":
        action = (project / ".github/actions/setup-databricks-cli/action.yml").read_text()
        (version,) = re.findall(r"version: (\d+\.\d+\.\d+)", action)
    else:
        texts = {path: path.read_text() for path in platform.files(project)}
        pins = [(path, v) for path, text in texts.items() for v in CLI_VERSION.findall(text)]
        assert len(pins) == 1, pins
        ((pin_file, version),) = pins
        assert [p for p, text in texts.items() if "releases/download" in text] == [pin_file]
        if platform.name == "azure_devops":
            for path in (project / AZURE_PIPELINES).glob("*.yml"):
                for job in yaml.safe_load(path.read_text())["jobs"]:
                    steps = str(job)
                    if "databricks bundle" in steps:
                        assert "templates/setup-databricks-cli.yml" in steps, job
        else:
            config = yaml.safe_load((project / GITLAB_CI).read_text())
            tokens = config[".databricks"]["id_tokens"]
            assert tokens == {"DATABRICKS_OIDC_TOKEN": {"aud": "$DATABRICKS_ACCOUNT_ID"}}
            for job in GitLabPipelines(project).jobs():
                assert job.talks_to_databricks == ("databricks" in str(config[job.name])), job
                if job.talks_to_databricks:
                    assert config[job.name].get("extends") == ".databricks", job.name
    assert f"now {version}" in readme and f"v{version}" in readme
    # The release whose bundle schema the template's checks use (tests/schemas/README.md).
    assert version == COOKIECUTTER_JSON["__databricks_cli_version"]


@pytest.mark.parametrize("platform", ["azure_devops", "gitlab"])
def test_ci_cd_doc_covers_the_chosen_platform(platform: str, renderings: Renderings) -> None:
    options = {**DEFAULT_COMBINATION, "cicd_platform": platform}
    doc = (renderings.get(options) / "docs" / "ci-cd.md").read_text()
    shared = (
        "service-principal-federation-policy", "DATABRICKS_AUTH_TYPE", "DATABRICKS_HOST",
        "DATABRICKS_CLIENT_ID", "GRANT", "Cutting a release", "fork",
        ", ".join(f"`{job}`" for job in lifecycle_jobs(options)),
    )  # fmt: skip
    specific = {
        "azure_devops": (
            "azure-devops-oidc", "https://vstoken.dev.azure.com/", "api://AzureADTokenExchange",
            "p://<organization>/<project>/taxi-fare-regression-deploy-prod", "databricks-prod",
            "Exclusive lock", "Approvals", "Branch control", "System.PullRequest.IsFork",
        ),
        "gitlab": (
            "env-oidc", "DATABRICKS_OIDC_TOKEN", "DATABRICKS_ACCOUNT_ID", "project_path",
            "ref_type:branch:ref:release", "resource_group", "Protected environments",
        ),
    }[platform]  # fmt: skip
    for needed in (*shared, *specific):
        assert needed in doc, needed
    assert "GitHub environment" not in doc and "github-oidc" not in doc


# Options whose "yes" adds resources to every target (the monitor's own option aside).
RESOURCE_OPTIONS = sorted(set(OPTION_RESOURCES) - {"include_monitoring"})
RESOURCE_VALUES = list(itertools.product(("yes", "no"), repeat=len(RESOURCE_OPTIONS)))
# A stand-in `databricks` for `tables exists`: the table is missing.
MISSING_TABLE_CLI = (
    "import sys\n"
    'print("Error: TABLE_DOES_NOT_EXIST: no such table", file=sys.stderr)\n'
    "sys.exit(1)\n"
)


def bundle_json(project: Path, target: str, path: Path) -> Path:
    """What `databricks bundle validate -t <target> -o json` gives, from the generated loader."""
    from bundle_checks import loader

    bundle = loader().load_bundle(project, target, keep_unresolved=True)
    variables = {name: {"value": value} for name, value in bundle.variables.items()}
    path.write_text(
        json.dumps({"resources": bundle.resources, "variables": variables}, default=str)
    )
    return path


@pytest.mark.parametrize(
    "values", RESOURCE_VALUES, ids=["-".join(values) for values in RESOURCE_VALUES]
)
def test_the_deploy_without_the_monitor_selects_every_other_resource(
    values: tuple[str, ...], renderings: Renderings, tmp_path: Path
) -> None:
    """For every combination of the options that add resources (the pairwise cover has only
    some), staging and prod deploy every resource but the monitor while its table is missing."""
    from bundle_checks import loader

    options = {
        **DEFAULT_COMBINATION,
        "include_monitoring": "yes",
        **dict(zip(RESOURCE_OPTIONS, values, strict=True)),
    }
    project = renderings.get(options)
    assert problems(project, options) == []
    cli = tmp_path / "bin" / "databricks"
    cli.parent.mkdir()
    cli.write_text(f"#!{sys.executable}\n{MISSING_TABLE_CLI}")
    cli.chmod(0o755)
    env = {**os.environ, "PATH": f"{cli.parent}{os.pathsep}{os.environ['PATH']}"}
    for target in ("staging", "prod"):
        bundle = loader().load_bundle(project, target, keep_unresolved=True)
        monitors = set(bundle.resources["quality_monitors"])
        expected = [key for _kind, key, _body in bundle.iter_resources() if key not in monitors]
        done = subprocess.run(
            [
                sys.executable,
                str(project / "scripts" / "bundle_facts.py"),
                "deploy-select",
                str(bundle_json(project, target, tmp_path / f"{target}.json")),
                "-t",
                target,
            ],
            capture_output=True,
            text=True,
            env=env,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        assert done.stdout.strip().split(",") == expected
        assert monitors and all(key not in expected for key in monitors)


# --------------------------------------------------------------------------------------------
# Each shared check bites, on every platform
# --------------------------------------------------------------------------------------------

GITHUB_STAGING = ".github/workflows/deploy-staging.yml"
GITHUB_PROD = ".github/workflows/deploy-prod.yml"
GITHUB_CI = ".github/workflows/ci.yml"
AZURE_CI = ".azure-pipelines/ci.yml"
AZURE_STAGING = ".azure-pipelines/deploy-staging.yml"
AZURE_PROD = ".azure-pipelines/deploy-prod.yml"
GITLAB = ".gitlab-ci.yml"


@dataclass(frozen=True)
class Edit:
    file: str
    old: str
    new: str
    count: int = -1  # how many occurrences to replace (-1: all)


# check -> (the problem it reports, the edit that provokes it on each platform)
MUTATIONS: dict[str, tuple[str, dict[str, tuple[Edit, ...]]]] = {
    "undefined target": (
        "target 'qa' not in databricks.yml",
        {
            "github_actions": (Edit(GITHUB_STAGING, "deploy -t staging", "deploy -t qa"),),
            "azure_devops": (Edit(AZURE_STAGING, "deploy -t staging", "deploy -t qa"),),
            "gitlab": (Edit(GITLAB, "deploy -t staging", "deploy -t qa"),),
        },
    ),
    "undefined job": (
        "job 'trainig_job' is not defined in resources/",
        {
            "github_actions": (
                Edit(GITHUB_STAGING, "staging training_job", "staging trainig_job"),
            ),
            "azure_devops": (Edit(AZURE_STAGING, "staging training_job", "staging trainig_job"),),
            "gitlab": (Edit(GITLAB, "staging training_job", "staging trainig_job"),),
        },
    ),
    "lifecycle order": (
        "not the lifecycle",
        {
            "github_actions": (Edit(GITHUB_CI, "test training_job", "test rollback_job"),),
            "azure_devops": (Edit(AZURE_CI, "test training_job", "test rollback_job"),),
            "gitlab": (Edit(GITLAB, "test training_job", "test rollback_job"),),
        },
    ),
    "prod validated from a pull request": (
        "not exactly staging",
        {
            "github_actions": (Edit(GITHUB_CI, "validate -t staging", "validate -t prod"),),
            "azure_devops": (Edit(AZURE_CI, "validate -t staging", "validate -t prod"),),
            "gitlab": (Edit(GITLAB, "- databricks bundle validate -t staging", "- true", 1),),
        },
    ),
    "prod deployed outside the release flow": (
        "is not allowed",
        {
            "github_actions": (
                Edit(
                    ".github/workflows/deploy-prod.yml",
                    "on:\n  push:",
                    'on:\n  pull_request:\n    branches: ["main"]\n  push:',
                ),
            ),
            "azure_devops": (Edit(AZURE_PROD, "pr: none\n", ""),),
            "gitlab": (
                Edit(
                    GITLAB,
                    '- if: $CI_PIPELINE_SOURCE == "push" && $CI_COMMIT_BRANCH == "release"\n'
                    "      when: manual",
                    '- if: $CI_PIPELINE_SOURCE == "merge_request_event"',
                ),
            ),
        },
    ),
    "destroy not always run": (
        "the destroy of test does not always run",
        {
            "github_actions": (
                Edit(
                    GITHUB_CI,
                    "if: always()\n        run: databricks bundle destroy",
                    "run: databricks bundle destroy",
                ),
            ),
            "azure_devops": (
                Edit(
                    AZURE_CI,
                    "destroy -t test\n              condition: always()",
                    "destroy -t test",
                ),
            ),
            "gitlab": (
                Edit(
                    GITLAB,
                    "  # after_script runs whether the script passed, failed or was cancelled.\n"
                    "  after_script:\n",
                    "",
                ),
            ),
        },
    ),
    "serving endpoint cleanup without serving": (
        "1 serving endpoint deletions that always run",
        {
            platform: (
                Edit(
                    file,
                    "destroy -t test --auto-approve --force-lock",
                    "destroy -t test --auto-approve --force-lock; "
                    "databricks serving-endpoints delete x-test || true",
                ),
            )
            for platform, file in (
                ("github_actions", GITHUB_CI),
                ("azure_devops", AZURE_CI),
                ("gitlab", GITLAB),
            )
        },
    ),
    "integration before the unit tests": (
        "does not wait for the unit tests and validation",
        {
            "github_actions": (
                Edit(GITHUB_CI, "[credentials, unit-tests, validate]", "[credentials, validate]"),
            ),
            "azure_devops": (Edit(AZURE_CI, "[unit_tests, validate]", "[validate]"),),
            "gitlab": (Edit(GITLAB, "[unit-tests, validate]", "[validate]"),),
        },
    ),
    "unserialised deploy": (
        "no lock that serialises deploys of staging",
        {
            "github_actions": (
                Edit(GITHUB_STAGING, "group: databricks-bundle-staging", "group: deploys"),
            ),
            "azure_devops": (Edit(AZURE_STAGING, "lockBehavior: sequential\n", ""),),
            "gitlab": (Edit(GITLAB, "  resource_group: databricks-bundle-staging\n", ""),),
        },
    ),
    # (Azure Pipelines has no setting by which a newer run cancels a running deployment.)
    "cancellable deploy": (
        "could be cancelled halfway",
        {
            "github_actions": (
                Edit(
                    GITHUB_STAGING,
                    "cancel-in-progress: false\n    permissions:",
                    "cancel-in-progress: true\n    permissions:",
                ),
            ),
            "gitlab": (Edit(GITLAB, "interruptible: false", "interruptible: true"),),
        },
    ),
    "deploy outside the target's environment": (
        "deploys staging outside environment 'staging'",
        {
            "github_actions": (Edit(GITHUB_STAGING, "environment: staging", "environment: test"),),
            "azure_devops": (Edit(AZURE_STAGING, "environment: staging", "environment: test"),),
            "gitlab": (Edit(GITLAB, "name: staging", "name: test"),),
        },
    ),
    "workspace job for a fork": (
        "a fork's pull request: ",
        {
            "github_actions": (
                Edit(
                    GITHUB_CI,
                    "    if: needs.credentials.outputs.available == 'true'\n"
                    "    runs-on: ubuntu-latest\n    timeout-minutes: 15",
                    "    runs-on: ubuntu-latest\n    timeout-minutes: 15",
                ),
            ),
            "azure_devops": (
                Edit(
                    AZURE_CI,
                    "condition: and(succeeded(), ne(variables['System.PullRequest.IsFork'], "
                    "'True'))",
                    "condition: succeeded()",
                    1,
                ),
            ),
            "gitlab": (
                Edit(
                    GITLAB,
                    " && $CI_MERGE_REQUEST_SOURCE_PROJECT_ID == $CI_MERGE_REQUEST_PROJECT_ID",
                    "",
                    1,
                ),
            ),
        },
    ),
    "branch filter not from the options": (
        "default branch: [], not validate, plan, deploy",
        {
            "github_actions": (Edit(GITHUB_STAGING, '["main"]', '["develop"]'),),
            "azure_devops": (Edit(AZURE_STAGING, "      - main", "      - develop"),),
            "gitlab": (
                Edit(GITLAB, '$CI_COMMIT_BRANCH == "main"', '$CI_COMMIT_BRANCH == "develop"'),
            ),
        },
    ),
    "secret-based or no keyless auth": (
        "DATABRICKS_AUTH_TYPE is not",
        {
            "github_actions": (Edit(GITHUB_STAGING, "github-oidc", "oauth-m2m"),),
            "azure_devops": (Edit(AZURE_STAGING, "azure-devops-oidc", "oauth-m2m"),),
            "gitlab": (
                Edit(GITLAB, "DATABRICKS_AUTH_TYPE: env-oidc", "DATABRICKS_AUTH_TYPE: pat"),
            ),
        },
    ),
    "token for a job that needs none": (
        "gets a token but does not talk to Databricks",
        {
            "github_actions": (
                Edit(
                    GITHUB_CI,
                    "    name: Lint (ruff)\n",
                    "    name: Lint (ruff)\n    permissions:\n      id-token: write\n",
                ),
            ),
            "azure_devops": (
                Edit(
                    AZURE_CI,
                    "displayName: ruff check\n",
                    "displayName: ruff check\n        env:\n"
                    "          SYSTEM_ACCESSTOKEN: $(System.AccessToken)\n",
                ),
            ),
            "gitlab": (
                Edit(
                    GITLAB,
                    "lint:\n  stage: check\n",
                    "lint:\n  stage: check\n  id_tokens:\n    TOKEN:\n      aud: x\n",
                ),
            ),
        },
    ),
    "plan not shown": (
        "release branch: the plan of prod is not shown before the deploy",
        {
            "github_actions": (Edit(GITHUB_PROD, '>> "$GITHUB_STEP_SUMMARY"', "> /dev/null"),),
            "azure_devops": (
                Edit(AZURE_PROD, 'echo "##vso[task.uploadsummary]$(pwd)/plan.md"', "true"),
            ),
            "gitlab": (Edit(GITLAB, "    paths: [plan.txt]\n", "    paths: [bundle.json]\n"),),
        },
    ),
    "selection read in another target's workspace": (
        "release branch: the guarded deploy reads, plans or deploys ['staging'], not only prod",
        {
            platform: (
                Edit(
                    file,
                    "deploy-select bundle.json -t prod",
                    "deploy-select bundle.json -t staging",
                ),
            )
            for platform, file in (
                ("github_actions", GITHUB_PROD),
                ("azure_devops", AZURE_PROD),
                ("gitlab", GITLAB),
            )
        },
    ),
    "selection from a bundle JSON nobody wrote": (
        "default branch: bundle.json is not written by `databricks bundle validate -t staging",
        {
            platform: (
                Edit(file, "validate -t staging -o json > bundle.json", "validate -t staging"),
            )
            for platform, file in (
                ("github_actions", GITHUB_STAGING),
                ("azure_devops", AZURE_STAGING),
                ("gitlab", GITLAB),
            )
        },
    ),
    "deploy without a plan": (
        "default branch: the deploy of staging is not the guarded one",
        {
            platform: (
                Edit(file, "databricks bundle plan -t staging > plan.txt", "true > plan.txt"),
            )
            for platform, file in (
                ("github_actions", GITHUB_STAGING),
                ("azure_devops", AZURE_STAGING),
                ("gitlab", GITLAB),
            )
        },
    ),
    "job without a timeout": (
        "lint: no timeout",
        {
            "github_actions": (Edit(GITHUB_CI, "    timeout-minutes: 10\n", "", 1),),
            "azure_devops": (Edit(AZURE_CI, '    timeoutInMinutes: "10"\n', "", 1),),
            "gitlab": (Edit(GITLAB, "  timeout: 10 minutes\n", "", 1),),
        },
    ),
}
CASES = [(check, platform) for check, (_, edits) in MUTATIONS.items() for platform in edits]


def apply(project: Path, edit: Edit) -> None:
    path = project / edit.file
    text = path.read_text()
    assert edit.old in text, f"{edit.old!r} not in {edit.file}"
    path.write_text(text.replace(edit.old, edit.new, edit.count))


@pytest.mark.parametrize(("check", "platform"), CASES, ids=[f"{c}-{p}" for c, p in CASES])
def test_each_check_bites(
    check: str, platform: str, renderings: Renderings, tmp_path: Path
) -> None:
    options = {**DEFAULT_COMBINATION, "cicd_platform": platform}
    source = renderings.get(options)
    shutil.copytree(source, tmp_path / "project")
    project = tmp_path / "project"
    assert problems(project, options) == []
    expected, edits = MUTATIONS[check]
    for edit in edits[platform]:
        apply(project, edit)
    found = problems(project, options)
    assert any(expected in problem for problem in found), found


@pytest.mark.parametrize("platform", sorted(PLATFORMS))
def test_optional_job_the_options_lack_fails(platform: str, renderings: Renderings) -> None:
    """A pipeline that runs the feature refresh for a project without the feature store."""
    options = {**DEFAULT_COMBINATION, "cicd_platform": platform}
    project = renderings.get(options)
    assert "feature_refresh_job" in "".join(
        path.read_text() for path in PLATFORMS[platform].files(project)
    )
    found = problems(project, {**options, "include_feature_store": "no"})
    assert any("'feature_refresh_job' does not exist for these options" in p for p in found)


SCHEMA_BREAKS = {
    "github_actions": Edit(GITHUB_STAGING, "timeout-minutes: ", "timeout-minutes: soon #"),
    "azure_devops": Edit(AZURE_PROD, "    environment: prod", "    environmnt: prod"),
    "gitlab": Edit(GITLAB, "resource_group: databricks-bundle-prod", "resourcegroup: prod"),
}


@pytest.mark.parametrize("platform", sorted(SCHEMA_BREAKS))
def test_schema_check_fails_on_a_broken_pipeline(
    platform: str, renderings: Renderings, tmp_path: Path
) -> None:
    options = {**DEFAULT_COMBINATION, "cicd_platform": platform}
    shutil.copytree(renderings.get(options), tmp_path / "project")
    project = tmp_path / "project"
    apply(project, SCHEMA_BREAKS[platform])
    proc = PLATFORMS[platform].schema_check(project)
    assert proc.returncode != 0, proc.stdout


SERVING_CLEANUP = {
    "github_actions": GITHUB_CI,
    "azure_devops": AZURE_CI,
    "gitlab": GITLAB,
}


@pytest.mark.parametrize("platform", sorted(SERVING_CLEANUP))
def test_the_test_endpoint_is_deleted_by_the_bundles_name(
    platform: str, renderings: Renderings, tmp_path: Path
) -> None:
    """With serving, the integration run deletes the endpoint named by the test target's own
    bundle (scripts/bundle_facts.py serving-endpoint), not a name written in the pipeline."""
    options = {**DEFAULT_COMBINATION, "cicd_platform": platform, "include_serving": "yes"}
    shutil.copytree(renderings.get(options), tmp_path / "project")
    project = tmp_path / "project"
    assert problems(project, options) == []
    path = project / SERVING_CLEANUP[platform]
    text = path.read_text()
    old = '"$(python' + ("3" if platform == "gitlab" else "") + " scripts/bundle_facts.py"
    old += ' serving-endpoint bundle.json)"'
    assert text.count(old) == 1
    path.write_text(text.replace(old, "taxi-fare-regression-test"))
    found = problems(project, options)
    assert any("deleted by a name that does not come from" in p for p in found), found
