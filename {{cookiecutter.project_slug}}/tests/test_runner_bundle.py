"""The local loader resolves a bundle as the Databricks CLI does: one test per rule.

The rules, and the CLI source each comes from, are listed in the loader's docstring
({{ cookiecutter.package_name }}_local/runner/bundle.py).
"""

from __future__ import annotations

import json

import pytest
import yaml

from {{ cookiecutter.package_name }}_local.runner import JobRunner
from {{ cookiecutter.package_name }}_local.runner.bundle import (
    load_bundle,
    merge,
    merge_by_key,
    normalize_prefix,
    short_name,
)
from {{ cookiecutter.package_name }}_local.runner.errors import BundleError

from .bundles import RECORD, notebook_task, write_bundle

VARIABLES = {
    "catalog": {"description": "no default: each target sets it"},
    "schema": {"default": "sales"},
    "experiment": {
        "default": "/Users/${workspace.current_user.userName}/${bundle.name}-${bundle.target}"
    },
    "cluster": {"type": "complex", "default": {"num_workers": 1, "spark_version": "17.3"}},
    "warehouse": {"lookup": {"warehouse": "Shared"}},
}
TARGETS = {"dev": {"default": True, "variables": {"catalog": "dev_cat"}}}
JOB = {
    "name": "train-${bundle.target}",
    "email_notifications": {"on_failure": ["team@example.com"]},
    "schedule": {"quartz_cron_expression": "0 0 5 * * ?", "timezone_id": "UTC"},
    "job_clusters": [{"job_cluster_key": "c", "new_cluster": "${var.cluster}"}],
    "parameters": [{"name": "day", "default": ""}],
    "tasks": [
        notebook_task(
            "train",
            "record",
            base_parameters={"table": "${var.catalog}.${var.schema}.t", "exp": "${var.experiment}"},
            job_cluster_key="c",
            libraries=[{"whl": "../dist/*.whl"}],
        ),
        {
            "task_key": "chain",
            "depends_on": [{"task_key": "train"}],
            "run_job_task": {"job_id": "${resources.jobs.other.id}"},
        },
    ],
}


def bundle_dir(tmp_path, targets=None, jobs=None, variables=None):
    jobs = jobs or {
        "train": JOB,
        "other": {"name": "other", "tasks": [notebook_task("x", "record")]},
    }
    return write_bundle(
        tmp_path, jobs, {"record": RECORD}, variables or VARIABLES, targets or TARGETS
    )


@pytest.fixture(autouse=True)
def _user(monkeypatch):
    monkeypatch.setenv("DATABRICKS_USER", "Jane.Doe@example.com")
    for name in VARIABLES:
        monkeypatch.delenv(f"BUNDLE_VAR_{name}", raising=False)


def with_target(tmp_path, **target):
    """A bundle with the default target dev and a target t (catalog c unless given)."""
    target.setdefault("variables", {"catalog": "c"})
    return bundle_dir(
        tmp_path, {"dev": {"default": True, "variables": {"catalog": "c"}}, "t": target}
    )


# --- merging -----------------------------------------------------------------------------------


def test_merge_maps_by_key_concatenates_sequences_and_ignores_null():
    base = {"a": 1, "m": {"x": 1, "y": 2}, "l": ["p"], "keep": "me"}
    merged = merge(base, {"a": 2, "m": {"y": 3, "z": 4}, "l": ["q"], "keep": None})
    assert merged == {"a": 2, "m": {"x": 1, "y": 3, "z": 4}, "l": ["p", "q"], "keep": "me"}
    assert base["l"] == ["p"]


def test_merge_by_key_merges_into_the_first_and_can_sort():
    items = [{"k": "b", "x": 1}, {"k": "a"}, {"k": "b", "y": 2}, {"x": 9}, {"y": 8}]
    assert merge_by_key(items, "k") == [
        {"k": "b", "x": 1, "y": 2},
        {"k": "a"},
        {"k": "", "x": 9, "y": 8},  # elements without the key share the key ""
    ]
    assert [i["k"] for i in merge_by_key(items, "k", sort=True)] == ["", "a", "b"]


