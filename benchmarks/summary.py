"""The targets table of docs/benchmarks.md, written from benchmarks/results/*.json."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from benchmarks.common import RESULTS


def _load(name: str) -> dict[str, Any] | None:
    path = RESULTS / f"{name}.json"
    return json.loads(path.read_text()) if path.is_file() else None


def _row(target: str, measured: str, met: bool | None) -> str:
    verdict = "not measured" if met is None else ("**met**" if met else "**missed**")
    return f"| {target} | {measured} | {verdict} |"


def _rows() -> list[str]:
    rows = []
    lifecycle = _load("lifecycle")
    if lifecycle:
        cold = lifecycle.get("demo_wall_seconds_first_run", lifecycle["demo_wall_seconds"])
        median = lifecycle["demo_wall_seconds"]
        rows.append(
            _row(
                "demo (whole lifecycle) <= 30 s",
                f"{cold:.0f} s first run; median {median:.0f} s over {lifecycle['runs']} runs",
                cold <= 30,
            )
        )
    green = _load("time_to_green")
    if green:
        first = green["first_run"]["tests_seconds"]
        rows.append(
            _row(
                "generated test suite <= 45 s after install",
                f"{first:.0f} s first run; median {green['tests_seconds']:.0f} s",
                first <= 45,
            )
        )
    drift = _load("drift")
    one_m = (drift or {}).get("sizes", {}).get("1000000", {})
    if "speedup_vs_evidently" in one_m:
        warm = one_m.get("warm_speedup_vs_evidently")
        ours = one_m["generated"]
        same = one_m["agreement"]["same_verdicts"]
        rows.append(
            _row(
                "drift >= 10x evidently at 1M rows per side, cold, same verdicts",
                f"{one_m['speedup_vs_evidently']}x cold ({ours['cold_seconds']:.1f} s vs "
                f"{one_m['evidently']['cold_seconds']:.1f} s)"
                + (f", {warm}x warm ({ours['warm_seconds']:.1f} s)" if warm else "")
                + ("; same verdicts" if same else "; verdicts differ"),
                one_m["speedup_vs_evidently"] >= 10 and same,
            )
        )
    scoring = _load("scoring")
    if scoring and "1000000" in scoring["sizes"]:
        one_m = scoring["sizes"]["1000000"]
        ratio = one_m["ratio_to_predict"]
        rows.append(
            _row(
                "scoring >= 0.8x in-process predict at 1M rows",
                f"{ratio}x ({one_m['score_batch_seconds']:.2f} s, predict "
                f"{one_m['predict_seconds']:.2f} s)",
                ratio >= 0.8,
            )
        )
    if scoring and "growth_1m_to_10m" in scoring:
        growth = scoring["growth_1m_to_10m"]
        rows.append(_row("scoring 10M <= 10.5x of 1M", f"{growth}x", growth <= 10.5))
    suite = _load("template_suite")
    if suite and "full_suite_seconds" in suite:
        seconds = suite["full_suite_seconds"]
        rows.append(
            _row(
                "template CI (`scripts/test`) <= 5 min",
                f"{seconds:.0f} s ({suite['full_suite_pytest'].split(' in ')[0]})",
                seconds <= 300,
            )
        )
    calibration = _load("drift_calibration")
    if calibration:
        worst = max(
            calibration["no_drift_maxima"].items(), key=lambda kv: kv[1]["max"] / kv[1]["threshold"]
        )
        rows.append(
            _row(
                "no drift: every statistic well under its threshold (20 seeds)",
                f"worst {worst[0]} {worst[1]['max']} (threshold {worst[1]['threshold']})",
                worst[1]["max"] < 0.5 * worst[1]["threshold"],
            )
        )
    compute = _load("compute")
    if compute:
        connect, classic = compute["serverless"], compute["classic"]
        ratios = compute["ratios_connect_to_classic"]
        rows.append(
            "| serverless project on Spark Connect beside classic Spark (no target) | "
            f"session {connect['session_seconds_first']:.1f} s vs "
            f"{classic['session_seconds_first']:.1f} s; demo {connect['demo_seconds_first']:.0f} s"
            f" vs {classic['demo_seconds_first']:.0f} s ({ratios['demo_seconds']}x); suite "
            f"{connect['suite_seconds_first']:.0f} s vs {classic['suite_seconds_first']:.0f} s "
            f"({ratios['suite_seconds']}x) | |"
        )
    online = _load("online_lookup")
    if online:
        lookup = online["sqlite_lookup"]
        rows.append(
            _row(
                f"online lookup per request <= 5 ms at {online['keys'] // 1000}k keys",
                f"median {lookup['median_ms']:.3f} ms, p99 {lookup['p99_ms']:.3f} ms, first "
                f"{lookup['first_ms']:.3f} ms (Delta read by key: median "
                f"{online['delta_read_by_key']['median_ms']:.1f} ms)",
                lookup["p99_ms"] <= 5 and lookup["first_ms"] <= 5,
            )
        )
    canary = _load("canary_rmse")
    if canary:
        at_defaults = {
            r["errors"]: r
            for r in canary["results"]
            if r["canary_labels"] == 400 and r["max_rmse_increase"] == 0.2
        }
        worst = max(at_defaults.values(), key=lambda r: r["equal_rolled_back"])
        rows.append(
            _row(
                "canary RMSE rule at its defaults: an equal canary rolled back <= 5 %",
                ", ".join(
                    f"{name}: {r['equal_rolled_back']:.2%} (a 30 % worse one caught "
                    f"{r['worse_30pct_rolled_back']:.0%})"
                    for name, r in at_defaults.items()
                ),
                worst["equal_rolled_back"] <= 0.05,
            )
        )
    return rows


def write_summary(load_at_start: tuple[float, float, float]) -> Path:
    """``benchmarks/results/summary.md``: the targets table and the machine's load."""
    machines = [r["machine"] for n in ("lifecycle", "drift", "scoring") if (r := _load(n))]
    load_end = machines[-1]["load_average_at_end"] if machines else None
    lines = [
        "| target (2 cores) | measured | |",
        "|---|---|---|",
        *_rows(),
        "",
        f"Load average (1, 5, 15 min) at the start: {', '.join(f'{x:.2f}' for x in load_at_start)}"
        + (
            f"; at the end of the last benchmark: {', '.join(map(str, load_end))}."
            if load_end
            else "."
        ),
    ]
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / "summary.md"
    path.write_text("\n".join(lines) + "\n")
    print("\n" + path.read_text())
    return path
