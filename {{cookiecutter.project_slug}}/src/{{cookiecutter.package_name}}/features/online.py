"""The feature tables' online copies: published after each refresh, looked up by the serving
endpoint, and measured for freshness by monitoring."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from pyspark.sql import types as T  # noqa: N812

from ..names import FEATURE_FRESHNESS_TABLE, ONLINE_SUFFIX, table
from ..platform.base import OnlineFreshness, OnlineStoreSpec, Platform, PublishedTable
from .lookups import feature_lookups, require_feature_tables

log = logging.getLogger(__name__)

FRESHNESS_SCHEMA = T.StructType(
    [
        T.StructField("measured_at", T.TimestampType()),
        T.StructField("table_name", T.StringType()),
        T.StructField("online_table_name", T.StringType()),
        T.StructField("offline_version", T.LongType()),
        T.StructField("offline_committed_at", T.TimestampType()),
        T.StructField("online_version", T.LongType()),
        T.StructField("online_committed_at", T.TimestampType()),
        T.StructField("synced_at", T.TimestampType()),
        T.StructField("versions_behind", T.LongType()),
        T.StructField("lag_seconds", T.DoubleType()),
    ]
)


def online_table_name(source_table: str) -> str:
    """The online copy of ``catalog.schema.table``: ``catalog.schema.table_online``."""
    return f"{source_table}{ONLINE_SUFFIX}"


def online_tables(catalog: str, schema: str) -> list[tuple[str, str]]:
    """(feature table, online table) of every table the model looks features up in."""
    return [
        (lk.table_name, online_table_name(lk.table_name)) for lk in feature_lookups(catalog, schema)
    ]


def model_online_tables(model_name: str) -> tuple[str, ...]:
    """The online tables a model ``catalog.schema.model`` of this project is served from."""
    parts = model_name.split(".")
    if len(parts) != 3 or not all(parts):
        raise ValueError(
            f"expected a three-part model name catalog.schema.model, got {model_name!r}"
        )
    return tuple(online for _, online in online_tables(parts[0], parts[1]))


def publish_features(
    platform: Platform, catalog: str, schema: str, store: OnlineStoreSpec
) -> list[PublishedTable]:
    """Publish each feature table to the online store (a table whose online copy holds its
    current version already is left alone)."""
    require_feature_tables(platform, feature_lookups(catalog, schema))
    published = []
    for source, online in online_tables(catalog, schema):
        result = platform.publish_online_table(source, online, store)
        log.info(
            "%s -> %s: version %s (%s)",
            source,
            online,
            result.source_version,
            "published" if result.changed else "unchanged",
        )
        published.append(result)
    return published


def record_freshness(platform: Platform, catalog: str, schema: str) -> list[OnlineFreshness]:
    """Append one ``feature_freshness`` row per feature table: its newest offline version
    against the one its online copy holds (null online columns: never published). Feature
    tables that do not exist yet are left out (nothing to measure before the first refresh)."""
    measured = [
        platform.online_freshness(src, online)
        for src, online in online_tables(catalog, schema)
        if platform.table_exists(src)
    ]
    if not measured:
        log.info("no feature tables in %s.%s yet: no freshness to record", catalog, schema)
        return []
    now = datetime.now(UTC)
    rows = [
        (
            now,
            f.source_table,
            f.online_table,
            f.offline_version,
            f.offline_committed_at,
            f.online_version,
            f.online_committed_at,
            f.synced_at,
            f.versions_behind,
            f.lag_seconds,
        )
        for f in measured
    ]
    frame = platform.spark.createDataFrame(rows, FRESHNESS_SCHEMA)
    platform.write_table(frame, table(catalog, schema, FEATURE_FRESHNESS_TABLE), "append")
    return measured


def describe_freshness(freshness: OnlineFreshness) -> str:
    """One line per table for the job's output."""
    if freshness.online_version is None:
        return f"{freshness.online_table}: never published (offline v{freshness.offline_version})"
    return (
        f"{freshness.online_table}: holds v{freshness.online_version} of "
        f"{freshness.source_table} (offline v{freshness.offline_version}, "
        f"{freshness.versions_behind} versions behind, lag {freshness.lag_seconds:.0f} s)"
    )