def test_target_appends_a_second_failure_address(tmp_path):
    override = {"email_notifications": {"on_failure": ["oncall@example.com"]}}
    root = with_target(tmp_path, resources={"jobs": {"train": override}})
    job = load_bundle(root, "t").job("train")
    assert job["email_notifications"]["on_failure"] == ["team@example.com", "oncall@example.com"]


def test_target_appends_a_library_to_an_existing_task(tmp_path):
    extra = {"task_key": "train", "libraries": [{"pypi": {"package": "lightgbm==4.6.0"}}]}
    root = with_target(tmp_path, resources={"jobs": {"train": {"tasks": [extra]}}})
    train = next(
        t for t in load_bundle(root, "t").job("train")["tasks"] if t["task_key"] == "train"
    )
    assert train["libraries"] == [
        {"whl": str(root / "dist" / "*.whl")},
        {"pypi": {"package": "lightgbm==4.6.0"}},
    ]
    assert train["notebook_task"]["base_parameters"]["table"] == "c.sales.t"


def test_tasks_merge_by_key_and_come_out_sorted(tmp_path):
    override = {"tasks": [{"task_key": "train", "timeout_seconds": 9}]}
    root = with_target(tmp_path, resources={"jobs": {"train": override}})
    tasks = load_bundle(root, "t").job("train")["tasks"]
    assert [t["task_key"] for t in tasks] == ["chain", "train"]
    assert tasks[1]["timeout_seconds"] == 9


def test_job_clusters_and_parameters_merge_by_key(tmp_path):
    override = {
        "job_clusters": [{"job_cluster_key": "c", "new_cluster": {"num_workers": 4}}],
        "parameters": [{"name": "day", "default": "2016-01-01"}, {"name": "extra", "default": "1"}],
    }
    root = with_target(tmp_path, resources={"jobs": {"train": override}})
    job = load_bundle(root, "t").job("train")
    assert job["job_clusters"] == [
        {"job_cluster_key": "c", "new_cluster": {"num_workers": 4, "spark_version": "17.3"}}
    ]
    assert job["parameters"] == [
        {"name": "day", "default": "2016-01-01"},
        {"name": "extra", "default": "1"},
    ]


def test_a_task_added_by_a_target_resolves_its_path_from_databricks_yml_and_runs(
    tmp_path, monkeypatch, spark
):
    log = tmp_path / "run.log"
    monkeypatch.setenv("RUN_LOG", str(log))
    extra = notebook_task("extra", "record", depends_on=["train"], job_cluster_key="c")
    extra["notebook_task"]["notebook_path"] = "notebooks/record.py"  # relative to databricks.yml
    root = with_target(tmp_path, resources={"jobs": {"train": {"tasks": [extra]}}})
    bundle = load_bundle(root, "t")
    task = next(t for t in bundle.job("train")["tasks"] if t["task_key"] == "extra")
    assert task["notebook_task"]["notebook_path"] == str(root / "notebooks" / "record.py")

    result = JobRunner(bundle, spark=spark, out=lambda _: None).run("train")

    assert result.success, result.root_failure()
    assert [json.loads(line)["notebook"] for line in log.read_text().splitlines()] == [
        "record.py",  # train
        "record.py",  # extra, appended by the target
        "record.py",  # other, started by chain
    ]


def test_a_path_from_a_variable_is_relative_to_where_it_is_used(tmp_path):
    variables = {**VARIABLES, "notebook": {"default": "../notebooks/record.py"}}
    job = {**JOB, "tasks": [{**JOB["tasks"][0]}]}
    job["tasks"][0] = {**job["tasks"][0], "notebook_task": {"notebook_path": "${var.notebook}"}}
    root = bundle_dir(tmp_path, jobs={"train": job}, variables=variables)
    task = load_bundle(root).job("train")["tasks"][0]
    assert task["notebook_task"]["notebook_path"] == str(root / "notebooks" / "record.py")


# --- includes --------------------------------------------------------------------------------


