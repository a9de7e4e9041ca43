"""Data contracts: schema, null and range rules checked before anything is written."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F  # noqa: N812

from ..errors import ActionableError
from ..names import (
    DROPOFF_FEATURE_TS,
    DROPOFF_TS,
    DROPOFF_ZIP,
    LABEL,
    PICKUP_FEATURE_TS,
    PICKUP_TS,
    PICKUP_ZIP,
)

NUMERIC = ("tinyint", "smallint", "int", "bigint", "float", "double")
INTEGER = ("tinyint", "smallint", "int", "bigint")
TIMESTAMP = ("timestamp", "timestamp_ntz")


@dataclass(frozen=True)
class ColumnRule:
    """Expectations for one column; ``max_invalid_fraction`` tolerates a share of bad rows."""

    column: str
    types: tuple[str, ...]
    nullable: bool = False
    min_value: float | None = None
    max_value: float | None = None
    max_invalid_fraction: float = 0.0


@dataclass(frozen=True)
class Violation:
    """One broken rule: which column, which rule, and what was found."""

    column: str
    rule: str
    detail: str

    def __str__(self) -> str:
        return f"column '{self.column}' rule '{self.rule}': {self.detail}"


class DataContractError(ActionableError, ValueError):
    """Raised when a data set breaks its contract; ``violations`` lists every broken rule."""

    def __init__(self, dataset: str, violations: Sequence[Violation]) -> None:
        self.dataset = dataset
        self.violations = list(violations)
        lines = "; ".join(str(v) for v in self.violations)
        super().__init__(f"data contract of {dataset} violated: {lines}")


def _schema_violations(df: DataFrame, rules: Sequence[ColumnRule]) -> list[Violation]:
    types = {f.name: f.dataType.simpleString() for f in df.schema.fields}
    found: list[Violation] = []
    for rule in rules:
        if rule.column not in types:
            found.append(Violation(rule.column, "present", "column is missing"))
        elif types[rule.column] not in rule.types:
            found.append(
                Violation(
                    rule.column, f"type in {list(rule.types)}", f"type is {types[rule.column]}"
                )
            )
    return found


NOT_NULL = "not null"  # the name of the null check


def row_checks(rule: ColumnRule) -> list[tuple[str, Column]]:
    """The rule's row-level checks: (name, condition true for a row that breaks it)."""
    col = F.col(rule.column)
    checks: list[tuple[str, Column]] = []
    if not rule.nullable:
        checks.append((NOT_NULL, col.isNull()))
    if rule.min_value is not None:
        checks.append((f">= {rule.min_value:g}", col < F.lit(rule.min_value)))
    if rule.max_value is not None:
        checks.append((f"<= {rule.max_value:g}", col > F.lit(rule.max_value)))
    return checks


def check_contract(
    df: DataFrame, rules: Sequence[ColumnRule], dataset: str, min_rows: int = 1
) -> int:
    """Raise :class:`DataContractError` naming each broken column and rule; return the row count.

    Schema first (missing columns, wrong types), then every null and range rule in one
    aggregation pass over the data.
    """
    schema_problems = _schema_violations(df, rules)
    if schema_problems:
        raise DataContractError(dataset, schema_problems)

    labelled = [(rule, name, cond) for rule in rules for name, cond in row_checks(rule)]
    aggregates = [F.count(F.lit(1)).alias("__rows")]
    aggregates += [
        F.sum(F.when(cond, 1).otherwise(0)).alias(f"__c{i}")
        for i, (_, _, cond) in enumerate(labelled)
    ]
    counts = df.agg(*aggregates).first()
    rows = int(counts["__rows"])
    violations: list[Violation] = []
    if rows < min_rows:
        violations.append(Violation("*", f"rows >= {min_rows}", f"{rows} rows"))
    for i, (rule, name, _) in enumerate(labelled):
        bad = int(counts[f"__c{i}"] or 0)
        if bad and bad > rule.max_invalid_fraction * rows:
            share = bad / rows if rows else 1.0
            violations.append(
                Violation(
                    rule.column,
                    name,
                    f"{bad} of {rows} rows ({share:.2%}) violate it, "
                    f"tolerance {rule.max_invalid_fraction:.2%}",
                )
            )
    if violations:
        raise DataContractError(dataset, violations)
    return rows


# Raw trips: exact schema and timestamps; a small share of unpriceable rows is tolerated
# (they are dropped by ``clean_trips``), more than that means the feed is broken.
# Customize: one rule per source column that the jobs read (docs/customize.md).
RAW_TRIPS_CONTRACT: tuple[ColumnRule, ...] = (
    ColumnRule(PICKUP_TS, TIMESTAMP),
    ColumnRule(DROPOFF_TS, TIMESTAMP),
    ColumnRule(PICKUP_ZIP, INTEGER, min_value=0, max_value=99999, max_invalid_fraction=0.05),
    ColumnRule(DROPOFF_ZIP, INTEGER, min_value=0, max_value=99999, max_invalid_fraction=0.05),
    ColumnRule("trip_distance", NUMERIC, min_value=0, max_value=100, max_invalid_fraction=0.05),
    ColumnRule(LABEL, NUMERIC, min_value=0, max_value=500, max_invalid_fraction=0.05),
)

PICKUP_FEATURES_CONTRACT: tuple[ColumnRule, ...] = (
    ColumnRule(PICKUP_ZIP, INTEGER),
    ColumnRule(PICKUP_FEATURE_TS, TIMESTAMP),
    ColumnRule("pickup_trip_count", ("double",), min_value=1),
    ColumnRule("pickup_mean_fare", ("double",), min_value=0, max_value=500),
    ColumnRule("pickup_mean_distance", ("double",), min_value=0, max_value=100),
)

DROPOFF_FEATURES_CONTRACT: tuple[ColumnRule, ...] = (
    ColumnRule(DROPOFF_ZIP, INTEGER),
    ColumnRule(DROPOFF_FEATURE_TS, TIMESTAMP),
    ColumnRule("dropoff_trip_count", ("double",), min_value=1),
    ColumnRule("dropoff_mean_fare", ("double",), min_value=0, max_value=500),
)
