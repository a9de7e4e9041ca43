"""Table update triggers in the local run: a write to a watched table starts the watching job."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from {{ cookiecutter.package_name }}_local.cli import main
from {{ cookiecutter.package_name }}_local.runner import BundleError, load_bundle, run_job
from {{ cookiecutter.package_name }}_local.runner.triggers import table_triggers, table_version

from .bundles import RECORD, notebook_task, write_bundle

WRITE = """
import pyarrow as pa
from {{ cookiecutter.package_name }}_local.delta_store import DeltaStore
from {{ cookiecutter.package_name }}_local.state import state_dir

store = DeltaStore(state_dir() / "warehouse")
for name in TABLES:
    store.write_at(store.path(name), pa.table({"x": [1]}), "append")
"""


def writer(*tables: str) -> str:
    """A notebook that records its run, then appends a row to each of ``tables``."""
    return RECORD + WRITE.replace("TABLES", repr(list(tables)))


def trigger(*tables: str, **extra: object) -> dict:
    return {"table_update": {"table_names": list(tables), **extra}}


RAW, SCORES, LABELS = "main.s.raw", "main.s.scores", "main.s.labels"


def lifecycle_bundle(root: Path, scorer_fails: bool = False) -> Path:
    """ingest writes raw; score (triggered by raw) writes scores; label writes labels; monitor
    runs when both scores and labels changed (ALL_UPDATED). dev pauses triggers, prod not."""
    jobs = {
        "ingest": {"tasks": [notebook_task("ingest", "ingest")]},
        "score": {"trigger": trigger(RAW), "tasks": [notebook_task("score", "score")]},
        "label": {"tasks": [notebook_task("label", "label")]},
        "monitor": {
            "trigger": trigger(SCORES, LABELS, condition="ALL_UPDATED"),
            "tasks": [notebook_task("monitor", "monitor")],
        },
    }
    notebooks = {
        "ingest": writer(RAW),
        "score": writer(SCORES) + ("raise RuntimeError('scoring broke')\n" if scorer_fails else ""),
        "label": writer(LABELS),
        "monitor": RECORD,
    }
    targets = {"dev": {"default": True, "mode": "development"}, "prod": {"mode": "production"}}
    return write_bundle(root, jobs, notebooks, targets=targets)


def ran(entries: list[dict]) -> list[str]:
    return [entry["notebook"].removesuffix(".py") for entry in entries]


@pytest.fixture
def state(tmp_path, monkeypatch) -> Path:
    folder = tmp_path / "state"
    monkeypatch.setenv("LOCAL_STATE_DIR", str(folder))
    return folder


def test_a_write_starts_the_job_whose_trigger_watches_the_table(tmp_path, spark, run_log, state):
    root = lifecycle_bundle(tmp_path / "bundle")
    lines: list[str] = []
    result = run_job(root, "ingest", "prod", out=lines.append, spark=spark)
    output = "\n".join(lines)
    assert result.success, output
    assert [r.job_key for r in result.triggered] == ["score"]
    assert result.triggered[0].success
    assert ran(run_log()) == ["ingest", "score"]
    assert f"== trigger: {RAW} updated, score watches it: starting score" in output
    # monitor needs both of its tables (ALL_UPDATED): scores alone does not start it
    waits = f"{SCORES} updated, monitor watches it; not started: ALL_UPDATED waits for {LABELS}"
    assert waits in output

    lines.clear()
    result = run_job(root, "label", "prod", out=lines.append, spark=spark)
    assert [r.job_key for r in result.triggered] == ["monitor"], "\n".join(lines)
    assert ran(run_log()) == ["ingest", "score", "label", "monitor"]

    # after it ran, monitor again waits for both: a new label alone does not start it
    result = run_job(root, "label", "prod", out=lines.append, spark=spark)
    assert result.triggered == []
    assert ran(run_log())[-1] == "label"


def test_development_mode_pauses_triggers(tmp_path, spark, run_log, state):
    root = lifecycle_bundle(tmp_path / "bundle")
    lines: list[str] = []
    result = run_job(root, "ingest", "dev", out=lines.append, spark=spark)
    assert result.success and result.triggered == []
    assert ran(run_log()) == ["ingest"]
    paused = f"{RAW} updated, score watches it; not started: its trigger is paused"
    assert paused in "\n".join(lines)


def test_a_job_is_not_restarted_by_its_own_write(tmp_path, spark, run_log, state):
    jobs = {"loop": {"trigger": trigger(RAW), "tasks": [notebook_task("loop", "loop")]}}
    root = write_bundle(tmp_path / "bundle", jobs, {"loop": writer(RAW)})
    lines: list[str] = []
    result = run_job(root, "loop", out=lines.append, spark=spark)
    assert result.success and result.triggered == []
    assert ran(run_log()) == ["loop"]
    assert "not started: it is already in this chain of triggered runs" in "\n".join(lines)


@pytest.mark.parametrize(
    ("summary", "expected"),
    [
        # after score in the round: score starts it, and it has seen both writes by then
        ("summary", ["ingest", "score", "sum"]),
        # before score: it runs on raw, and again once score has written scores
        ("digest", ["ingest", "sum", "score", "sum"]),
    ],
)
def test_a_job_runs_again_in_a_round_only_for_a_write_it_has_not_seen(
    tmp_path, spark, run_log, state, summary, expected
):
    """ingest writes raw; score (watching raw) writes scores; the summary job watches raw and
    scores. Jobs of a round start in key order, as written by write_bundle."""
    jobs = {
        "ingest": {"tasks": [notebook_task("ingest", "ingest")]},
        "score": {"trigger": trigger(RAW), "tasks": [notebook_task("score", "score")]},
        summary: {"trigger": trigger(RAW, SCORES), "tasks": [notebook_task("sum", "sum")]},
    }
    notebooks = {"ingest": writer(RAW), "score": writer(SCORES), "sum": RECORD}
    root = write_bundle(tmp_path / "bundle", jobs, notebooks)
    lines: list[str] = []
    result = run_job(root, "ingest", out=lines.append, spark=spark)
    assert result.success, "\n".join(lines)
    assert ran(run_log()) == expected, "\n".join(lines)
    if summary == "summary":
        assert f"{RAW} updated, summary watches it; not started: it already ran after these " in (
            "\n".join(lines)
        )


def test_a_job_that_writes_a_table_it_watches_is_not_rerun_by_the_round_that_started_it(
    tmp_path, spark, run_log, state
):
    """ingest writes raw; a (watching raw) writes scores; b (watching raw and scores) writes
    raw: each runs once, b's own write to raw is held by the chain guard and does not start b
    or a again when the outer round reaches them."""
    jobs = {
        "ingest": {"tasks": [notebook_task("ingest", "ingest")]},
        "a": {"trigger": trigger(RAW), "tasks": [notebook_task("a", "a")]},
        "b": {"trigger": trigger(RAW, SCORES), "tasks": [notebook_task("b", "b")]},
    }
    notebooks = {"ingest": writer(RAW), "a": writer(SCORES), "b": writer(RAW)}
    root = write_bundle(tmp_path / "bundle", jobs, notebooks)
    lines: list[str] = []
    result = run_job(root, "ingest", out=lines.append, spark=spark)
    assert result.success, "\n".join(lines)
    assert ran(run_log()) == ["ingest", "a", "b"], "\n".join(lines)


@pytest.mark.parametrize("monitor", ["monitor", "audit"])  # after copy in key order, before it
def test_all_updated_starts_once_when_a_triggered_job_writes_its_second_table(
    tmp_path, spark, run_log, state, monitor
):
    """ingest writes raw; copy (watching raw) writes labels; the monitor job needs raw and
    labels (ALL_UPDATED): it starts once, after copy, whichever comes first in the round."""
    jobs = {
        "ingest": {"tasks": [notebook_task("ingest", "ingest")]},
        "copy": {"trigger": trigger(RAW), "tasks": [notebook_task("copy", "copy")]},
        monitor: {
            "trigger": trigger(RAW, LABELS, condition="ALL_UPDATED"),
            "tasks": [notebook_task("monitor", "monitor")],
        },
    }
    notebooks = {"ingest": writer(RAW), "copy": writer(LABELS), "monitor": RECORD}
    root = write_bundle(tmp_path / "bundle", jobs, notebooks)
    lines: list[str] = []
    result = run_job(root, "ingest", out=lines.append, spark=spark)
    assert result.success, "\n".join(lines)
    assert ran(run_log()) == ["ingest", "copy", "monitor"], "\n".join(lines)


def test_all_updated_keeps_the_updates_of_a_run_the_chain_guard_held(
    tmp_path, spark, run_log, state
):
    """monitor (ALL_UPDATED on scores, labels) writes scores itself: run by hand after a new
    label, it is not restarted by its own write, and the next label starts it."""
    jobs = {
        "label": {"tasks": [notebook_task("label", "label")]},
        "monitor": {
            "trigger": trigger(SCORES, LABELS, condition="ALL_UPDATED"),
            "tasks": [notebook_task("monitor", "monitor")],
        },
    }
    notebooks = {"label": writer(LABELS), "monitor": writer(SCORES)}
    root = write_bundle(tmp_path / "bundle", jobs, notebooks)
    lines: list[str] = []
    assert run_job(root, "label", out=lines.append, spark=spark).triggered == []
    result = run_job(root, "monitor", out=lines.append, spark=spark)
    assert result.triggered == [] and ran(run_log()) == ["label", "monitor"]
    assert "not started: it is already in this chain" in "\n".join(lines)
    result = run_job(root, "label", out=lines.append, spark=spark)
    assert [r.job_key for r in result.triggered] == ["monitor"], "\n".join(lines)


def test_a_failing_triggered_job_fails_the_local_run(tmp_path, capsys, run_log, state):
    root = lifecycle_bundle(tmp_path / "bundle", scorer_fails=True)
    assert main(["--project-dir", str(root), "run", "ingest", "-t", "prod"]) == 1
    assert "job score (started by its table update trigger) FAILED at task score" in (
        capsys.readouterr().err
    )
    assert ran(run_log()) == ["ingest", "score"]


def test_generated_input_data_starts_the_job_watching_the_input_table(
    tmp_path, capsys, run_log, state
):
    jobs = {"score": {"trigger": trigger(RAW), "tasks": [notebook_task("score", "score")]}}
    root = write_bundle(
        tmp_path / "bundle",
        jobs,
        {"score": RECORD},
        variables={"input_table": {"default": RAW}},
    )
    assert main(["--project-dir", str(root), "generate-data", "--rows", "50"]) == 0
    assert ran(run_log()) == ["score"]
    assert "starting score" in capsys.readouterr().out


READ = """
from {{ cookiecutter.package_name }}.platform import get_platform

