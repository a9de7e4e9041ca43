"""Point-in-time join in plain Spark (the semantics of a feature lookup with a timestamp key)."""

from __future__ import annotations

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F  # noqa: N812

_TS = "__pit_ts"
_IS_ROW = "__pit_is_row"
_PACKED = "__pit_features"


def point_in_time_join(
    df: DataFrame,
    features: DataFrame,
    lookup_key: list[str],
    timestamp_lookup_key: str,
    feature_timestamp_key: str,
    feature_names: list[str] | None = None,
    rename_outputs: dict[str, str] | None = None,
) -> DataFrame:
    """Left-join onto each row of ``df`` the latest feature row with the same ``lookup_key``
    and ``feature_timestamp_key <= df[timestamp_lookup_key]``.

    Both frames are unioned and ordered per key by time (feature rows first on ties); a running
    ``last(..., ignorenulls)`` over the packed feature struct carries the latest feature row
    forward. One shuffle, no range join. Rows without an earlier feature row get nulls; genuine
    nulls inside a feature row are kept (the whole row is carried, not single columns).
    Output: all columns of ``df`` followed by ``feature_names`` (renamed by ``rename_outputs``).
    """
    keys = list(lookup_key)
    missing = [c for c in [*keys, timestamp_lookup_key] if c not in df.columns]
    missing += [
        f"features.{c}" for c in [*keys, feature_timestamp_key] if c not in features.columns
    ]
    if missing:
        raise ValueError(f"point-in-time join: missing columns {missing}")
    names = feature_names or [
        c for c in features.columns if c not in (*keys, feature_timestamp_key)
    ]
    renames = rename_outputs or {}
    outputs = [renames.get(n, n) for n in names]
    clash = sorted(set(outputs) & set(df.columns))
    if clash:
        raise ValueError(f"point-in-time join: feature columns {clash} already exist in the input")

    right = features.where(F.col(feature_timestamp_key).isNotNull()).select(
        *[F.col(k) for k in keys],
        F.col(feature_timestamp_key).cast("timestamp").alias(_TS),
        F.lit(0).alias(_IS_ROW),
        F.struct(*[F.col(n).alias(o) for n, o in zip(names, outputs, strict=True)]).alias(_PACKED),
    )
    for key in keys:
        right = right.where(F.col(key).isNotNull())
    packed_type = right.schema[_PACKED].dataType
    left = (
        df.withColumn(_TS, F.col(timestamp_lookup_key).cast("timestamp"))
        .withColumn(_IS_ROW, F.lit(1))
        .withColumn(_PACKED, F.lit(None).cast(packed_type))
    )
    ordered = (
        Window.partitionBy(*keys)
        .orderBy(F.col(_TS).asc_nulls_first(), F.col(_IS_ROW).asc())
        .rowsBetween(Window.unboundedPreceding, Window.currentRow)
    )
    joined = (
        left.unionByName(right, allowMissingColumns=True)
        .withColumn(_PACKED, F.last(_PACKED, ignorenulls=True).over(ordered))
        .where(F.col(_IS_ROW) == 1)
    )
    return joined.select(
        *[F.col(c) for c in df.columns], *[F.col(f"{_PACKED}.{o}") for o in outputs]
    )
