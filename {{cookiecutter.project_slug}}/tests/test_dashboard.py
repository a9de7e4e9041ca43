"""The monitoring dashboard and the drift alert, as the bundle defines them, checked locally.

The end-to-end story runs every query on real local tables (tests/test_end_to_end.py); these
tests check the definitions themselves and the alert's rule on small tables.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from {{ cookiecutter.package_name }}.monitoring.monitor import DriftRow, write_drift_rows
from {{ cookiecutter.package_name }}.names import (
    DRIFT_METRICS_TABLE,
    FEATURE_FRESHNESS_TABLE,
    INFERENCE_LOG_TABLE,
    MODEL_EVENTS_TABLE,
    RETRAIN_DECISIONS_TABLE,
    VALIDATION_RESULTS_TABLE,
)
from {{ cookiecutter.package_name }}_local.deployed import deployed_names
from {{ cookiecutter.package_name }}_local.report import (
    SUPPORTED_WIDGETS,
    LocalViews,
    dashboard_files,
    dataset_sql,
    evaluate_alert,
    table_names,
    widget_sql,
    widgets,
)
from {{ cookiecutter.package_name }}_local.runner import load_bundle

ROOT = Path(__file__).resolve().parents[1]
TABLES = {
    DRIFT_METRICS_TABLE,
    FEATURE_FRESHNESS_TABLE,  # with the feature store and serving
    INFERENCE_LOG_TABLE,
    MODEL_EVENTS_TABLE,
    RETRAIN_DECISIONS_TABLE,
    VALIDATION_RESULTS_TABLE,
}


@pytest.fixture(scope="module")
def bundle():
    return load_bundle(ROOT, "dev")


@pytest.fixture(scope="module")
def dashboard(bundle):
    (path,) = dashboard_files(bundle).values()
    return json.loads(path.read_text())


def test_every_widget_draws_an_existing_dataset(dashboard):
    names = [d["name"] for d in dashboard["datasets"]]
    assert len(names) == len(set(names)) and dashboard["pages"]
    drawn = set()
    for widget, position in widgets(dashboard):
        assert 1 <= position["width"] <= 6
        if "textbox_spec" in widget:
            continue
        assert widget["spec"]["widgetType"] in SUPPORTED_WIDGETS
        (query,) = widget["queries"]
        assert query["query"]["datasetName"] in names
        drawn.add(query["query"]["datasetName"])
    assert drawn == set(names)  # no dataset without a panel


def test_queries_read_the_schema_tables_by_plain_name(bundle, dashboard):
    """Lakeview resolves plain names in dataset_catalog.dataset_schema: the deployed schema."""
    for dataset in dashboard["datasets"]:
        sql = dataset_sql(dataset)
        assert table_names(sql) and table_names(sql) <= TABLES, dataset["name"]
        assert "catalog" not in dataset and "schema" not in dataset
    (resource,) = bundle.resources["dashboards"].values()
    prefix, _ = deployed_names(bundle)
    assert f"{resource['dataset_catalog']}.{resource['dataset_schema']}" == prefix
    assert resource["warehouse_id"] == "${var.warehouse_id}"  # a lookup: Databricks only


def test_a_from_inside_a_function_is_not_taken_for_a_table(bundle, local_platform):
    """``EXTRACT(HOUR FROM col)`` is valid Databricks SQL: the local run must not look for a
    table named like the column."""
    prefix, _ = deployed_names(bundle)
    sql = "SELECT EXTRACT(HOUR FROM t) AS h FROM (SELECT TIMESTAMP'2016-01-01 05:00:00' AS t)"
    with LocalViews(local_platform, prefix) as views:
        assert views.query(sql)["h"].tolist() == [5]
        with pytest.raises(LookupError, match=f"no local table {DRIFT_METRICS_TABLE} in"):
            views.query(f"SELECT * FROM {DRIFT_METRICS_TABLE}")


def test_widget_fields_group_by_the_non_aggregates():
    query = {
        "fields": [
            {"name": "day", "expression": "`day`"},
            {"name": "sum(trips)", "expression": "SUM(`trips`)"},
        ],
        "disaggregated": False,
    }
    assert widget_sql(query, "SELECT 1") == (
        "SELECT `day` AS `day`, SUM(`trips`) AS `sum(trips)` FROM (SELECT 1) AS dataset "
        "GROUP BY `day`"
    )
    assert "GROUP BY" not in widget_sql({**query, "disaggregated": True}, "SELECT 1")


def _monitoring_run(platform, table, breached: bool, at: datetime) -> None:
    rows = [
        DriftRow("trip_distance", "psi", 0.5 if breached else 0.01, 0.2, breached),
        DriftRow("fare_amount", "rmse_increase", 0.1, 0.25, False),
    ]
    write_drift_rows(platform, table, rows, window_start=at, window_end=at, model_version="3")
    # computed_at is the write time: a later write is a later run.


def test_the_drift_alert_triggers_on_a_breach_in_the_last_run_only(bundle, local_platform):
    prefix, _ = deployed_names(bundle)
    (key, alert), *others = bundle.resources["alerts"].items()
    assert others == []
    table = f"{prefix}.{DRIFT_METRICS_TABLE}"
    at = datetime(2016, 3, 1, tzinfo=UTC)
    with LocalViews(local_platform, prefix) as views:
        assert evaluate_alert(key, alert, views).state == "ERROR"  # no table yet
    _monitoring_run(local_platform, table, breached=True, at=at)
    with LocalViews(local_platform, prefix) as views:
        result = evaluate_alert(key, alert, views)
    assert (result.state, result.value) == ("TRIGGERED", 1)
    assert "trip_distance.psi" in result.detail
    assert result.notify == [bundle.variables["alert_email"]]
    _monitoring_run(local_platform, table, breached=False, at=at)
    with LocalViews(local_platform, prefix) as views:
        assert evaluate_alert(key, alert, views).state == "OK"
        assert local_platform.spark.catalog.tableExists(DRIFT_METRICS_TABLE)
    assert not local_platform.spark.catalog.tableExists(DRIFT_METRICS_TABLE)  # views dropped
