"""Worker of the canary RMSE benchmark: the rendered project's own ``judge`` on simulated
labelled answers (normal errors, and Student-t with 4 degrees of freedom for heavy tails)."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from benchmarks.common import PACKAGE

CANARY_SHARE = 0.1  # the default canary_percent
WORSE = 1.3  # "a worse canary": errors 30 % larger


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--project", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--trials", type=int, default=20000)
    args = parser.parse_args()
    canary = __import__(f"{PACKAGE}.deployment.canary", fromlist=["judge"])
    started = time.perf_counter()
    rng = np.random.default_rng(0)
    draws = {
        "normal": lambda shape: rng.standard_normal(shape),
        "student_t4": lambda shape: rng.standard_t(4, shape),
    }
    results = []
    for name, draw in draws.items():
        for canary_labels in (50, 100, 200, 400):
            baseline_labels = round(canary_labels * (1 - CANARY_SHARE) / CANARY_SHARE)
            for threshold in (0.1, 0.2, 0.3):
                policy = canary.CanaryPolicy(
                    min_requests=1, min_labels=canary_labels, max_rmse_increase=threshold
                )
                rates = {}
                for label, scale in (("equal", 1.0), ("worse", WORSE)):
                    base = np.sqrt((draw((args.trials, baseline_labels)) ** 2).mean(axis=1))
                    new = np.sqrt(((scale * draw((args.trials, canary_labels))) ** 2).mean(axis=1))
                    lost = 0
                    for old_rmse, new_rmse in zip(base, new, strict=True):
                        verdict = canary.judge(
                            canary.EntityHealth(
                                "1", baseline_labels, 0, 5.0, baseline_labels, float(old_rmse)
                            ),
                            canary.EntityHealth(
                                "2", canary_labels, 0, 5.0, canary_labels, float(new_rmse)
                            ),
                            policy,
                        )
                        lost += verdict.decision == "roll back"
                    rates[label] = round(lost / args.trials, 4)
                results.append(
                    {
                        "errors": name,
                        "canary_labels": canary_labels,
                        "baseline_labels": baseline_labels,
                        "max_rmse_increase": threshold,
                        "equal_rolled_back": rates["equal"],
                        "worse_30pct_rolled_back": rates["worse"],
                    }
                )
    args.out.write_text(
        json.dumps(
            {
                "trials": args.trials,
                "canary_share": CANARY_SHARE,
                "results": results,
                "seconds": round(time.perf_counter() - started, 1),
            }
        )
    )


if __name__ == "__main__":
    main()
