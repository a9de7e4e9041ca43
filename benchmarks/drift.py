"""Benchmark 4, drift: the generated monitoring statistics (Spark) vs evidently's
``DataDriftPreset`` on the same reference and drifted current rows."""

from __future__ import annotations

from typing import Any

from benchmarks.bench_venv import ensure_bench_venv
from benchmarks.common import (
    BENCH_PYTHON,
    Context,
    render_project,
    run_worker,
    runs_for,
    write_result,
)
from benchmarks.synthetic import DRIFTED

FULL_SIZES = (1_000_000, 10_000_000)
QUICK_SIZES = (100_000,)


def _agreement(ours: dict[str, Any], theirs: dict[str, Any]) -> dict[str, Any]:
    """Which columns each flags, against the constructed truth."""
    columns = sorted(set(ours) | set(theirs))
    flagged_ours = sorted(c for c in columns if ours.get(c, {}).get("drifted"))
    flagged_theirs = sorted(c for c in columns if theirs.get(c, {}).get("drifted"))
    truth = sorted(c for c in columns if c in DRIFTED)
    return {
        "constructed_drift": truth,
        "flagged_by_generated_code": flagged_ours,
        "flagged_by_evidently": flagged_theirs,
        "same_verdicts": flagged_ours == flagged_theirs,
        "generated_code_matches_construction": flagged_ours == truth,
    }


def run(
    ctx: Context, sizes: tuple[int, ...] | None = None, evidently_max_rows: int | None = None
) -> dict[str, Any]:
    """Both engines at every size (evidently up to ``evidently_max_rows`` rows)."""
    sizes = sizes or (QUICK_SIZES if ctx.quick else FULL_SIZES)
    log = ctx.log("drift")
    log.unlink(missing_ok=True)
    project = render_project(ctx.work / "drift", log)
    ensure_bench_venv(ctx.log("bench_venv"))
    figures: dict[str, Any] = {"sizes": {}}
    for n in sizes:
        repeat = str(runs_for(n, ctx.repeat))
        ours = run_worker(
            "drift_worker",
            project,
            ["--data-dir", str(ctx.work / "data"), "--rows", str(n), "--repeat", repeat],
            log,
        )
        entry: dict[str, Any] = {"generated": ours}
        if evidently_max_rows is None or n <= evidently_max_rows:
            try:
                theirs = run_worker(
                    "evidently_worker",
                    project,
                    [
                        "--reference",
                        ours["reference"],
                        "--current",
                        ours["current"],
                        "--columns",
                        *ours["columns"],
                        "--repeat",
                        repeat,
                    ],
                    log,
                    python=BENCH_PYTHON,
                )
            except RuntimeError as exc:  # e.g. out of memory at 10M rows
                entry["evidently_error"] = str(exc)
            else:
                entry["evidently"] = theirs
                entry["speedup_vs_evidently"] = round(theirs["seconds"] / ours["seconds"], 2)
                if ours.get("warm_seconds") and theirs.get("warm_seconds"):
                    entry["warm_speedup_vs_evidently"] = round(
                        theirs["warm_seconds"] / ours["warm_seconds"], 2
                    )
                entry["agreement"] = _agreement(ours["verdicts"], theirs["verdicts"])
        else:
            entry["evidently_skipped"] = f"more than {evidently_max_rows} rows"
        figures["sizes"][str(n)] = entry
        print(
            f"drift {n} rows: "
            + ", ".join(f"{k}={v}" for k, v in entry.items() if k in ("speedup_vs_evidently",))
            + f" generated={ours['seconds']}s",
            flush=True,
        )
    one_m = figures["sizes"].get("1000000", {})
    if "speedup_vs_evidently" in one_m:
        figures["target_speedup_at_1m"] = 10
        figures["speedup_target_met"] = (
            one_m["speedup_vs_evidently"] >= 10 and one_m["agreement"]["same_verdicts"]
        )
    write_result("drift", figures)
    return figures
