"""``demo``: the whole lifecycle locally, driven through the bundle's own jobs."""

from __future__ import annotations

import time
from pathlib import Path

from . import sample
from .deployed import deployed_names
from .platform import LocalPlatform, generate_sample, write_local_source
from .runner.bundle import Bundle, load_bundle
from .runner.engine import JobRunner
from .runner.errors import RunnerError
from .runner.results import RunResult
from .state import reset_state, state_dir
from .summary import print_summary

TRAIN_WINDOW = ("2016-01-01", "2016-02-14")
SCORE_WINDOW = ("2016-02-15", "2016-02-29")
DRIFT_WINDOW = (sample.DRIFT_START, sample.DRIFT_END)
MONITORING = "6. monitoring (retrains on drift)"
APPROVAL_JOB = "approval_job"


class DemoError(RunnerError):
    """A demo step's job failed."""


def _window(window: tuple[str, str]) -> dict[str, str]:
    return {"start_date": window[0], "end_date": window[1]}


def run_demo(root: Path, target: str | None, variables: dict[str, str], reset: bool = True) -> int:
    """Run every step; returns 0 on success, 1 when a job fails."""
    started = time.perf_counter()
    state = state_dir(root)
    if reset and state.exists():
        print(
            f"deleting the local state of earlier runs in {state} (tables, MLflow runs and "
            "models; --keep-state keeps them)"
        )
        reset_state(state)
    bundle = load_bundle(root, target, variables)
    runner = JobRunner(bundle)
    try:
        results = _steps(bundle, runner, state)
    except DemoError as exc:
        print(f"\ndemo stopped: {exc}")
        return 1
    _summary(bundle, runner, state, results)
    _pointers(bundle, runner, state)
    print(f"\ndemo finished in {time.perf_counter() - started:.0f}s (state in {state})")
    return 0


def _run(
    runner: JobRunner,
    job_key: str,
    params: dict[str, str],
    results: dict[str, RunResult],
    label: str,
) -> None:
    if job_key not in runner.bundle.job_keys:
        print(f"\n--- {label}: skipped ({job_key} is not in this bundle)")
        return
    print(f"\n--- {label}")
    declared = {p["name"] for p in runner.bundle.job(job_key).get("parameters") or []}
    result = runner.run(job_key, {k: v for k, v in params.items() if k in declared})
    results[label] = result
    if not result.success:
        failure = result.root_failure()
        raise DemoError(f"{job_key} failed at task {failure.task_key if failure else '?'}")


def _steps(bundle: Bundle, runner: JobRunner, state: Path) -> dict[str, RunResult]:
    input_table = str(bundle.variables["input_table"])
    results: dict[str, RunResult] = {}
    _run(runner, "feature_refresh_job", {}, results, "1. refresh features")
    _run(runner, "training_job", _window(TRAIN_WINDOW), results, "2. train -> validate -> deploy")
    approve_trained(runner, results, "2. train -> validate -> deploy", "2b. approve it")
    _run(runner, "batch_inference_job", _window(SCORE_WINDOW), results, "3. batch inference")
    _run(runner, "streaming_inference_job", {}, results, "3b. streaming inference (new trips)")
    print(f"\n--- 4. append a drifted batch {DRIFT_WINDOW[0]} .. {DRIFT_WINDOW[1]}")
    drifted = generate_sample(*DRIFT_WINDOW, sample.DRIFT_ROWS, sample.DEFAULT_SEED + 1, drift=True)
    print(f"appended {len(drifted)} trips to {write_local_source(state, input_table, drifted)}")
    _run(
        runner,
        "feature_refresh_job",
        _window(DRIFT_WINDOW),
        results,
        "5a. refresh features (drifted window)",
    )
    _run(
        runner,
        "batch_inference_job",
        _window(DRIFT_WINDOW),
        results,
        "5b. batch inference (drifted window)",
    )
    _run(runner, "monitoring_job", {}, results, MONITORING)
    retrain = results[MONITORING].tasks.get("retrain") if MONITORING in results else None
    if retrain is not None and retrain.child is None:
        raise DemoError("the drifted batch did not trigger monitoring_job's 'retrain' task")
    if retrain is not None and retrain.child.value("deploy", "promoted") == "false":
        version = retrain.child.value("train", "model_version")
        print(
            f"\nthe retrained v{version} waits as challenger for a person's approval: "
            f"python -m {__package__} approve {version} --reason '...' "
            "(or reject)"
        )
    return results


def approve_trained(
    runner: JobRunner, results: dict[str, RunResult], trained: str, label: str
) -> None:
    """Where promotion needs a person's approval, give it (the demo plays the reviewer)."""
    if APPROVAL_JOB not in runner.bundle.job_keys or trained not in results:
        return
    version = results[trained].value("train", "model_version")
    params = {"version": str(version), "decision": "approve", "reason": "demo: metrics reviewed"}
    _run(runner, APPROVAL_JOB, params, results, label)


def _summary(bundle: Bundle, runner: JobRunner, state: Path, results: dict[str, RunResult]) -> None:
    platform = LocalPlatform(runner.spark, state=state)
    prefix, model_name = deployed_names(bundle)
    print_summary(platform, prefix, model_name, results)


def _pointers(bundle: Bundle, runner: JobRunner, state: Path) -> None:
    """The alerts, the monitoring report (when the bundle has a dashboard) and the MLflow UI."""
    print("\n=== see it")
    if bundle.resources.get("dashboards"):
        from .report import lakehouse_monitor_notes, make_report

        path, _ = make_report(bundle, runner.spark, state)
        print(f"monitoring report (the dashboard's queries over the local tables): {path}")
        for note in lakehouse_monitor_notes(bundle):
            print(note)
    print(f"MLflow runs and models: mlflow ui --backend-store-uri sqlite:///{state / 'mlflow.db'}")
