"""``python -m benchmarks [--quick] [--only NAME ...]``: run the benchmarks, write results/."""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks import (
    canary_rmse,
    compute,
    drift,
    drift_calibration,
    lifecycle,
    online_lookup,
    scoring,
    template_suite,
    time_to_green,
)
from benchmarks.common import Context
from benchmarks.summary import write_summary

BENCHMARKS = (
    "template_suite",
    "time_to_green",
    "lifecycle",
    "scoring",
    "drift",
    "drift_calibration",
    "compute",
    "online_lookup",
    "canary_rmse",
)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="benchmarks/run", description=__doc__)
    parser.add_argument(
        "--quick",
        action="store_true",
        help="small sizes (100k rows), one run each, no full template suite: about 10 minutes",
    )
    parser.add_argument("--only", nargs="+", choices=sorted(BENCHMARKS), help="run only these")
    parser.add_argument("--repeat", type=int, help="runs per measurement (default 3, quick 1)")
    parser.add_argument(
        "--scoring-sizes", type=int, nargs="+", help="rows to score (default 100k 1M 10M)"
    )
    parser.add_argument("--drift-sizes", type=int, nargs="+", help="rows per side (default 1M 10M)")
    parser.add_argument(
        "--evidently-max-rows",
        type=int,
        help="skip evidently above this many rows per side (default: no limit)",
    )
    parser.add_argument(
        "--work-dir",
        type=Path,
        default=Path(tempfile.gettempdir()) / "template-benchmarks",
        help="renders, generated data (about 3 GB at 10M rows) and logs",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the selected benchmarks in order; each writes benchmarks/results/<name>.json."""
    args = _parser().parse_args(argv)
    load_at_start = os.getloadavg()
    repeat = args.repeat or (1 if args.quick else 3)
    ctx = Context(work=args.work_dir.resolve(), quick=args.quick, repeat=repeat)
    ctx.work.mkdir(parents=True, exist_ok=True)
    runners: dict[str, Callable[[], Any]] = {
        "template_suite": lambda: template_suite.run(ctx, full_suite=not args.quick),
        "time_to_green": lambda: time_to_green.run(ctx),
        "lifecycle": lambda: lifecycle.run(ctx),
        "scoring": lambda: scoring.run(
            ctx, tuple(args.scoring_sizes) if args.scoring_sizes else None
        ),
        "drift": lambda: drift.run(
            ctx, tuple(args.drift_sizes) if args.drift_sizes else None, args.evidently_max_rows
        ),
        "drift_calibration": lambda: drift_calibration.run(ctx),
        "compute": lambda: compute.run(ctx),
        "online_lookup": lambda: online_lookup.run(ctx),
        "canary_rmse": lambda: canary_rmse.run(ctx),
    }
    failed = []
    for name in args.only or list(BENCHMARKS):
        print(f"\n=== {name} (logs in {ctx.work / 'logs'})", flush=True)
        started = time.perf_counter()
        try:
            runners[name]()
        except Exception as exc:  # report and go on with the other benchmarks
            print(f"!!! {name} failed: {type(exc).__name__}: {exc}", flush=True)
            failed.append(name)
        print(f"=== {name}: {time.perf_counter() - started:.0f}s", flush=True)
    write_summary(load_at_start)
    if failed:
        print(f"failed: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
