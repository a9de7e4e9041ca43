"""Do what a user does with a fresh project: run its test suite and its demo."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from xml.etree import ElementTree

import pytest
from conftest import ALL_ON, DEFAULT_COMBINATION, Renderings, render

# The generated suites are the slow part of the template's tests: they run twice, for the
# default options (serverless, feature store, monitoring: on Spark Connect, as serverless compute
# runs them) and for the variant whose code differs most (classic compute, inline features, no
# monitoring; serving, streaming and manual approval on: on classic Spark), which is also
# customized as docs/customize.md says (another estimator, one feature fewer): every job of both
# runs end to end through the local runner. Without monitoring, the second story trains a better
# model by hand, which then waits for approval. The all-on serverless project runs its end-to-end
# story too, so the streaming job, serving and approval also run on Spark Connect.
CUSTOMIZED = {
    **DEFAULT_COMBINATION,
    "compute": "classic",
    "include_feature_store": "no",
    "include_monitoring": "no",
    "include_serving": "yes",
    "include_streaming": "yes",
    "model_approval": "yes",
}


def project_env(state: Path, project: Path) -> dict[str, str]:
    return {
        **os.environ,
        "PYTHONPATH": str(project / "src"),
        "LOCAL_STATE_DIR": str(state),
        "MLFLOW_DISABLE_TELEMETRY": "true",
    }


def run_in(project: Path, state: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args],
        cwd=project,
        env=project_env(state, project),
        capture_output=True,
        text=True,
        timeout=1200,
        check=False,
    )


@dataclass
class Started:
    """A command started in a project, its output going to files (a pipe nobody reads would
    fill up and block it)."""

    project: Path
    state: Path
    process: subprocess.Popen[bytes]
    stdout: Path
    stderr: Path

    def result(self) -> subprocess.CompletedProcess[str]:
        try:
            self.process.wait(timeout=1800)
        finally:
            self.stop()
        return subprocess.CompletedProcess(
            self.process.args,
            self.process.returncode,
            self.stdout.read_text(),
            self.stderr.read_text(),
        )

    def stop(self) -> None:
        """Kill the run and what it started (its JVM, a scoring server) if it is still going."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()


def start_in(project: Path, state: Path, logs: Path, *args: str) -> Started:
    logs.mkdir(parents=True, exist_ok=True)
    stdout, stderr = logs / "stdout.txt", logs / "stderr.txt"
    with stdout.open("wb") as out, stderr.open("wb") as err:
        process = subprocess.Popen(
            [sys.executable, *args],
            cwd=project,
            env=project_env(state, project),
            stdout=out,
            stderr=err,
            start_new_session=True,  # its own process group, for stop()
        )
    return Started(project, state, process, stdout, stderr)


@pytest.fixture(scope="module")
def runs(
    renderings: Renderings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Started]]:
    """The slow runs, started together. Each is a subprocess that spends much of its time
    waiting (Spark scheduling, JVM start-up, MLflow's store), so on 2 cores they overlap
    (docs/benchmarks.md)."""
    base = tmp_path_factory.mktemp("generated")
    suite_project = renderings.get(DEFAULT_COMBINATION)
    demo_project = render(base / "demo", **DEFAULT_COMBINATION)  # its own copy: they run at once
    customized = render(base / "customized", **CUSTOMIZED)
    follow_the_customize_guide(customized, package_of(customized))
    all_on = render(base / "all-on", **ALL_ON)
    mutated = {
        compute: render(base / f"{compute}-mutated", **{**DEFAULT_COMBINATION, "compute": compute})
        for compute in ("serverless", "classic")
    }
    for project in mutated.values():
        call_what_serverless_refuses(project, package_of(project))
    pytest_args = ("-m", "pytest", "-q", "-p", "no:cacheprovider")
    started = {
        **{
            f"{compute}-mutated": start_in(
                project,
                base / f"{compute}-mutated-state",
                base / f"{compute}-mutated-logs",
                *pytest_args,
                f"--junitxml={base / f'{compute}-mutated.xml'}",
                *MUTATED_TESTS,
            )
            for compute, project in mutated.items()
        },
        "all-on story": start_in(
            all_on,
            base / "all-on-state",
            base / "all-on-logs",
            *pytest_args,
            "tests/test_end_to_end.py",
        ),
        "suite": start_in(suite_project, base / "suite-state", base / "suite-logs", *pytest_args),
        "demo": start_in(
            demo_project,
            base / "demo-state",
            base / "demo-logs",
            "-m",
            f"{package_of(demo_project)}_local",
            "demo",
        ),
        "customized": start_in(
            customized, base / "customized-state", base / "customized-logs", *pytest_args
        ),
    }
    yield started
    for run in started.values():
        run.stop()


