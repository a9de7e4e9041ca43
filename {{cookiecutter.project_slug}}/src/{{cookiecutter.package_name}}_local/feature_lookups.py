"""Local feature lookups: point-in-time joins of Delta feature tables in Spark."""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import TYPE_CHECKING, Any, Protocol

from {{ cookiecutter.package_name }}.features.point_in_time import point_in_time_join
from {{ cookiecutter.package_name }}.platform.base import FeatureLookupSpec

if TYPE_CHECKING:
    from pyspark.sql import DataFrame


class FeatureTables(Protocol):
    """Where feature tables and their keys are read from (the local platform)."""

    def read_table(self, name: str) -> DataFrame: ...

    def feature_table_meta(self, name: str) -> dict[str, Any]: ...


class LocalTrainingSet:
    """A training set: ``df`` plus its feature lookups, joined on :meth:`load_df`."""

    def __init__(
        self,
        tables: FeatureTables,
        df: DataFrame,
        lookups: list[FeatureLookupSpec],
        label: str | None,
        exclude_columns: list[str],
    ) -> None:
        self.tables = tables
        self.df = df
        self.lookups = lookups
        self.label = label
        self.exclude_columns = exclude_columns

    @classmethod
    def from_metadata(
        cls, tables: FeatureTables, df: DataFrame, lookups: list[FeatureLookupSpec]
    ) -> LocalTrainingSet:
        """A scoring-time set: same lookups, no label, nothing excluded."""
        return cls(tables, df, lookups, None, [])

    def load_df(self) -> DataFrame:
        result = self.df
        for lookup in self.lookups:
            meta = self.tables.feature_table_meta(lookup.table_name)
            table_keys: list[str] = meta["primary_keys"]
            ts_key: str = meta["timestamp_key"]
            if len(table_keys) != len(lookup.lookup_key):
                raise ValueError(
                    f"{lookup.table_name} has primary keys {table_keys}, "
                    f"the lookup gives {lookup.lookup_key}"
                )
            features = self.tables.read_table(lookup.table_name)
            names = lookup.feature_names or [
                c for c in features.columns if c not in (*table_keys, ts_key)
            ]
            unknown = [n for n in names if n not in features.columns]
            if unknown:
                raise ValueError(f"features {unknown} are not in {lookup.table_name}")
            for table_key, df_key in zip(table_keys, lookup.lookup_key, strict=True):
                if table_key != df_key:
                    features = features.withColumnRenamed(table_key, df_key)
            result = point_in_time_join(
                result,
                features.select(*lookup.lookup_key, ts_key, *names),
                lookup_key=list(lookup.lookup_key),
                timestamp_lookup_key=lookup.timestamp_lookup_key,
                feature_timestamp_key=ts_key,
                feature_names=list(names),
                rename_outputs=lookup.rename_outputs,
            )
        drop = [c for c in self.exclude_columns if c in result.columns]
        return result.drop(*drop) if drop else result


def lookups_to_metadata(training_set: LocalTrainingSet) -> list[dict[str, Any]]:
    """The lookups of ``training_set`` as JSON-ready dicts."""
    return [asdict(lookup) for lookup in training_set.lookups]


def lookups_from_metadata(spec: str | list[dict[str, Any]]) -> list[FeatureLookupSpec]:
    """Rebuild lookups stored with a model (a JSON string or a list of dicts)."""
    items = json.loads(spec) if isinstance(spec, str) else spec
    return [FeatureLookupSpec(**item) for item in items]
