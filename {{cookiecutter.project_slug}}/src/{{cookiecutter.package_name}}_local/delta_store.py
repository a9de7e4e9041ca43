"""Delta tables on the local file system through delta-rs (no Spark Delta jars needed)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
from deltalake import CommitProperties, DeltaTable, write_deltalake

FEATURE_META_SUFFIX = ".feature_table.json"
# Commit info of a table the local twin generated to stand in for data that exists before any
# job runs on Databricks (the seeded sample trips): its creation is not an update of the table.
SEEDED_COMMIT = {"localTwin": "seeded sample"}


def normalize_arrow(table: pa.Table) -> pa.Table:
    """Delta- and Spark-friendly types: timestamps as ``timestamp[us, UTC]``, no view types."""
    fields = []
    for field in table.schema:
        typ = field.type
        if pa.types.is_timestamp(typ):
            typ = pa.timestamp("us", tz="UTC")
        elif pa.types.is_large_string(typ) or pa.types.is_string_view(typ):
            typ = pa.string()
        elif pa.types.is_large_binary(typ) or pa.types.is_binary_view(typ):
            typ = pa.binary()
        fields.append(pa.field(field.name, typ, nullable=True))
    schema = pa.schema(fields)
    if schema.equals(table.schema):
        return table
    columns = []
    for column, field in zip(table.columns, schema, strict=True):
        if pa.types.is_timestamp(column.type) and column.type.tz is None:
            column = column.cast(pa.timestamp(column.type.unit, tz="UTC"))
        columns.append(column.cast(field.type))
    return pa.Table.from_arrays(columns, schema=schema)


class DeltaStore:
    """Maps ``catalog.schema.table`` names to Delta folders under ``root``."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, name: str) -> Path:
        """Folder of a three-part table name."""
        parts = [p.strip("`") for p in name.split(".")]
        if len(parts) != 3 or not all(parts):
            raise ValueError(f"expected a three-part table name catalog.schema.table, got {name!r}")
        return self.root.joinpath(*parts)

    def exists_at(self, path: Path) -> bool:
        return path.exists() and DeltaTable.is_deltatable(str(path))

    def exists(self, name: str) -> bool:
        return self.exists_at(self.path(name))

    def read_at(self, path: Path) -> pa.Table:
        if not self.exists_at(path):
            raise FileNotFoundError(f"no Delta table at {path}")
        # A threaded scan leaves pyarrow threads calling into deltalake's Python filesystem,
        # which aborts about every second interpreter exit ("terminate called without an
        # active exception"); a single-threaded scan does not.
        scan = DeltaTable(str(path)).to_pyarrow_dataset().to_table(use_threads=False)
        return normalize_arrow(scan)

    def head(self, name: str) -> tuple[int, datetime]:
        """The newest Delta version of the table and its commit time."""
        path = self.path(name)
        if not self.exists_at(path):
            raise FileNotFoundError(f"no Delta table at {path}")
        table = DeltaTable(str(path))
        commit = table.history(1)[0]
        return table.version(), datetime.fromtimestamp(commit["timestamp"] / 1000, UTC)

    def write_at(
        self, path: Path, data: pa.Table, mode: str, commit_info: dict[str, str] | None = None
    ) -> None:
        """Append or overwrite; ``commit_info`` is added to the commit's ``commitInfo``."""
        if mode not in ("append", "overwrite"):
            raise ValueError(f"mode must be 'append' or 'overwrite', got {mode!r}")
        path.parent.mkdir(parents=True, exist_ok=True)
        schema_mode = "overwrite" if mode == "overwrite" else "merge"
        properties = CommitProperties(custom_metadata=commit_info) if commit_info else None
        write_deltalake(
            str(path),
            normalize_arrow(data),
            mode=mode,
            schema_mode=schema_mode,
            commit_properties=properties,
        )

    def merge_at(self, path: Path, data: pa.Table, keys: Sequence[str]) -> None:
        """Upsert ``data`` on ``keys`` (the last source row wins for duplicate keys)."""
        if not keys:
            raise ValueError("merge needs at least one key column")
        missing = [k for k in keys if k not in data.column_names]
        if missing:
            raise ValueError(
                f"merge keys {missing} are not columns of the data ({data.column_names})"
            )
        self._merge(path, data, keys, update=True)

    def insert_new_at(self, path: Path, data: pa.Table, keys: Sequence[str]) -> None:
        """Insert the rows whose ``keys`` are not in the table yet (an insert-only merge)."""
        if not keys:
            raise ValueError("an insert-only merge needs at least one key column")
        self._merge(path, data, keys, update=False)

    def _merge(self, path: Path, data: pa.Table, keys: Sequence[str], *, update: bool) -> None:
        """Merge ``data`` on ``keys`` (last row per key wins): insert new keys, and with
        ``update`` also overwrite the rows of existing ones."""
        data = _dedupe_last(normalize_arrow(data), keys)
        if not self.exists_at(path):
            self.write_at(path, data, "overwrite")
            return
        predicate = " AND ".join(f"t.`{k}` = s.`{k}`" for k in keys)
        merger = DeltaTable(str(path)).merge(
            source=data,
            predicate=predicate,
            source_alias="s",
            target_alias="t",
            merge_schema=True,
        )
        if update:
            merger = merger.when_matched_update_all()
        merger.when_not_matched_insert_all().execute()

    # --- feature-table metadata (the keys Databricks keeps in Unity Catalog) -----------------
    def meta_path(self, name: str) -> Path:
        path = self.path(name)
        return path.with_name(path.name + FEATURE_META_SUFFIX)

    def write_meta(self, name: str, meta: dict[str, Any]) -> None:
        target = self.meta_path(name)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(meta, indent=2, sort_keys=True))

    def read_meta(self, name: str) -> dict[str, Any]:
        target = self.meta_path(name)
        if not target.exists():
            raise LookupError(f"{name} is not a feature table (no {target.name})")
        return json.loads(target.read_text())


def _dedupe_last(data: pa.Table, keys: Sequence[str]) -> pa.Table:
    """Keep the last row for each key combination."""
    if data.num_rows < 2:
        return data
    index = pa.array(range(data.num_rows), pa.int64())
    grouped = (
        data.append_column("__row", index)
        .group_by(list(keys), use_threads=False)
        .aggregate([("__row", "max")])
    )
    keep = grouped.column("__row_max").combine_chunks().sort()
    return data.take(keep)


def created_as_seed(path: Path) -> bool:
    """Whether version 0 of the table at ``path`` is a generated stand-in (``SEEDED_COMMIT``)."""
    first = path / "_delta_log" / f"{0:020d}.json"
    if not first.is_file():
        return False
    for line in first.read_text().splitlines():
        info = json.loads(line).get("commitInfo") if line.strip() else None
        if info is not None:
            return all(info.get(k) == v for k, v in SEEDED_COMMIT.items())
    return False