def package_of(project: Path) -> str:
    return next(p.name for p in (project / "src").iterdir() if not p.name.endswith("_local"))


def test_generated_test_suite_passes(runs: dict[str, Started]) -> None:
    result = runs["suite"].result()
    assert result.returncode == 0, result.stdout[-8000:] + result.stderr[-4000:]
    assert " passed" in result.stdout
    assert " failed" not in result.stdout


def test_demo_runs_the_whole_lifecycle(runs: dict[str, Started]) -> None:
    demo = runs["demo"]
    result = demo.result()
    assert result.returncode == 0, result.stdout[-8000:] + result.stderr[-4000:]
    assert "retraining triggered: yes" in result.stdout
    assert not (demo.project / ".local").exists(), "the demo must honour LOCAL_STATE_DIR"
    # It ends by pointing to the monitoring report it wrote and to the MLflow UI.
    report = demo.state / "report" / "monitoring.html"
    assert f"monitoring report (the dashboard's queries over the local tables): {report}" in (
        result.stdout
    )
    assert report.is_file() and 'class="error"' not in report.read_text()
    assert f"mlflow ui --backend-store-uri sqlite:///{demo.state / 'mlflow.db'}" in result.stdout


# docs/customize.md, followed as a team would: another estimator (a random forest, as its example
# shows), one feature fewer, and the end-to-end test's weak and worse settings for that estimator.
FOREST = (
    'DEFAULT_PARAMS: dict[str, Any] = {"n_estimators": 60, "max_depth": 12, "min_samples_leaf": 5}'
)
FOREST_REGRESSOR = '''def make_regressor(params: Mapping[str, Any]) -> Any:
    """A random forest (scikit-learn's accepts missing values)."""
    return RandomForestRegressor(random_state=0, n_jobs=1, **params)'''
DROPPED_FEATURE = "pickup_mean_distance"


def follow_the_customize_guide(project: Path, package: str) -> None:
    model = project / "src" / package / "training" / "model.py"
    text = model.read_text()
    text, defaults = re.subn(
        r"DEFAULT_PARAMS: dict\[str, Any\] = \{\n(?:    .*\n)*?\}", FOREST, text
    )
    text, regressors = re.subn(
        r"def make_regressor\(params: Mapping\[str, Any\]\) -> Any:\n(?:    .*\n)+",
        FOREST_REGRESSOR + "\n",
        text,
    )
    assert defaults == regressors == 1, "training/model.py no longer has the documented seams"
    text = text.replace(
        "from sklearn.ensemble import HistGradientBoostingRegressor",
        "from sklearn.ensemble import RandomForestRegressor",
    )
    model.write_text(text)

    names = project / "src" / package / "names.py"
    text = names.read_text()
    assert f', "{DROPPED_FEATURE}"]' in text
    names.write_text(text.replace(f', "{DROPPED_FEATURE}"]', "]"))

    story = project / "tests" / "test_end_to_end.py"
    text = story.read_text()
    for name, params in (
        ("WEAK", '{"n_estimators": 5, "max_depth": 4}'),
        ("WORSE", '{"n_estimators": 1, "max_depth": 1}'),
    ):
        text, count = re.subn(
            rf"^{name} = \{{.*\}}$",
            f'{name} = {{"hyperparameters": json.dumps({params})}}',
            text,
            flags=re.MULTILINE,
        )
        assert count == 1, name
    story.write_text(text)


def test_customized_project_passes_its_tests(runs: dict[str, Started], tmp_path: Path) -> None:
    """A project changed as docs/customize.md says runs its own suite green, with the new model."""
    customized = runs["customized"]
    project = customized.project
    package = package_of(project)
    assert (project / "docs" / "customize.md").exists()
    check = (
        f"from {package}.names import FEATURE_COLUMNS\n"
        f"from {package}.training.model import build_model\n"
        "print(type(build_model(FEATURE_COLUMNS)[-1]).__name__, len(FEATURE_COLUMNS))"
    )
    result = run_in(project, tmp_path / "state", "-c", check)
    assert result.stdout.split() == ["RandomForestRegressor", "8"], result.stderr
    result = customized.result()
    assert result.returncode == 0, result.stdout[-8000:] + result.stderr[-4000:]
    assert " passed" in result.stdout and " failed" not in result.stdout


