"""The exploration notebook runs locally, cell by cell, as the runner runs job notebooks."""

from __future__ import annotations

from pathlib import Path

import pytest
from matplotlib.figure import Figure
from pyspark.sql import functions as F  # noqa: N812

from {{ cookiecutter.package_name }}.data import profile
from {{ cookiecutter.package_name }}.features.contract import (
    RAW_TRIPS_CONTRACT,
    ColumnRule,
    DataContractError,
    check_contract,
)
from {{ cookiecutter.package_name }}.names import PICKUP_TS, TRIP_FEATURES
from {{ cookiecutter.package_name }}_local.runner.dbutils import LocalDbutils
from {{ cookiecutter.package_name }}_local.runner.engine import notebook_cells, notebook_namespace

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "exploration" / "eda.py"


@pytest.fixture(scope="module")
def executed(spark, tmp_path_factory):
    """The notebook's namespace after every cell ran on the generated sample."""
    state = tmp_path_factory.mktemp("eda-state")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("LOCAL_STATE_DIR", str(state))
        namespace = notebook_namespace(NOTEBOOK, spark, LocalDbutils())
        cells = notebook_cells(NOTEBOOK)
        for index, cell in enumerate(cells):
            exec(compile(cell, f"{NOTEBOOK}#cell{index}", "exec"), namespace)  # the point
        yield namespace, state, len(cells)


def test_every_cell_runs_and_reads_the_sample_through_the_platform(executed):
    namespace, state, cells = executed
    assert cells >= 8
    assert namespace["input_table"] == "samples.nyctaxi.trips"
    assert namespace["raw"].count() > 1000  # the seeded sample, generated on first read
    assert (state / "warehouse" / "samples" / "nyctaxi" / "trips").is_dir()


def test_the_fare_is_plotted_against_every_trip_feature_as_the_jobs_compute_it(executed, spark):
    namespace = executed[0]
    assert namespace["key_features"] == TRIP_FEATURES
    sample = namespace["sample"]
    weekdays = spark.createDataFrame(sample[[PICKUP_TS]]).select(
        F.dayofweek(PICKUP_TS).alias("spark")
    )
    assert sorted(sample["pickup_weekday"]) == sorted(r.spark for r in weekdays.collect())


def test_the_sample_meets_its_contract(executed):
    contract = executed[0]["contract"]
    assert list(contract["column"]) == [rule.column for rule in RAW_TRIPS_CONTRACT]
    assert contract["ok"].all()
    assert (contract["rows"] == executed[0]["raw"].count()).all()


def test_figures_are_drawn_and_saved_locally(executed):
    namespace, state, _ = executed
    figures = sorted((state / "figures").glob("*.png"))
    assert len(figures) == 3 and all(path.stat().st_size > 10_000 for path in figures)
    coverage = namespace["coverage"]
    assert coverage["days_with_data"] == len(namespace["daily"]) > 50
    assert coverage["missing_days"] == []


def test_contract_profile_judges_each_rule_against_its_tolerance(spark):
    df = spark.createDataFrame([(1.0,), (-5.0,), (None,), (2.0,)], "distance double")
    rules = [
        ColumnRule("distance", ("double",), min_value=0, max_invalid_fraction=0.2),
        ColumnRule("distance", ("double",), min_value=0, max_invalid_fraction=0.3),
        ColumnRule("missing", ("int",)),
    ]
    strict, tolerant, missing = profile.contract_profile(df, rules).to_dict("records")
    assert (strict["nulls"], strict["out_of_range"], strict["invalid_share"]) == (1, 1, 0.5)
    assert not strict["ok"]  # one null and one negative value: each 25% > 20%
    assert tolerant["ok"]  # each rule alone stays within 30%, as check_contract judges
    assert missing["type"] == "missing" and not missing["ok"]


@pytest.mark.parametrize(
    "values",
    [
        [-1.0, 11.0, *[5.0] * 38],  # 2.5 % below and 2.5 % above: each rule within 4 %
        [-1.0, -2.0, *[5.0] * 38],  # 5 % below: over 4 %
        [],  # no rows at all
    ],
    ids=["each-rule-within", "one-rule-over", "empty"],
)
def test_contract_profile_agrees_with_the_jobs_check(spark, values):
    df = spark.createDataFrame([(v,) for v in values], "distance double")
    rule = ColumnRule("distance", ("double",), min_value=0, max_value=10, max_invalid_fraction=0.04)
    try:
        check_contract(df, [rule], "trips")
        passes = True
    except DataContractError:
        passes = False
    (row,) = profile.contract_profile(df, [rule]).to_dict("records")
    assert row["ok"] == passes


def test_time_coverage_lists_missing_days():
    import pandas as pd

    daily = pd.DataFrame({"day": ["2016-01-01", "2016-01-02", "2016-01-05"], "rows": [1, 2, 3]})
    coverage = profile.time_coverage(daily)
    assert coverage["days_with_data"] == 3
    assert [str(day) for day in coverage["missing_days"]] == ["2016-01-03", "2016-01-04"]


def test_distribution_figure_has_one_histogram_per_column():
    import pandas as pd

    frame = pd.DataFrame({"a": range(100), "b": [float(i % 7) for i in range(100)]})
    figure = profile.distribution_figure(frame, ["a", "b"])
    assert isinstance(figure, Figure)
    visible = [ax for ax in figure.axes if ax.get_visible()]
    assert len(visible) == 2 and all(ax.patches for ax in visible)
