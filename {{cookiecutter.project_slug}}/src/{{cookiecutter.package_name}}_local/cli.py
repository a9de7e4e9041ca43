"""Command line of the local twin: ``run``, ``jobs``, ``generate-data``, ``rollback``,
``approve``, ``reject``, ``card``, ``serve``, ``demo``, ``report``, ``cleanup``, ``destroy``.

Exit codes: 0 success; 1 a job failed unexpectedly (the traceback is printed); 2 an error a
person can act on (bad arguments or bundle, a missing input, nothing to roll back...), printed
as one line ``error: ...``.
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from pathlib import Path

from .quiet import limit_native_threads, quiet_libraries, start_warmup
from .runner import JobRunner, RunnerError, load_bundle, run_job
from .runner.results import RunResult
from .state import find_project_root, local_source_path, state_dir


class UsageError(RunnerError):
    """Bad command-line arguments."""


def _pairs(items: list[str] | None, what: str) -> dict[str, str]:
    pairs = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise UsageError(f"--{what} expects NAME=VALUE, got {item!r}")
        pairs[key] = value
    return pairs


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=f"python -m {__package__}",
        description="Run the jobs of this Databricks Asset Bundle locally, from its own YAML.",
    )
    parser.add_argument(
        "--project-dir", type=Path, default=None, help="bundle root (default: found from here)"
    )
    sub = parser.add_subparsers(dest="command", required=True)

    def with_target(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
        p.add_argument(
            "--target", "-t", default=None, help="bundle target (default: the bundle's default)"
        )
        p.add_argument(
            "--var", action="append", metavar="NAME=VALUE", help="override a bundle variable"
        )
        return p

    run = with_target(sub.add_parser("run", help="run one job of the bundle locally"))
    run.add_argument("job_key")
    run.add_argument("--param", "-p", action="append", metavar="NAME=VALUE", help="job parameter")
    with_target(sub.add_parser("jobs", help="list the bundle's jobs"))
    data = with_target(sub.add_parser("generate-data", help="write or append the synthetic trips"))
    data.add_argument(
        "--start", help="first pickup day, ISO (default: 2016-01-01, drift: 2016-03-01)"
    )
    data.add_argument(
        "--end", help="last pickup day, inclusive (default: 2016-02-29, drift: 2016-03-31)"
    )
    data.add_argument("--rows", type=int, help="number of trips (default: 20000, drift: 8000)")
    data.add_argument("--seed", type=int, help="random seed (default: 42, drift: 43)")
    data.add_argument(
        "--drift", action="store_true", help="shift the distributions (for monitoring)"
    )
    data.add_argument("--overwrite", action="store_true", help="replace instead of append")
    rollback = with_target(
        sub.add_parser("rollback", help="run rollback_job (champion <- previous champion)")
    )
    rollback.add_argument("--reason", required=True, help="why (recorded on the model version)")
    for verb, what in (("approve", "approve the waiting challenger (it becomes champion)"),
                       ("reject", "reject a model version (it is never promoted)")):  # fmt: skip
        decision = with_target(sub.add_parser(verb, help=f"run approval_job: {what}"))
        decision.add_argument("version", help="the model version number")
        decision.add_argument("--reason", required=True, help="why (recorded on the version)")
    card = with_target(sub.add_parser("card", help="print a model version's model card"))
    card.add_argument("version", help="the model version number")
    serve = with_target(
        sub.add_parser("serve", help="serve @champion with MLflow's scoring server on loopback")
    )
    serve.add_argument("--port", type=_port, default=5000, help="port (default: 5000)")
    demo = with_target(
        sub.add_parser(
            "demo",
            help="train, score, drift, monitor and retrain end to end (deletes the local state "
            "of earlier runs first)",
        )
    )
    demo.add_argument(
        "--keep-state", action="store_true", help="do not delete the local state first"
    )
    report = with_target(
        sub.add_parser(
            "report",
            help="the monitoring dashboard and alerts over the local tables, as an HTML page",
        )
    )
    report.add_argument(
        "--output", type=Path, default=None, help="where (default: <state>/report/monitoring.html)"
    )
    with_target(
        sub.add_parser(
            "cleanup",
            help="print the commands that remove a target's deployment from Databricks "
            "(deletes nothing)",
        )
    )
    destroy = with_target(
        sub.add_parser(
            "destroy",
            help="delete a target's local deployment (its schema's tables, model, experiment), "
            "as `bundle destroy` does; refused while the target protects a resource",
        )
    )
    destroy.add_argument("--auto-approve", action="store_true", help="do not ask first")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the process exit code."""
    args = _parser().parse_args(argv)
    root = (args.project_dir or find_project_root()).resolve()
    # Notebooks build their own LocalPlatform: make them use this project's state.
    os.environ["LOCAL_STATE_DIR"] = str(state_dir(root))
    limit_native_threads()
    quiet_libraries()
    if args.command in ("run", "rollback", "demo"):
        start_warmup()
    try:
        variables = _pairs(args.var, "var")
        if args.command == "jobs":
            return _list_jobs(root, args.target, variables)
        if args.command == "generate-data":
            return _generate(root, args, variables)
        if args.command == "demo":
            from .demo import run_demo

            return run_demo(root, args.target, variables, reset=not args.keep_state)
        if args.command == "report":
            return _report(root, args.target, variables, args.output)
        if args.command == "serve":
            return _serve(root, args, variables)
        if args.command == "card":
            return _card(root, args, variables)
        if args.command == "cleanup":
            from .cleanup import print_cleanup

            return print_cleanup(load_bundle(root, args.target, variables))
        if args.command == "destroy":
            from .destroy import destroy

            bundle = load_bundle(root, args.target, variables)
            return destroy(bundle, state_dir(root), args.auto_approve)
        if args.command == "rollback":
            job_key = "rollback_job"
            params = {"reason": args.reason, "requested_by": getpass.getuser()}
        elif args.command in ("approve", "reject"):
            job_key = _approval_job(root, args.target, variables)
            params = {"version": args.version, "decision": args.command, "reason": args.reason}
        else:
            job_key = args.job_key
            params = _pairs(args.param, "param")
        result = run_job(root, job_key, args.target, params, variables=variables)
    except RunnerError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return _exit_code(result)


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        port = 0
    if not 0 < port < 65536:
        raise argparse.ArgumentTypeError(f"a port is a number from 1 to 65535, not {text!r}")
    return port


