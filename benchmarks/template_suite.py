"""Benchmark 5, the template's own suite: ``scripts/test``, and rendering + validating every
option combination (``tests/test_render.py`` + ``tests/test_bundle.py``)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from benchmarks.common import MAIN_PYTHON, REPO, Context, env_with, median, run_timed, write_result

_SUMMARY = re.compile(r"^=* ?(?P<summary>(?:\d+ \w+, )*\d+ passed[^=\n]*?) ?=*$", re.MULTILINE)


def _summary(log: Path) -> str:
    """pytest's last summary line in ``log``."""
    found = _SUMMARY.findall(log.read_text(errors="replace"))
    return found[-1] if found else "no pytest summary found"


def run(ctx: Context, full_suite: bool = True) -> dict[str, Any]:
    """Wall times (medians over ``ctx.repeat`` for the render step; the full suite once)."""
    env = env_with()
    figures: dict[str, Any] = {}
    render_log = ctx.log("template_render_validate")
    render_log.unlink(missing_ok=True)
    cmd = [MAIN_PYTHON, "-m", "pytest", "-q", "-p", "no:cacheprovider"]
    times = [
        run_timed(
            [*cmd, "tests/test_render.py", "tests/test_bundle.py"], render_log, cwd=REPO, env=env
        )
        for _ in range(max(1, min(ctx.repeat, 3)))
    ]
    figures["render_and_validate_all_combinations_seconds"] = median(times)
    figures["render_and_validate_runs"] = len(times)
    figures["render_and_validate_pytest"] = _summary(render_log)
    if full_suite:
        suite_log = ctx.log("template_full_suite")
        suite_log.unlink(missing_ok=True)
        figures["full_suite_seconds"] = round(
            run_timed(
                [REPO / "scripts" / "test", "-q", "-p", "no:cacheprovider"],
                suite_log,
                cwd=REPO,
                env=env,
            ),
            2,
        )
        figures["full_suite_pytest"] = _summary(suite_log)
    write_result("template_suite", figures)
    return figures