def test_include_globs_are_read_in_sorted_order(tmp_path):
    bundle = load_bundle(bundle_dir(tmp_path))
    assert bundle.job_keys == ["other", "train"]


def test_a_literal_include_must_exist_but_an_empty_glob_is_fine(tmp_path):
    root = bundle_dir(tmp_path)
    config = yaml.safe_load((root / "databricks.yml").read_text())
    config["include"].append("jobs/*.yml")
    (root / "databricks.yml").write_text(yaml.safe_dump(config))
    assert load_bundle(root).job_keys == ["other", "train"]
    config["include"].append("resources/missing.yml")
    (root / "databricks.yml").write_text(yaml.safe_dump(config))
    with pytest.raises(BundleError, match="does not match any file"):
        load_bundle(root)


def test_a_resource_key_defined_twice_is_an_error_even_across_kinds(tmp_path):
    root = bundle_dir(tmp_path)
    (root / "resources" / "zz.yml").write_text(
        yaml.safe_dump({"resources": {"pipelines": {"train": {"name": "p"}}}})
    )
    with pytest.raises(BundleError, match="same key 'train'"):
        load_bundle(root)


# --- variables ---------------------------------------------------------------------------------


def test_variable_precedence_cli_then_env_then_target_then_default(tmp_path, monkeypatch):
    root = bundle_dir(tmp_path)
    assert load_bundle(root).variables["schema"] == "sales"
    assert load_bundle(root).variables["catalog"] == "dev_cat"
    monkeypatch.setenv("BUNDLE_VAR_catalog", "from_env")
    assert load_bundle(root).variables["catalog"] == "from_env"
    assert load_bundle(root, variables={"catalog": "from_cli"}).variables["catalog"] == "from_cli"


def test_a_lookup_needs_a_value_from_outside(tmp_path):
    job = {**JOB, "description": "${var.warehouse}"}
    root = bundle_dir(tmp_path, jobs={"train": job, "other": {"name": "o", "tasks": []}})
    with pytest.raises(BundleError, match="looks up a warehouse"):
        load_bundle(root)
    assert load_bundle(root, variables={"warehouse": "abc"}).job("train")["description"] == "abc"


def test_a_lookup_stays_as_written_in_resources_the_runner_never_runs(tmp_path):
    root = bundle_dir(tmp_path)
    dashboard = {"display_name": "${var.schema}", "warehouse_id": "${var.warehouse}"}
    resources = yaml.safe_load((root / "resources" / "train.yml").read_text())
    resources["resources"]["dashboards"] = {"board": dashboard}
    (root / "resources" / "train.yml").write_text(yaml.safe_dump(resources))
    bundle = load_bundle(root)
    assert bundle.resources["dashboards"]["board"]["warehouse_id"] == "${var.warehouse}"
    assert bundle.resources["dashboards"]["board"]["display_name"] == "sales"
    given = load_bundle(root, variables={"warehouse": "abc"})
    assert given.resources["dashboards"]["board"]["warehouse_id"] == "abc"


def test_a_complex_variable_is_replaced_whole_by_a_target_and_not_settable(tmp_path):
    root = with_target(tmp_path, variables={"catalog": "c", "cluster": {"num_workers": 8}})
    cluster = load_bundle(root, "t").job("train")["job_clusters"][0]["new_cluster"]
    assert cluster == {"num_workers": 8}
    with pytest.raises(BundleError, match="complex"):
        load_bundle(root, "t", {"cluster": "x"})


def test_a_target_cannot_set_an_undeclared_variable(tmp_path):
    root = with_target(tmp_path, variables={"catalog": "c", "catalgo": "typo"})
    with pytest.raises(BundleError, match="'catalgo', which is not declared"):
        load_bundle(root, "t")


def test_missing_required_variable_and_unknown_target(tmp_path):
    root = with_target(tmp_path, variables={})
    with pytest.raises(BundleError, match="'catalog' has no value"):
        load_bundle(root, "t")
    with pytest.raises(BundleError, match="unknown target 'nope'"):
        load_bundle(root, "nope")


