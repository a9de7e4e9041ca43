"""Loading bundles: includes, targets, variables and ${...} references."""

from __future__ import annotations

import pytest
import yaml

from {{ cookiecutter.package_name }}.runner.bundle import deep_merge, load_bundle
from {{ cookiecutter.package_name }}.runner.errors import BundleError

from .bundles import notebook_task, write_bundle

VARIABLES = {
    "catalog": {"description": "no default: each target sets it"},
    "schema": {"default": "sales"},
    "experiment": {
        "default": "/Users/${workspace.current_user.userName}/${bundle.name}-${bundle.target}"
    },
    "cluster": {"type": "complex", "default": {"num_workers": 1, "spark_version": "17.3"}},
}
TARGETS = {
    "dev": {"default": True, "variables": {"catalog": "dev_cat"}},
    "prod": {
        "variables": {"catalog": "prod_cat", "schema": {"default": "sales_prod"}},
        "resources": {
            "jobs": {
                "train": {
                    "max_concurrent_runs": 3,
                    "tasks": [{"task_key": "a", "timeout_seconds": 9}],
                }
            }
        },
    },
}
JOB = {
    "name": "train-${bundle.target}",
    "max_concurrent_runs": 1,
    "job_clusters": [{"job_cluster_key": "c", "new_cluster": "${var.cluster}"}],
    "tasks": [
        notebook_task(
            "a",
            "nb",
            base_parameters={"table": "${var.catalog}.${var.schema}.t", "exp": "${var.experiment}"},
        ),
        {
            "task_key": "b",
            "depends_on": [{"task_key": "a"}],
            "run_job_task": {"job_id": "${resources.jobs.other.id}"},
        },
    ],
}


@pytest.fixture
def bundle_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("USER", "alice")
    monkeypatch.setenv("DATABRICKS_USER", "alice@example.com")
    jobs = {"train": JOB, "other": {"name": "other", "tasks": [notebook_task("x", "nb")]}}
    return write_bundle(tmp_path, jobs, {"nb": "pass\n"}, VARIABLES, TARGETS)


def test_default_target_resolves_variables_and_bundle_fields(bundle_dir):
    bundle = load_bundle(bundle_dir)
    job = bundle.job("train")
    params = job["tasks"][0]["notebook_task"]["base_parameters"]
    assert bundle.target == "dev"
    assert job["name"] == "train-dev"
    assert params == {"table": "dev_cat.sales.t", "exp": "/Users/alice@example.com/demo-bundle-dev"}


def test_target_overrides_variables_and_merges_resources_by_task_key(bundle_dir):
    job = load_bundle(bundle_dir, "prod").job("train")
    assert job["max_concurrent_runs"] == 3
    assert [t["task_key"] for t in job["tasks"]] == ["a", "b"]
    assert job["tasks"][0]["timeout_seconds"] == 9
    assert job["tasks"][0]["notebook_task"]["base_parameters"]["table"] == "prod_cat.sales_prod.t"


def test_complex_variable_and_job_id_reference(bundle_dir):
    job = load_bundle(bundle_dir).job("train")
    assert job["job_clusters"][0]["new_cluster"] == {"num_workers": 1, "spark_version": "17.3"}
    assert job["tasks"][1]["run_job_task"]["job_id"] == "other"


def test_cli_variables_win_over_env_and_target(bundle_dir, monkeypatch):
    monkeypatch.setenv("BUNDLE_VAR_schema", "from_env")
    assert load_bundle(bundle_dir).variables["schema"] == "from_env"
    assert (
        load_bundle(bundle_dir, variables={"schema": "from_cli"}).variables["schema"] == "from_cli"
    )


def test_job_file_is_remembered_for_relative_paths(bundle_dir):
    bundle = load_bundle(bundle_dir)
    assert bundle.job_dir("train") == bundle_dir / "resources"
    assert bundle.job_keys == ["other", "train"]  # include files are read in sorted order


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            {"tasks": [notebook_task("a", "nb", base_parameters={"x": "${var.nope}"})]},
            "unknown variable",
        ),
        (
            {"tasks": [notebook_task("a", "nb", base_parameters={"x": "${workspace.nope}"})]},
            "cannot resolve",
        ),
        (
            {
                "tasks": [
                    {"task_key": "a", "run_job_task": {"job_id": "${resources.jobs.ghost.id}"}}
                ]
            },
            "unknown resource",
        ),
    ],
)
def test_bad_references_name_the_reference(bundle_dir, change, message):
    path = bundle_dir / "resources" / "train.yml"
    path.write_text(yaml.safe_dump({"resources": {"jobs": {"train": {**JOB, **change}}}}))
    with pytest.raises(BundleError, match=message):
        load_bundle(bundle_dir).job("train")


def test_missing_required_variable_and_unknown_target(bundle_dir):
    config = yaml.safe_load((bundle_dir / "databricks.yml").read_text())
    config["targets"]["bare"] = {}
    (bundle_dir / "databricks.yml").write_text(yaml.safe_dump(config))
    with pytest.raises(BundleError, match="'catalog' has no value"):
        load_bundle(bundle_dir, "bare").job("train")
    with pytest.raises(BundleError, match="unknown target 'nope'"):
        load_bundle(bundle_dir, "nope")


def test_job_defined_twice_is_an_error(bundle_dir):
    (bundle_dir / "resources" / "zz.yml").write_text(
        yaml.safe_dump({"resources": {"jobs": {"train": JOB}}})
    )
    with pytest.raises(BundleError, match="defined in both"):
        load_bundle(bundle_dir)


def test_deep_merge_keyed_lists_and_scalars():
    base = {"a": 1, "tasks": [{"task_key": "t", "x": 1}], "tags": ["p"]}
    merged = deep_merge(
        base, {"tasks": [{"task_key": "t", "y": 2}, {"task_key": "u"}], "tags": ["q"]}
    )
    assert merged == {
        "a": 1,
        "tasks": [{"task_key": "t", "x": 1, "y": 2}, {"task_key": "u"}],
        "tags": ["q"],
    }
    assert base["tasks"] == [{"task_key": "t", "x": 1}]
