"""Worker of the drift calibration benchmark: runs inside the rendered project's packages."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from benchmarks.common import PACKAGE


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--project", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--seeds", type=int, default=20)
    args = parser.parse_args()

    local = __import__(f"{PACKAGE}_local.drift_check", fromlist=["scenario"])
    spark_module = __import__(f"{PACKAGE}_local.spark", fromlist=["get_spark"])
    spark = spark_module.get_spark()

    maxima: dict[str, dict[str, float]] = {}
    seconds = []
    for seed in range(args.seeds):
        started = time.perf_counter()
        for row in local.scenario(spark, seed):
            key = f"{row.feature}.{row.metric}"
            found = maxima.setdefault(key, {"max": 0.0, "threshold": row.threshold})
            found["max"] = round(max(found["max"], row.value), 4)
        seconds.append(round(time.perf_counter() - started, 1))
    shifts = {}
    for column, factor in (("trip_distance", 1.5), ("fare_amount", 1.3)):
        rows = local.scenario(spark, 0, shift=local.Shift(column, factor))
        shifts[f"{column} x{factor}"] = sorted(local.breached_features(rows))
    args.out.write_text(
        json.dumps({"no_drift_maxima": maxima, "one_input_shifted": shifts, "seconds": seconds})
    )


if __name__ == "__main__":
    main()
