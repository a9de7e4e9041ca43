"""Benchmark 3, batch scoring throughput: ``score_batch`` (Spark UDF) vs in-process predict."""

from __future__ import annotations

from typing import Any

from benchmarks.common import Context, render_project, run_worker, write_result

FULL_SIZES = (100_000, 1_000_000, 10_000_000)
QUICK_SIZES = (100_000,)


def run(ctx: Context, sizes: tuple[int, ...] | None = None) -> dict[str, Any]:
    """Throughput per size, the ratio to in-process predict, and the 1M -> 10M growth."""
    sizes = sizes or (QUICK_SIZES if ctx.quick else FULL_SIZES)
    log = ctx.log("scoring")
    log.unlink(missing_ok=True)
    project = render_project(ctx.work / "scoring", log)
    args = ["--sizes", *map(str, sizes), "--repeat", str(ctx.repeat)]
    figures = run_worker(
        "scoring_worker", project, [*args, "--data-dir", str(ctx.work / "data")], log
    )
    by_size = figures["sizes"]
    if "1000000" in by_size:
        figures["target_ratio_at_1m"] = 0.8
        figures["ratio_target_met"] = by_size["1000000"]["ratio_to_predict"] >= 0.8
    if "1000000" in by_size and "10000000" in by_size:
        growth = (
            by_size["10000000"]["score_batch_seconds"] / by_size["1000000"]["score_batch_seconds"]
        )
        figures["growth_1m_to_10m"] = round(growth, 2)
        figures["growth_target_met"] = growth <= 10.5
    write_result("scoring", figures)
    return figures
