"""Vectorized synthetic feature rows (numpy), written to Parquet in row groups.

The generated project's sample generator builds trips row by row and is far too slow for
millions of rows; benchmarks only need plausible feature distributions, so they draw each
feature column directly. ``drifted`` shifts a known subset of columns (see :data:`DRIFTED`).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

CHUNK_ROWS = 1_000_000
# Small row groups let Spark split a file across all cores (it splits Parquet by row group).
ROW_GROUP_ROWS = 100_000
# Columns the drifted data set shifts (directly, or through trip_distance); the others keep
# their reference distribution. ``prediction`` follows the fare, hence the distance.
DRIFTED = ("trip_distance", "trip_duration_min", "pickup_mean_fare", "prediction")


def _column(name: str, n: int, rng: np.random.Generator, drifted: bool) -> np.ndarray:
    """One feature column; unknown names get a standard normal column."""
    if name == "pickup_hour":
        weights = np.array([1, 1, 1, 1, 1, 2, 4, 6, 7, 6, 5, 5, 5, 5, 5, 5, 6, 7, 8, 7, 6, 5, 4, 2])
        return rng.choice(24, size=n, p=weights / weights.sum()).astype("float64")
    if name == "pickup_weekday":
        return rng.integers(1, 8, size=n).astype("float64")
    if name in ("pickup_trip_count", "dropoff_trip_count"):
        return rng.poisson(200 if name.startswith("pickup") else 150, size=n).astype("float64")
    if name == "pickup_mean_fare":
        return rng.normal(16.0 if drifted else 14.0, 3.0, size=n)
    if name == "dropoff_mean_fare":
        return rng.normal(14.0, 3.0, size=n)
    if name == "pickup_mean_distance":
        return rng.normal(3.0, 0.8, size=n)
    return rng.standard_normal(n)


def feature_chunk(
    columns: Sequence[str], n: int, seed: int, drifted: bool = False
) -> dict[str, np.ndarray]:
    """``n`` rows of ``columns`` plus ``fare_amount`` and ``prediction``."""
    rng = np.random.default_rng(seed)
    distance = np.clip(rng.lognormal(0.7 + (0.5 if drifted else 0.0), 0.7, size=n), 0.1, 60.0)
    duration = distance * 3.2 + rng.gamma(2.0, 2.5, size=n)
    data: dict[str, np.ndarray] = {}
    for name in columns:
        if name == "trip_distance":
            data[name] = distance
        elif name == "trip_duration_min":
            data[name] = duration
        else:
            data[name] = _column(name, n, rng, drifted)
    fare = 2.5 + 2.5 * distance + 0.4 * duration + rng.normal(0.0, 1.5, size=n)
    data["fare_amount"] = fare
    data["prediction"] = fare + rng.normal(0.0, 1.0, size=n)
    return data


def write_parquet(
    path: Path, columns: Sequence[str], n_rows: int, seed: int, drifted: bool = False
) -> Path:
    """Write ``n_rows`` rows to one Parquet file (reused if it already has that layout)."""
    if path.is_file():
        meta = pq.ParquetFile(path).metadata
        if meta.num_rows == n_rows and meta.num_row_groups == -(-n_rows // ROW_GROUP_ROWS):
            return path
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial")
    writer: pq.ParquetWriter | None = None
    try:
        for index, start in enumerate(range(0, n_rows, CHUNK_ROWS)):
            size = min(CHUNK_ROWS, n_rows - start)
            table = pa.table(feature_chunk(columns, size, seed * 1_000 + index, drifted))
            if writer is None:
                writer = pq.ParquetWriter(partial, table.schema)
            writer.write_table(table, row_group_size=ROW_GROUP_ROWS)
    finally:
        if writer is not None:
            writer.close()
    partial.replace(path)
    return path


def read_numpy(path: Path, columns: Sequence[str]) -> np.ndarray:
    """The ``columns`` of a Parquet file as one float64 matrix (rows x columns)."""
    table = pq.read_table(path, columns=list(columns))
    return np.column_stack([table.column(c).to_numpy() for c in columns])