def test_all_on_serverless_story_runs_on_spark_connect(runs: dict[str, Started]) -> None:
    """Every job of the all-on project, the streaming job, serving and approval included."""
    assert ALL_ON["compute"] == "serverless" and ALL_ON["include_streaming"] == "yes"
    result = runs["all-on story"].result()
    assert result.returncode == 0, result.stdout[-8000:] + result.stderr[-4000:]
    assert " passed" in result.stdout and " failed" not in result.stdout


# Calls that serverless compute refuses, each put where a generated test runs it: three in src/,
# one in a notebook. Each fails the serverless project's suite naming the serverless rule; a
# project on job clusters runs them.
MUTATIONS = {
    "df.cache()": (
        "src/{package}/features/transforms.py",
        '    """Drop unpriceable trips: missing zips, non-positive or absurd fare, distance or '
        'duration."""\n',
        "    trips = trips.cache()\n",
        "tests/test_features.py::test_clean_trips_drops_unpriceable_rows",
        "DataFrame.cache() is not available on serverless compute",
    ),
    "df.rdd": (
        "src/{package}/features/transforms.py",
        '    """Features known from the trip itself (all doubles): distance, duration, hour, '
        'weekday."""\n',
        "    trips.rdd.getNumPartitions()\n",
        "tests/test_features.py::test_trip_features",
        "DataFrame.rdd is not available on serverless compute",
    ),
    "spark.sparkContext": (
        "src/{package}/features/transforms.py",
        '    """Rows whose ``column`` falls on ``start_date`` .. ``end_date`` (inclusive, empty = '
        'open)."""\n',
        "    df.sparkSession.sparkContext.defaultParallelism  # noqa: B018\n",
        "tests/test_features.py::test_filter_dates_is_inclusive_and_open_ended",
        "spark.sparkContext is not available on serverless compute",
    ),
    "an unlisted Spark setting": (
        "notebooks/exploration/eda.py",
        "raw = platform.read_source(input_table)\n",
        'spark.conf.set("spark.sql.autoBroadcastJoinThreshold", "10485760")\n',
        "tests/test_eda.py::test_every_cell_runs_and_reads_the_sample_through_the_platform",
        "'spark.sql.autoBroadcastJoinThreshold' is not available on serverless compute",
    ),
}
MUTATED_TESTS = ("tests/test_features.py", "tests/test_eda.py")


def call_what_serverless_refuses(project: Path, package: str) -> None:
    for path, anchor, line, _test, _message in MUTATIONS.values():
        target = project / path.format(package=package)
        text = target.read_text()
        assert text.count(anchor) == 1, f"{target}: {anchor!r}"
        target.write_text(text.replace(anchor, anchor + line))


def junit_outcomes(report: Path) -> dict[str, str]:
    """``file::test`` -> the failure or error message ("" for a pass) from a JUnit report."""
    outcomes = {}
    for case in ElementTree.parse(report).getroot().iter("testcase"):
        path = case.get("classname", "").replace(".", "/") + ".py"
        problems = [child for child in case if child.tag in ("failure", "error")]
        text = "\n".join(f"{p.get('message', '')}\n{p.text or ''}" for p in problems)
        outcomes[f"{path}::{case.get('name')}"] = text
    return outcomes


def test_what_serverless_refuses_fails_the_serverless_suite_only(
    runs: dict[str, Started],
) -> None:
    serverless = runs["serverless-mutated"]
    result = serverless.result()
    assert result.returncode == 1, result.stdout[-4000:] + result.stderr[-2000:]
    outcomes = junit_outcomes(serverless.state.parent / "serverless-mutated.xml")
    for call, (_path, _anchor, _line, test, message) in MUTATIONS.items():
        assert message in outcomes[test], f"{call}: {test} did not fail naming the rule"
        assert "docs/local-vs-databricks.md" in outcomes[test]
    classic = runs["classic-mutated"].result()
    assert classic.returncode == 0, classic.stdout[-4000:] + classic.stderr[-2000:]
    assert " passed" in classic.stdout and " failed" not in classic.stdout