APPROVAL_JOB = "approval_job"


def _approval_job(root: Path, target: str | None, variables: dict[str, str]) -> str:
    if APPROVAL_JOB not in load_bundle(root, target, variables).job_keys:
        raise UsageError(
            f"this bundle has no {APPROVAL_JOB}: promotion needs no approval here (the project "
            "was generated with model_approval=no)"
        )
    return APPROVAL_JOB


def _card(root: Path, args: argparse.Namespace, variables: dict[str, str]) -> int:
    from .cards import read_card
    from .deployed import deployed_names

    _, model_name = deployed_names(load_bundle(root, args.target, variables))
    print(read_card(state_dir(root), model_name, args.version), end="")
    return 0


def _serve(root: Path, args: argparse.Namespace, variables: dict[str, str]) -> int:
    from .deployed import deployed_names
    from .serve import serve

    bundle = load_bundle(root, args.target, variables)
    prefix, model_name = deployed_names(bundle)
{%- if cookiecutter.include_serving == "yes" %}
    store = str(bundle.variables.get("online_store_name") or "")
    endpoint = str(bundle.variables.get("serving_endpoint_name") or "")
    return serve(state_dir(root), prefix, model_name, args.port, store, endpoint)
{%- else %}
    return serve(state_dir(root), prefix, model_name, args.port)
{%- endif %}


def _exit_code(result: RunResult) -> int:
    """0 when the job and every job its writes triggered succeeded."""
    return _runs_exit_code([result], result.all_triggered())


def _runs_exit_code(requested: list[RunResult], triggered: list[RunResult]) -> int:
    """0 when every run succeeded; else 2 for an expected error (its one line printed), 1 for
    any other failure (the failing job and task named)."""
    runs = [(run, "") for run in requested]
    runs += [(run, " (started by its table update trigger)") for run in triggered]
    for run, started in runs:
        if run.success:
            continue
        failure = run.root_failure()
        if failure is not None and failure.actionable:
            print(f"error: {failure.error}", file=sys.stderr)
            return 2
        where = failure.task_key if failure else "?"
        print(f"job {run.job_key}{started} FAILED at task {where}", file=sys.stderr)
        return 1
    return 0


def _list_jobs(root: Path, target: str | None, variables: dict[str, str]) -> int:
    bundle = load_bundle(root, target, variables)
    print(f"bundle {bundle.name}, target {bundle.target}")
    for key in bundle.job_keys:
        job = bundle.job(key)
        tasks = ", ".join(t.get("task_key", "?") for t in job.get("tasks") or [])
        params = ", ".join(
            f"{p['name']}={p.get('default', '')!r}" for p in job.get("parameters") or []
        )
        print(f"  {key}: tasks [{tasks}]" + (f" params [{params}]" if params else ""))
    return 0


def _generate(root: Path, args: argparse.Namespace, variables: dict[str, str]) -> int:
    bundle = load_bundle(root, args.target, variables)
    source = str(bundle.variables.get("input_table", ""))
    if not source:
        raise UsageError("the bundle has no input_table variable")
    from . import sample
    from .platform import generate_sample, seed_local_source, write_local_source

    start = args.start or (sample.DRIFT_START if args.drift else sample.DEFAULT_START)
    end = args.end or (sample.DRIFT_END if args.drift else sample.DEFAULT_END)
    rows = args.rows or (sample.DRIFT_ROWS if args.drift else sample.DEFAULT_ROWS)
    seed = args.seed if args.seed is not None else sample.DEFAULT_SEED + int(args.drift)
    state = state_dir(root)
    runner = JobRunner(bundle)
    watch = runner.trigger_watch()
    before = watch.snapshot() if watch else {}
    if not args.overwrite and not local_source_path(state, source).exists():
        # Appending to nothing: lay down the default sample first, as a first read would.
        seed_local_source(state, source)
    pdf = generate_sample(start, end, rows, seed, drift=args.drift)
    target = write_local_source(state, source, pdf, "overwrite" if args.overwrite else "append")
    verb = "wrote" if args.overwrite else "appended"
    print(f"{verb} {len(pdf)} trips ({start} .. {end}, drift={args.drift}) to {target}")
    if watch is None:
        return 0
    started = runner.start_triggered(watch, before, ())
    return _runs_exit_code([], [run for top in started for run in (top, *top.all_triggered())])


def _report(root: Path, target: str | None, variables: dict[str, str], output: Path | None) -> int:
    from .report import make_report, require_dashboard

    bundle = load_bundle(root, target, variables)
    require_dashboard(bundle)  # before starting Spark
    path, _ = make_report(bundle, JobRunner(bundle).spark, state_dir(root), output)
    print(f"report: {path}")
    return 0
