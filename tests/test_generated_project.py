"""Do what a user does with a fresh project: run its test suite and its demo."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from conftest import DEFAULT_COMBINATION, Renderings, render

# The generated suites are the slow part of the template's tests: they run twice, for the
# default options (serverless, feature store, monitoring) and for the variant whose code differs
# most (classic compute, inline features, no monitoring; serving, streaming and manual approval
# on), which is also customized as docs/customize.md says (another estimator, one feature fewer):
# every job of both runs end to end through the local runner. Without monitoring, the second
# story trains a better model by hand, which then waits for approval.
CUSTOMIZED = {
    **DEFAULT_COMBINATION,
    "compute": "classic",
    "include_feature_store": "no",
    "include_monitoring": "no",
    "include_serving": "yes",
    "include_streaming": "yes",
    "model_approval": "yes",
}


def run_in(project: Path, state: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "PYTHONPATH": str(project / "src"),
        "LOCAL_STATE_DIR": str(state),
        "MLFLOW_DISABLE_TELEMETRY": "true",
    }
    return subprocess.run(
        [sys.executable, *args],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=1200,
        check=False,
    )


def test_generated_test_suite_passes(renderings: Renderings, tmp_path: Path) -> None:
    project = renderings.get(DEFAULT_COMBINATION)
    result = run_in(project, tmp_path / "state", "-m", "pytest", "-q", "-p", "no:cacheprovider")
    assert result.returncode == 0, result.stdout[-8000:] + result.stderr[-4000:]
    assert " passed" in result.stdout
    assert " failed" not in result.stdout


def test_demo_runs_the_whole_lifecycle(renderings: Renderings, tmp_path: Path) -> None:
    project = renderings.get(DEFAULT_COMBINATION)
    package = next(p.name for p in (project / "src").iterdir() if p.is_dir())
    result = run_in(project, tmp_path / "state", "-m", package, "demo")
    assert result.returncode == 0, result.stdout[-8000:] + result.stderr[-4000:]
    assert "retraining triggered: yes" in result.stdout
    assert not (project / ".local").exists(), "the demo must honour LOCAL_STATE_DIR"
    # It ends by pointing to the monitoring report it wrote and to the MLflow UI.
    report = tmp_path / "state" / "report" / "monitoring.html"
    assert f"monitoring report (the dashboard's queries over the local tables): {report}" in (
        result.stdout
    )
    assert report.is_file() and 'class="error"' not in report.read_text()
    assert f"mlflow ui --backend-store-uri sqlite:///{tmp_path / 'state' / 'mlflow.db'}" in (
        result.stdout
    )


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


def test_customized_project_passes_its_tests(tmp_path: Path) -> None:
    """A project changed as docs/customize.md says runs its own suite green, with the new model."""
    project = render(tmp_path / "out", **CUSTOMIZED)
    package = next(p.name for p in (project / "src").iterdir() if not p.name.endswith("_local"))
    assert (project / "docs" / "customize.md").exists()
    follow_the_customize_guide(project, package)
    check = (
        f"from {package}.names import FEATURE_COLUMNS\n"
        f"from {package}.training.model import build_model\n"
        "print(type(build_model(FEATURE_COLUMNS)[-1]).__name__, len(FEATURE_COLUMNS))"
    )
    result = run_in(project, tmp_path / "state", "-c", check)
    assert result.stdout.split() == ["RandomForestRegressor", "8"], result.stderr
    result = run_in(project, tmp_path / "state", "-m", "pytest", "-q", "-p", "no:cacheprovider")
    assert result.returncode == 0, result.stdout[-8000:] + result.stderr[-4000:]
    assert " passed" in result.stdout and " failed" not in result.stdout
