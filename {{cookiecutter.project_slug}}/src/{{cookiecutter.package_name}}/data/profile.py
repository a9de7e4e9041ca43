"""Exploratory profile of the raw trips (the EDA notebook's logic): contract, distributions,
target against key features, time coverage.

Every statistic is one Spark aggregation; only a bounded, seeded sample reaches the driver for
plots. Figures are ``matplotlib.figure.Figure`` objects (no pyplot state), which ``display``
renders on Databricks and the local runner saves as PNG files.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from pyspark.sql import DataFrame
from pyspark.sql import functions as F  # noqa: N812

from ..features.contract import NOT_NULL, ColumnRule, row_checks
from ..names import DROPOFF_TS, LABEL, PICKUP_TS

SAMPLE_ROWS = 50_000
PROFILE_COLUMNS = [
    "column",
    "type",
    "expected",
    "rows",
    "nulls",
    "null_share",
    "min",
    "max",
    "out_of_range",
    "invalid_share",
    "tolerance",
    "ok",
]


def contract_profile(df: DataFrame, rules: Sequence[ColumnRule]) -> pd.DataFrame:
    """One row per contract column: type, nulls, observed range and the share of rows that break
    the rule (nulls where not allowed, values outside the range); ``ok`` as ``check_contract``
    judges the column: the same row checks, each within its tolerance, and at least one row."""
    types = {f.name: f.dataType.simpleString() for f in df.schema.fields}
    present = [r for r in rules if r.column in types]
    aggregates = [F.count(F.lit(1)).alias("__rows")]
    for i, rule in enumerate(present):
        col = F.col(rule.column)
        aggregates += [
            F.sum(F.when(col.isNull(), 1).otherwise(0)).alias(f"__n{i}"),
            F.min(col).cast("string").alias(f"__lo{i}"),
            F.max(col).cast("string").alias(f"__hi{i}"),
        ]
        aggregates += [
            F.sum(F.when(broken, 1).otherwise(0)).alias(f"__c{i}_{j}")
            for j, (_, broken) in enumerate(row_checks(rule))
        ]
    stats = df.agg(*aggregates).first()
    rows = int(stats["__rows"])
    records = []
    for rule in rules:
        if rule.column not in types:
            records.append(
                dict.fromkeys(PROFILE_COLUMNS)
                | {"column": rule.column, "type": "missing", "expected": list(rule.types)}
                | {"rows": rows, "ok": False}
            )
            continue
        i = present.index(rule)
        nulls = int(stats[f"__n{i}"] or 0)
        checks = enumerate(row_checks(rule))
        broken = {name: int(stats[f"__c{i}_{j}"] or 0) for j, (name, _) in checks}
        out = sum(count for name, count in broken.items() if name != NOT_NULL)
        share = sum(broken.values()) / rows if rows else 0.0
        within = all(count <= rule.max_invalid_fraction * rows for count in broken.values())
        records.append(
            {
                "column": rule.column,
                "type": types[rule.column],
                "expected": list(rule.types),
                "rows": rows,
                "nulls": nulls,
                "null_share": nulls / rows if rows else 0.0,
                "min": stats[f"__lo{i}"],
                "max": stats[f"__hi{i}"],
                "out_of_range": out,
                "invalid_share": share,
                "tolerance": rule.max_invalid_fraction,
                "ok": types[rule.column] in rule.types and within and rows >= 1,
            }
        )
    return pd.DataFrame.from_records(records, columns=PROFILE_COLUMNS)


def with_trip_duration(df: DataFrame) -> DataFrame:
    """Add ``trip_duration_min`` (dropoff minus pickup, in minutes)."""
    seconds = F.col(DROPOFF_TS).cast("long") - F.col(PICKUP_TS).cast("long")
    return df.withColumn("trip_duration_min", seconds / 60.0)


def sample_frame(
    df: DataFrame, columns: Sequence[str], max_rows: int = SAMPLE_ROWS, seed: int = 0
) -> pd.DataFrame:
    """A seeded sample of at most about ``max_rows`` rows of ``columns``, as pandas."""
    total = df.count()
    sampled = df.sample(fraction=max_rows / total, seed=seed) if total > max_rows else df
    return sampled.select(*columns).toPandas()


def numeric_columns(pdf: pd.DataFrame) -> list[str]:
    """The numeric columns of a pandas frame, in order."""
    return [c for c in pdf.columns if pd.api.types.is_numeric_dtype(pdf[c])]


def distribution_figure(pdf: pd.DataFrame, columns: Sequence[str], bins: int = 40) -> Figure:
    """One histogram per column, clipped to its 0.5-99.5 percentile so outliers do not hide
    the shape (the share of clipped rows is in the title)."""
    n_cols = 3
    n_rows = max(1, math.ceil(len(columns) / n_cols))
    figure = Figure(figsize=(5 * n_cols, 3 * n_rows))
    axes = np.atleast_1d(figure.subplots(n_rows, n_cols)).reshape(-1)
    for ax, column in zip(axes, columns, strict=False):
        values = pdf[column].dropna().to_numpy(dtype=float)
        if values.size:
            low, high = np.percentile(values, [0.5, 99.5])
            inside = values[(values >= low) & (values <= high)]
            whole = np.all(inside == np.round(inside)) and high - low <= 60
            edges = np.arange(low, high + 2) - 0.5 if whole else bins  # one bar per integer
            ax.hist(inside, bins=edges, color="#077A9D")
            clipped = 1 - inside.size / values.size
            ax.set_title(f"{column} ({clipped:.1%} outside the range shown)", fontsize=9)
        else:
            ax.set_title(f"{column}: no values", fontsize=9)
    for ax in axes[len(columns) :]:
        ax.set_visible(False)
    figure.tight_layout()
    return figure


def target_figure(pdf: pd.DataFrame, features: Sequence[str], target: str = LABEL) -> Figure:
    """The target against each feature: the mean target per decile bin of the feature, with
    the 10-90 percentile band of the target in that bin."""
    figure = Figure(figsize=(5 * len(features), 3.5))
    axes = np.atleast_1d(figure.subplots(1, len(features))).reshape(-1)
    for ax, feature in zip(axes, features, strict=True):
        frame = pdf[[feature, target]].dropna()
        if frame[feature].nunique() > 10:
            bins = pd.qcut(frame[feature], 10, duplicates="drop")
            groups = frame.groupby(bins, observed=True)
            x = groups[feature].median().to_numpy()
        else:
            groups = frame.groupby(feature, observed=True)
            x = np.asarray(list(groups.groups), dtype=float)
        mean = groups[target].mean().to_numpy()
        low = groups[target].quantile(0.1).to_numpy()
        high = groups[target].quantile(0.9).to_numpy()
        ax.fill_between(x, low, high, alpha=0.25, color="#077A9D", label="10-90%")
        ax.plot(x, mean, marker="o", color="#077A9D", label=f"mean {target}")
        ax.set_xlabel(feature)
        ax.set_ylabel(target)
    axes[0].legend(fontsize=8)
    figure.tight_layout()
    return figure


def daily_counts(df: DataFrame, column: str = PICKUP_TS) -> pd.DataFrame:
    """Rows per calendar day of ``column`` (UTC), with the target's mean per day."""
    daily = (
        df.groupBy(F.to_date(F.col(column)).alias("day"))
        .agg(F.count(F.lit(1)).alias("rows"), F.avg(F.col(LABEL)).alias(f"mean_{LABEL}"))
        .orderBy("day")
    )
    return daily.toPandas()


def time_coverage(daily: pd.DataFrame) -> dict[str, object]:
    """First and last day, days with data, and calendar days missing in between."""
    if daily.empty:
        return {"first_day": None, "last_day": None, "days_with_data": 0, "missing_days": []}
    days = pd.to_datetime(daily["day"])
    calendar = pd.date_range(days.min(), days.max(), freq="D")
    missing = sorted(set(calendar.date) - set(days.dt.date))
    return {
        "first_day": days.min().date(),
        "last_day": days.max().date(),
        "days_with_data": int(days.nunique()),
        "missing_days": missing,
    }


def coverage_figure(daily: pd.DataFrame) -> Figure:
    """Trips per day and the mean target per day."""
    figure = Figure(figsize=(12, 3.5))
    ax = figure.subplots()
    days = pd.to_datetime(daily["day"])
    ax.bar(days, daily["rows"], color="#077A9D", label="trips")
    ax.set_ylabel("trips per day")
    other = ax.twinx()
    other.plot(days, daily[f"mean_{LABEL}"], color="#FF3621", label=f"mean {LABEL}")
    other.set_ylabel(f"mean {LABEL}")
    figure.autofmt_xdate()
    figure.tight_layout()
    return figure
