"""Worker (runs with the rendered project on ``PYTHONPATH``): the monitoring job's drift maths.

Reference and current rows come from Parquet files (see :mod:`benchmarks.synthetic`); they are
cached in Spark and counted first, as the monitoring task does, then the generated
``bin_counts`` + ``drift_rows`` (PSI and KS for every monitored column) are timed.
"""

from __future__ import annotations

import argparse
import importlib
import json
import time
from pathlib import Path
from typing import Any

from benchmarks.common import PACKAGE, median
from benchmarks.memory import PeakRss
from benchmarks.synthetic import write_parquet


def verdicts(rows: list[Any]) -> dict[str, dict[str, Any]]:
    """Per column: PSI, KS and whether any of them breached its threshold."""
    out: dict[str, dict[str, Any]] = {}
    for row in rows:
        entry = out.setdefault(row.feature, {"drifted": False})
        entry[row.metric] = round(float(row.value), 4)
        entry["drifted"] = entry["drifted"] or bool(row.breached)
    return out


def prepare(data_dir: Path, rows: int) -> tuple[Path, Path]:
    """Reference rows and drifted current rows (different seeds) as Parquet files."""
    names = importlib.import_module(f"{PACKAGE}.names")
    features = list(names.FEATURE_COLUMNS)
    reference = write_parquet(data_dir / f"drift-ref-{rows}.parquet", features, rows, seed=21)
    current = write_parquet(
        data_dir / f"drift-cur-{rows}.parquet", features, rows, seed=22, drifted=True
    )
    return reference, current


def run(data_dir: Path, rows: int, repeat: int) -> dict[str, Any]:
    """Cache both sides, then time the drift statistics ``repeat`` times."""
    monitor = importlib.import_module(f"{PACKAGE}.monitoring.monitor")
    names = importlib.import_module(f"{PACKAGE}.names")
    spark_mod = importlib.import_module(f"{PACKAGE}_local.spark")
    columns = list(monitor.MONITORED_COLUMNS)
    reference, current = prepare(data_dir, rows)
    with PeakRss() as memory:
        spark = spark_mod.get_spark()
        started = time.perf_counter()
        baseline = spark.read.parquet(str(reference)).select(*columns).cache()
        recent = spark.read.parquet(str(current)).select(*columns).cache()
        n_base, n_cur = baseline.count(), recent.count()
        load = time.perf_counter() - started
        runs = []
        for _ in range(repeat):
            before = memory.sample()
            memory.reset()
            started = time.perf_counter()
            counts = monitor.bin_counts(baseline, recent, columns, names.CATEGORICAL_FEATURES)
            rows = monitor.drift_rows(counts, monitor.Thresholds())
            runs.append(
                {
                    "seconds": time.perf_counter() - started,
                    "rss_before_mib": before / 2**20,
                    "peak_rss_mib": memory.peak_mib,
                }
            )
            print(f"spark drift {n_cur} rows: {runs[-1]['seconds']:.2f}s", flush=True)
    return {
        "engine": "generated monitoring (Spark)",
        "rows_reference": n_base,
        "rows_current": n_cur,
        "columns": columns,
        "reference": str(reference),
        "current": str(current),
        "load_and_cache_seconds": round(load, 3),
        "partitions_per_side": baseline.rdd.getNumPartitions(),
        # cold: the first computation in this fresh process, as the monitoring job runs it
        "cold_seconds": round(runs[0]["seconds"], 4),
        "warm_seconds": median([r["seconds"] for r in runs[1:]]) if len(runs) > 1 else None,
        "seconds": round(runs[0]["seconds"], 4),
        "runs": len(runs),
        "rss_before_mib": round(max(r["rss_before_mib"] for r in runs)),
        "peak_rss_mib": round(max(r["peak_rss_mib"] for r in runs)),
        "verdicts": verdicts(rows),
    }


def main() -> None:
    """CLI for the orchestrator."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--project", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--rows", type=int, required=True)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    args.out.write_text(json.dumps(run(args.data_dir, args.rows, args.repeat), indent=2))


if __name__ == "__main__":
    main()
