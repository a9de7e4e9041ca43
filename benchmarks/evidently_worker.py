"""Worker for the benchmark venv (``.venv-bench``): evidently's ``DataDriftPreset``.

Only pandas, pyarrow and evidently are imported here: this venv has no Spark and no project.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import time
from pathlib import Path
from typing import Any

from benchmarks.memory import PeakRss

_VALUE_DRIFT = re.compile(r"ValueDrift\(column=(?P<column>[^,]+),method=(?P<method>[^,]+),")


def verdicts(snapshot: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Per column: the test evidently chose, its value and threshold, and the verdict."""
    out: dict[str, dict[str, Any]] = {}
    for metric in snapshot["metrics"]:
        match = _VALUE_DRIFT.match(metric["metric_name"])
        if not match:
            continue
        method = match["method"]
        threshold = float(metric["config"]["threshold"])
        value = float(metric["value"])
        # p-value tests detect drift below the threshold, distances and divergences at/above it
        is_p_value = "p_value" in method or "test" in method.lower()
        drifted = value < threshold if is_p_value else value >= threshold
        out[match["column"]] = {
            "method": method,
            "value": round(value, 4),
            "threshold": threshold,
            "drifted": drifted,
        }
    return out


def run(reference: Path, current: Path, columns: list[str], repeat: int) -> dict[str, Any]:
    """Load both sides into pandas, then time the DataDriftPreset report ``repeat`` times."""
    import pandas as pd
    from evidently import Report
    from evidently.presets import DataDriftPreset

    with PeakRss() as memory:
        started = time.perf_counter()
        ref = pd.read_parquet(reference, columns=columns)
        cur = pd.read_parquet(current, columns=columns)
        load = time.perf_counter() - started
        runs = []
        for _ in range(repeat):
            before = memory.sample()
            memory.reset()
            started = time.perf_counter()
            snapshot = Report([DataDriftPreset()]).run(current_data=cur, reference_data=ref)
            result = snapshot.dict()
            runs.append(
                {
                    "seconds": time.perf_counter() - started,
                    "rss_before_mib": before / 2**20,
                    "peak_rss_mib": memory.peak_mib,
                }
            )
            print(f"evidently drift {len(cur)} rows: {runs[-1]['seconds']:.2f}s", flush=True)
    return {
        "engine": "evidently DataDriftPreset",
        "rows_reference": len(ref),
        "rows_current": len(cur),
        "columns": columns,
        "load_seconds": round(load, 3),
        # cold: the first report in this fresh process
        "cold_seconds": round(runs[0]["seconds"], 4),
        "warm_seconds": (
            round(statistics.median(r["seconds"] for r in runs[1:]), 4) if len(runs) > 1 else None
        ),
        "seconds": round(runs[0]["seconds"], 4),
        "runs": len(runs),
        "rss_before_mib": round(max(r["rss_before_mib"] for r in runs)),
        "peak_rss_mib": round(max(r["peak_rss_mib"] for r in runs)),
        "verdicts": verdicts(result),
    }


def main() -> None:
    """CLI for the orchestrator."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--project", type=Path, help="unused (the orchestrator passes it)")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--reference", type=Path, required=True)
    parser.add_argument("--current", type=Path, required=True)
    parser.add_argument("--columns", nargs="+", required=True)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    figures = run(args.reference, args.current, args.columns, args.repeat)
    args.out.write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