get_platform(spark).read_source(SOURCE).count()
"""


def test_the_sample_a_first_read_lays_down_is_not_an_update(tmp_path, spark, run_log, state):
    """On Databricks the input table exists before any job reads it: the seeded sample a
    first local read generates in its place starts nothing; a later write does."""
    jobs = {
        "train": {"tasks": [notebook_task("train", "train")]},
        "ingest": {"tasks": [notebook_task("ingest", "ingest")]},
        "score": {"trigger": trigger(RAW), "tasks": [notebook_task("score", "score")]},
    }
    notebooks = {
        "train": RECORD + READ.replace("SOURCE", repr(RAW)),
        "ingest": writer(RAW),
        "score": RECORD,
    }
    root = write_bundle(tmp_path / "bundle", jobs, notebooks)
    lines: list[str] = []
    result = run_job(root, "train", out=lines.append, spark=spark)
    assert result.success, "\n".join(lines)
    assert result.triggered == [] and ran(run_log()) == ["train"]
    assert table_version(state, RAW) == 0  # the sample was laid down
    result = run_job(root, "ingest", out=lines.append, spark=spark)
    assert [r.job_key for r in result.triggered] == ["score"]
    assert ran(run_log()) == ["train", "ingest", "score"]


def test_a_malformed_trigger_is_refused_before_anything_runs(tmp_path, capsys, run_log, state):
    jobs = {
        "ingest": {"tasks": [notebook_task("ingest", "ingest")]},
        "score": {"trigger": trigger("raw"), "tasks": [notebook_task("score", "score")]},
    }
    root = write_bundle(tmp_path / "bundle", jobs, {"ingest": writer(RAW), "score": RECORD})
    assert main(["--project-dir", str(root), "run", "ingest"]) == 2
    error = "error: job 'score': trigger.table_update.table_names must list"
    assert error in capsys.readouterr().err
    assert run_log() == []
    with pytest.raises(BundleError, match="condition is ANY_UPDATED or ALL_UPDATED"):
        table_triggers(
            load_bundle(
                write_bundle(
                    tmp_path / "other",
                    {"s": {"trigger": trigger(RAW, condition="SOMETIMES"), "tasks": []}},
                )
            )
        )


def _customize_trigger(project_root: Path) -> dict:
    """The table update trigger docs/customize.md shows for batch inference."""
    text = (project_root / "docs" / "customize.md").read_text()
    block = re.search(r"```yaml\n(\s+trigger:\n.*?)```", text, re.S)
    assert block, "docs/customize.md shows no trigger block"
    return yaml.safe_load(block.group(1))["trigger"]


def test_the_documented_trigger_watches_the_input_table_in_prod_only(project_root, tmp_path):
    """The customize guide's trigger, in place of batch inference's schedule, loads: prod
    watches input_table, dev (development mode) and staging keep it paused."""
    copy = tmp_path / "project"
    shutil.copytree(project_root, copy, ignore=shutil.ignore_patterns(".local", "tests", ".venv"))
    path = copy / "resources" / "batch-inference-job.yml"
    doc = yaml.safe_load(path.read_text())
    job = doc["resources"]["jobs"]["batch_inference_job"]
    del job["schedule"]
    job["trigger"] = _customize_trigger(project_root)
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    triggers = {}
    for target in ("dev", "staging", "prod"):
        bundle = load_bundle(copy, target)
        (found,) = table_triggers(bundle)
        assert found.job_key == "batch_inference_job"
        assert found.tables == (bundle.variables["input_table"],)
        triggers[target] = found.paused
    assert triggers == {"dev": True, "staging": True, "prod": False}


@pytest.mark.parametrize("module", ["state", "runner", "cli", "destroy"])
def test_each_entry_module_imports_first_in_a_fresh_process(module):
    """The state module and the runner import each other's parts: either may come first."""
    package = "{{ cookiecutter.package_name }}_local"
    code = f"import {package}.{module}"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
