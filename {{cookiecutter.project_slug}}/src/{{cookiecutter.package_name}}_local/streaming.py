"""A local stand-in for Structured Streaming from a Delta table with the ``availableNow`` trigger.

Spark's Delta source needs the Delta jars, which local Spark does not have; local tables are
written by delta-rs. This reads the same thing from the Delta log: a first run takes the
table's snapshot as one micro-batch (as Spark's initial snapshot), later runs take the files
each new table version added, one micro-batch per version, up to the version that was current
when the run started. The checkpoint (``offsets.json`` in the checkpoint folder) records the last
processed version and batch id, written only after the batch was processed: a batch that failed
is processed again by the next run, as Spark replays an uncommitted batch.

Like Spark's Delta source without ``skipChangeCommits``, a version that removed data files
(an overwrite, delete or update) stops the stream with an error.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.dataset as ds
from deltalake import DeltaTable

from {{ cookiecutter.package_name }}.errors import ActionableError

from .delta_store import normalize_arrow

OFFSETS_FILE = "offsets.json"


class StreamSourceError(ActionableError):
    """The source changed in a way an append-only stream cannot follow."""


@dataclass(frozen=True)
class MicroBatch:
    """The rows one micro-batch processes, and the source version it ends at."""

    batch_id: int
    version: int
    rows: pa.Table


def _files(table: Path, version: int) -> set[str]:
    """Data files of the table at ``version``, relative to the table folder."""
    uris = DeltaTable(str(table), version=version).file_uris()
    return {os.path.relpath(uri, table) for uri in uris}


def _read_files(table: Path, version: int, files: set[str]) -> pa.Table:
    """The rows of ``files`` (partition columns included) as of ``version``."""
    dataset = DeltaTable(str(table), version=version).to_pyarrow_dataset()
    fragments = [f for f in dataset.get_fragments() if f.path in files]
    chosen = ds.FileSystemDataset(fragments, dataset.schema, dataset.format, dataset.filesystem)
    # Single-threaded, as every local scan (see DeltaStore.read_at).
    return normalize_arrow(chosen.to_table(use_threads=False))


class LocalDeltaStream:
    """Micro-batches of what the Delta table at ``source`` gained since ``checkpoint``."""

    def __init__(self, source: Path, checkpoint: Path) -> None:
        self.source = source
        self.checkpoint = checkpoint
        self.offsets = checkpoint / OFFSETS_FILE

    def _last(self) -> tuple[int, int] | None:
        """(last processed version, last batch id), or None before the first batch."""
        if not self.offsets.exists():
            return None
        recorded = json.loads(self.offsets.read_text())
        if recorded.get("source") != str(self.source):
            raise StreamSourceError(
                f"checkpoint {self.checkpoint} belongs to the stream of {recorded.get('source')}, "
                f"not {self.source}: give this stream a new checkpoint"
            )
        return int(recorded["version"]), int(recorded["batch_id"])

    def commit(self, version: int, batch_id: int) -> None:
        """Record ``version`` as processed (atomically: a crash leaves the previous record)."""
        self.checkpoint.mkdir(parents=True, exist_ok=True)
        record = {"source": str(self.source), "version": version, "batch_id": batch_id}
        partial = self.offsets.with_suffix(".tmp")
        partial.write_text(json.dumps(record, indent=2))
        partial.replace(self.offsets)

    def pending(self) -> Iterator[MicroBatch]:
        """The micro-batches up to the table's current version; empty versions are committed
        without a batch. Call :meth:`commit` after each batch is processed."""
        latest = DeltaTable(str(self.source)).version()
        last = self._last()
        if last is None:
            rows = _read_files(self.source, latest, _files(self.source, latest))
            if rows.num_rows:
                yield MicroBatch(0, latest, rows)
            else:
                self.commit(latest, -1)
            return
        version, batch_id = last
        if version > latest:
            raise StreamSourceError(
                f"checkpoint {self.checkpoint} is at version {version} of {self.source}, which "
                f"is at version {latest}: the table was recreated; give this stream a new "
                "checkpoint"
            )
        before = _files(self.source, version)
        for current in range(version + 1, latest + 1):
            after = _files(self.source, current)
            if before - after:
                raise StreamSourceError(
                    f"version {current} of {self.source} removed or rewrote data (not an "
                    "append): a stream reads appends only; give this stream a new checkpoint "
                    "to start over from the table's current snapshot"
                )
            added = after - before
            if added:
                batch_id += 1
                yield MicroBatch(batch_id, current, _read_files(self.source, current, added))
            else:
                self.commit(current, batch_id)
            before = after
