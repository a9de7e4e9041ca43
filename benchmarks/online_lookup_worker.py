"""Worker (runs with the rendered project on ``PYTHONPATH``): key lookups in the local online
store, one request at a time, as the local ``serve`` makes them.

A 10k-key pickup feature table (several windows per key) is written as a Delta table, published
to the SQLite online store, then looked up one key per call in random order. Beside it, the
alternative the store replaced: reading the Delta table and filtering by key per request.
"""

from __future__ import annotations

import argparse
import importlib
import json
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from benchmarks.common import PACKAGE, median

WINDOWS = 4  # feature rows per key: the store keeps the newest


def _feature_table(keys: int, names: Any) -> pa.Table:
    rng = np.random.default_rng(7)
    start = datetime(2016, 1, 1, tzinfo=UTC)
    zips = np.repeat(np.arange(keys), WINDOWS)
    ends = [start + timedelta(hours=int(h)) for h in np.tile(np.arange(WINDOWS), keys)]
    columns = {names.PICKUP_ZIP: zips, names.PICKUP_FEATURE_TS: ends}
    for feature in names.PICKUP_FEATURES:
        columns[feature] = rng.random(len(zips))
    return pa.table(columns)


def _percentiles(samples: list[float]) -> dict[str, float]:
    values = np.asarray(samples) * 1000
    return {
        "median_ms": round(float(np.median(values)), 4),
        "p95_ms": round(float(np.percentile(values, 95)), 4),
        "p99_ms": round(float(np.percentile(values, 99)), 4),
        "max_ms": round(float(values.max()), 4),
    }


def run(keys: int, requests: int) -> dict[str, Any]:
    names = importlib.import_module(f"{PACKAGE}.names")
    delta_store = importlib.import_module(f"{PACKAGE}_local.delta_store")
    online_store = importlib.import_module(f"{PACKAGE}_local.online_store")
    work = Path(tempfile.mkdtemp(prefix="online-lookup-"))
    rows = _feature_table(keys, names)
    tables = delta_store.DeltaStore(work / "warehouse")
    source = "dev.bench.pickup_features"
    tables.write_at(tables.path(source), rows, "overwrite")
    version, committed = tables.head(source)

    store = online_store.LocalOnlineStore(work / "online" / "bench.db")
    started = time.perf_counter()
    store.publish(
        f"{source}_online",
        source_table=source,
        rows=tables.read_at(tables.path(source)),
        primary_keys=[names.PICKUP_ZIP],
        timestamp_key=names.PICKUP_FEATURE_TS,
        version=version,
        committed_at=committed,
    )
    publish_seconds = time.perf_counter() - started

    order = np.random.default_rng(11).integers(0, keys, requests)
    features = list(names.PICKUP_FEATURES)
    samples = []
    for key in order:
        begin = time.perf_counter()
        (found,) = store.lookup(f"{source}_online", [(int(key),)], features)
        samples.append(time.perf_counter() - begin)
        assert found is not None
    sqlite = _percentiles(samples)
    sqlite["first_ms"] = round(samples[0] * 1000, 4)  # cold: the first lookup of the process

    delta_samples = []
    for key in order[: max(20, requests // 50)]:
        begin = time.perf_counter()
        table = tables.read_at(tables.path(source))
        match = table.filter(pc.equal(table[names.PICKUP_ZIP], int(key)))
        match.sort_by([(names.PICKUP_FEATURE_TS, "descending")]).slice(0, 1).to_pylist()
        delta_samples.append(time.perf_counter() - begin)
    delta = _percentiles(delta_samples)
    delta["first_ms"] = round(delta_samples[0] * 1000, 4)
    return {
        "keys": keys,
        "feature_rows": rows.num_rows,
        "requests": requests,
        "publish_seconds": round(publish_seconds, 3),
        "sqlite_lookup": sqlite,
        "delta_read_by_key": delta,
        "delta_to_sqlite_median_ratio": round(
            median(delta_samples) / max(median(samples), 1e-9), 1
        ),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--project", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--keys", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=2_000)
    args = parser.parse_args()
    args.out.write_text(json.dumps(run(args.keys, args.requests)))


if __name__ == "__main__":
    main()
