"""Benchmark 8, the local online store: a key lookup per request at 10k keys, in a fresh
process (the project rendered with the feature store and serving, whose ``serve`` answers
key-only requests from it), against reading the Delta feature table by key."""

from __future__ import annotations

from typing import Any

from benchmarks.common import Context, render_project, run_worker, write_result

KEYS = 10_000


def run(ctx: Context) -> dict[str, Any]:
    log = ctx.log("online_lookup")
    log.unlink(missing_ok=True)
    project = render_project(ctx.work / "online-lookup", log, ["include_serving=yes"])
    requests = "500" if ctx.quick else "2000"
    figures = run_worker(
        "online_lookup_worker", project, ["--keys", str(KEYS), "--requests", requests], log
    )
    write_result("online_lookup", figures)
    return figures
