"""The end-of-demo report: job outcomes, model versions and aliases, validation, drift."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from {{ cookiecutter.package_name }}.names import TAG_APPROVAL, TAG_APPROVAL_BY

if TYPE_CHECKING:
    import pandas as pd

    from .platform import LocalPlatform
    from .runner.results import RunResult


def print_summary(
    platform: LocalPlatform, prefix: str, model_name: str, runs: dict[str, RunResult]
) -> None:
    """Print the report for tables in ``prefix`` (``catalog.schema``) and the model."""
    print("\n=== summary")
    for label, result in runs.items():
        values = " ".join(
            f"{key}={value}"
            for task_values in result.task_values.values()
            for key, value in task_values.items()
            if key != "model_uri"
        )
        print(f"{label}: {result.state} in {result.duration:.0f}s {values}".rstrip())
        retrain = result.tasks.get("retrain")
        if retrain is not None:
            print(f"  retraining triggered: {'yes' if retrain.child else 'no'} ({retrain.state})")
    print_model_versions(platform, model_name)
    validation = _table(platform, f"{prefix}.validation_results")
    if validation is not None:
        print_validation(validation)
    drift = _table(platform, f"{prefix}.drift_metrics")
    if drift is not None:
        print_drift(drift)


def _table(platform: LocalPlatform, name: str) -> pd.DataFrame | None:
    return platform.read_table(name).toPandas() if platform.table_exists(name) else None


def print_model_versions(platform: LocalPlatform, model_name: str) -> None:
    """Each version with its aliases and held-out metrics."""
    client = platform.mlflow_client()
    if not client.search_registered_models(f"name = '{model_name}'"):
        print(f"\nmodel {model_name}: not registered")
        return
    aliases: dict[str, list[str]] = {}
    for alias, version in (client.get_registered_model(model_name).aliases or {}).items():
        aliases.setdefault(str(version), []).append(alias)
    print(f"\nmodel {model_name}:")
    versions = client.search_model_versions(f"name = '{model_name}'")
    for version in sorted(versions, key=lambda v: int(v.version)):
        metrics: dict[str, Any] = {}
        if version.run_id:
            metrics = client.get_run(version.run_id).data.metrics
        chosen = {k: v for k, v in metrics.items() if k.startswith("heldout_")} or metrics
        shown = ", ".join(f"{k}={v:.3f}" for k, v in sorted(chosen.items())[:6])
        decision = (version.tags or {}).get(TAG_APPROVAL)
        shown += f" ({decision} by {version.tags.get(TAG_APPROVAL_BY, '?')})" if decision else ""
        print(f"  v{version.version} {sorted(aliases.get(str(version.version), []))} {shown}")


def print_validation(table: pd.DataFrame) -> None:
    """Checks passed per validated model version, and the failed ones."""
    if not {"model_version", "check", "passed"} <= set(table.columns):
        return
    print("\nvalidation:")
    for version, checks in table.groupby("model_version", sort=True):
        failed = checks.loc[~checks["passed"].astype(bool), "check"].tolist()
        verdict = "passed" if not failed else f"FAILED {failed}"
        print(f"  v{version}: {int(checks['passed'].sum())}/{len(checks)} checks -> {verdict}")


def print_drift(table: pd.DataFrame) -> None:
    """Per monitoring run: the window and the breached metrics."""
    needed = {"feature", "metric", "value", "breached", "computed_at"}
    if not needed <= set(table.columns):
        return
    print("\ndrift:")
    for computed_at, rows in table.groupby("computed_at", sort=True):
        window = ""
        if {"window_start", "window_end"} <= set(rows.columns):
            start, end = rows["window_start"].iloc[0], rows["window_end"].iloc[0]
            window = f"{start:%Y-%m-%d} .. {end:%Y-%m-%d}"
        breached = rows[rows["breached"].astype(bool)]
        verdict = "drift" if len(breached) else "no drift"
        counts = f"{len(breached)}/{len(rows)} metrics breached"
        print(f"  window {window} (computed {computed_at:%H:%M:%S}): {verdict}, {counts}")
        for row in breached.itertuples():
            print(f"    {row.feature:<22} {row.metric:<14} {row.value:.3f}")