# --- presets and development mode -------------------------------------------------------------


def test_short_name_and_prefix_normalization():
    assert short_name("Jane.Doe@example.com") == "jane_doe"
    assert normalize_prefix("[dev jane_doe] ") == "dev_jane_doe_"
    assert normalize_prefix("[test] ") == "test_"


def test_name_prefix_preset_per_kind(tmp_path):
    root = with_target(tmp_path, variables={"catalog": "c"}, presets={"name_prefix": "[test] "})
    config = yaml.safe_load((root / "databricks.yml").read_text())
    config["resources"] = {
        "schemas": {"s": {"name": "sales", "catalog_name": "c"}},
        "registered_models": {
            "m": {"name": "fare", "catalog_name": "c", "schema_name": "${resources.schemas.s.name}"}
        },
        "experiments": {"e": {"name": "${var.experiment}"}},
    }
    (root / "databricks.yml").write_text(yaml.safe_dump(config))
    bundle = load_bundle(root, "t")
    assert bundle.job("train")["name"] == "[test] train-t"
    assert bundle.resources["schemas"]["s"]["name"] == "test_sales"
    assert bundle.resources["registered_models"]["m"] == {
        "name": "test_fare",
        "catalog_name": "c",
        "schema_name": "test_sales",  # a reference sees the deployed name
    }
    assert bundle.resources["experiments"]["e"]["name"] == (
        "/Users/Jane.Doe@example.com/[test] demo-bundle-t"
    )


def test_development_mode_prefixes_tags_and_pauses_what_is_not_set(tmp_path):
    jobs = {
        "train": JOB,
        "other": {
            "name": "other",
            "max_concurrent_runs": 1,
            "schedule": {
                "quartz_cron_expression": "0 0 1 * * ?",
                "timezone_id": "UTC",
                "pause_status": "UNPAUSED",
            },
            "tasks": [],
        },
    }
    root = bundle_dir(
        tmp_path,
        {"dev": {"default": True, "mode": "development", "variables": {"catalog": "c"}}},
        jobs,
    )
    bundle = load_bundle(root)
    train, other = bundle.job("train"), bundle.job("other")
    assert train["name"] == "[dev jane_doe] train-dev"
    assert train["tags"] == {"dev": "jane_doe"}
    assert train["schedule"]["pause_status"] == "PAUSED"
    assert train["max_concurrent_runs"] == 4
    assert other["schedule"]["pause_status"] == "UNPAUSED"  # explicit values are kept
    assert other["max_concurrent_runs"] == 1


def test_defaults_without_a_preset(tmp_path):
    job = load_bundle(bundle_dir(tmp_path)).job("train")
    assert job["schedule"]["pause_status"] == "UNPAUSED"
    assert job["max_concurrent_runs"] == 1


# --- references ----------------------------------------------------------------------------------


def test_bundle_fields_complex_variables_and_job_ids(tmp_path):
    job = load_bundle(bundle_dir(tmp_path)).job("train")
    train = next(t for t in job["tasks"] if t["task_key"] == "train")
    chain = next(t for t in job["tasks"] if t["task_key"] == "chain")
    assert job["name"] == "train-dev"
    assert train["notebook_task"]["base_parameters"] == {
        "table": "dev_cat.sales.t",
        "exp": "/Users/Jane.Doe@example.com/demo-bundle-dev",
    }
    assert job["job_clusters"][0]["new_cluster"] == {"num_workers": 1, "spark_version": "17.3"}
    assert chain["run_job_task"]["job_id"] == "other"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"description": "${var.nope}"}, "unknown variable"),
        ({"description": "${workspace.nope}"}, "cannot resolve"),
        ({"description": "${resources.jobs.ghost.id}"}, "unknown resource"),
    ],
)
def test_bad_references_name_the_reference(tmp_path, change, message):
    root = bundle_dir(tmp_path, jobs={"train": {**JOB, **change}, "other": {"name": "o"}})
    with pytest.raises(BundleError, match=message):
        load_bundle(root)
