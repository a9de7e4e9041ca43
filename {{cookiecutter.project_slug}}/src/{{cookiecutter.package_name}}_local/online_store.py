"""The local online feature store: the latest row per primary key of each published feature
table, in SQLite, looked up by key.

A Databricks online store (Lakebase) holds, per published feature table, one row per primary
key: the newest by the table's timestamp key. Here each online table is a SQLite table with
that primary key, filled from the offline Delta table by :meth:`LocalOnlineStore.publish` (a
merge: keys the offline table no longer has are kept, as Databricks' merge publish does), and
``_published`` records which offline version each online table holds.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from contextlib import closing
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

PUBLISHED = "_published"
ONLINE_FOLDER = "online"


@dataclass(frozen=True)
class PublishedVersion:
    """What an online table holds: the source table, its Delta version and that version's
    commit time, and when it was published."""

    source_table: str
    primary_keys: tuple[str, ...]
    version: int
    committed_at: datetime
    synced_at: datetime


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _sqlite_type(typ: pa.DataType) -> str:
    if pa.types.is_integer(typ) or pa.types.is_boolean(typ):
        return "INTEGER"
    if pa.types.is_floating(typ) or pa.types.is_decimal(typ):
        return "REAL"
    return "TEXT"


def _cell(value: Any) -> Any:
    """A Python value SQLite stores: timestamps as ISO text, everything else as it is."""
    return value.isoformat() if isinstance(value, datetime) else value


def latest_per_key(rows: pa.Table, primary_keys: Sequence[str], timestamp_key: str) -> pa.Table:
    """The newest row (by ``timestamp_key``) of each primary key."""
    if rows.num_rows == 0:
        return rows
    order = [(k, "ascending") for k in primary_keys] + [(timestamp_key, "descending")]
    ordered = rows.take(pc.sort_indices(rows, sort_keys=order))
    keys = ordered.select(list(primary_keys)).to_pylist()
    first = [i for i, key in enumerate(keys) if i == 0 or key != keys[i - 1]]
    return ordered.take(pa.array(first, type=pa.int64()))


class LocalOnlineStore:
    """One SQLite file per online store (``<state>/online/<store>.db``)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @classmethod
    def named(cls, state: Path, name: str) -> LocalOnlineStore:
        if not name.strip() or "/" in name or name.startswith("."):
            raise ValueError(f"invalid online store name {name!r}")
        return cls(state / ONLINE_FOLDER / f"{name.strip()}.db")

    def _connect(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(self.path)
        conn.execute(
            f"CREATE TABLE IF NOT EXISTS {PUBLISHED} (online_table TEXT PRIMARY KEY, "
            "source_table TEXT, primary_keys TEXT, version INTEGER, committed_at TEXT, "
            "synced_at TEXT)"
        )
        return conn

    def published(self, online_table: str) -> PublishedVersion | None:
        """What ``online_table`` holds, or ``None`` before its first publish."""
        if not self.path.exists():
            return None
        with closing(self._connect()) as conn:
            row = conn.execute(
                f"SELECT source_table, primary_keys, version, committed_at, synced_at "
                f"FROM {PUBLISHED} WHERE online_table = ?",
                [online_table],
            ).fetchone()
        if row is None:
            return None
        return PublishedVersion(
            row[0],
            tuple(row[1].split(",")),
            int(row[2]),
            datetime.fromisoformat(row[3]),
            datetime.fromisoformat(row[4]),
        )

    def online_table_for(self, source_table: str) -> str | None:
        """The online table published from ``source_table`` (the latest one, if several)."""
        if not self.path.exists():
            return None
        with closing(self._connect()) as conn:
            row = conn.execute(
                f"SELECT online_table FROM {PUBLISHED} WHERE source_table = ? "
                "ORDER BY synced_at DESC LIMIT 1",
                [source_table],
            ).fetchone()
        return None if row is None else str(row[0])

    def publish(
        self,
        online_table: str,
        *,
        source_table: str,
        rows: pa.Table,
        primary_keys: Sequence[str],
        timestamp_key: str,
        version: int,
        committed_at: datetime,
    ) -> bool:
        """Merge the newest row per key of ``rows`` (version ``version`` of ``source_table``)
        into ``online_table``; return whether anything was written (``False`` when the online
        table holds that version already)."""
        held = self.published(online_table)
        if held is not None and held.version >= version:
            return False
        latest = latest_per_key(rows, primary_keys, timestamp_key)
        columns = latest.column_names
        with closing(self._connect()) as conn, conn:
            definitions = ", ".join(
                f"{_quote(f.name)} {_sqlite_type(f.type)}" for f in latest.schema
            )
            keys = ", ".join(_quote(k) for k in primary_keys)
            conn.execute(
                f"CREATE TABLE IF NOT EXISTS {_quote(online_table)} "
                f"({definitions}, PRIMARY KEY ({keys}))"
            )
            existing = {r[1] for r in conn.execute(f"PRAGMA table_info({_quote(online_table)})")}
            for field in latest.schema:
                if field.name not in existing:  # a new feature column: schema evolution
                    conn.execute(
                        f"ALTER TABLE {_quote(online_table)} ADD COLUMN "
                        f"{_quote(field.name)} {_sqlite_type(field.type)}"
                    )
            placeholders = ", ".join("?" for _ in columns)
            conn.executemany(
                f"INSERT OR REPLACE INTO {_quote(online_table)} "
                f"({', '.join(_quote(c) for c in columns)}) VALUES ({placeholders})",
                [tuple(_cell(v) for v in row.values()) for row in latest.to_pylist()],
            )
            conn.execute(
                f"INSERT OR REPLACE INTO {PUBLISHED} VALUES (?, ?, ?, ?, ?, ?)",
                [
                    online_table,
                    source_table,
                    ",".join(primary_keys),
                    version,
                    committed_at.isoformat(),
                    datetime.now(UTC).isoformat(),
                ],
            )
        return True

    def lookup(
        self, online_table: str, keys: Sequence[tuple[Any, ...]], columns: Sequence[str]
    ) -> list[tuple[Any, ...] | None]:
        """``columns`` of the row of each primary-key tuple in ``keys`` (``None`` where the
        online table has no row for it)."""
        held = self.published(online_table)
        if held is None:
            raise LookupError(f"online table {online_table} was never published")
        where = " AND ".join(f"{_quote(k)} = ?" for k in held.primary_keys)
        query = (
            f"SELECT {', '.join(_quote(c) for c in columns)} FROM {_quote(online_table)} "
            f"WHERE {where}"
        )
        with closing(sqlite3.connect(self.path)) as conn:
            return [conn.execute(query, list(key)).fetchone() for key in keys]


def online_stores(state: Path) -> list[LocalOnlineStore]:
    """Every local online store of the state folder."""
    return [LocalOnlineStore(p) for p in sorted((state / ONLINE_FOLDER).glob("*.db"))]
