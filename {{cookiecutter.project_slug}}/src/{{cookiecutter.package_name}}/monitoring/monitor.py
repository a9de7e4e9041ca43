"""Monitoring task: recent ``inference_log`` window vs ``training_baseline`` of the champion.

All statistics come from Spark: bin edges from the percentiles of a bounded, seeded sample of
the baseline, then one Bucketizer + explode + groupBy pass counting every feature's bins for
both data sets; only the sample and those counts (features x bins) reach the driver.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

import mlflow
import numpy as np
from matplotlib.figure import Figure
from pyspark.ml.feature import Bucketizer
from pyspark.sql import DataFrame
from pyspark.sql import functions as F  # noqa: N812
from pyspark.sql import types as T  # noqa: N812

from ..names import (
    CATEGORICAL_FEATURES,
    CHAMPION,
    DRIFT_METRICS_TABLE,
    FEATURE_COLUMNS,
    INFERENCE_LOG_TABLE,
    LABEL,
    PICKUP_TS,
    PREDICTION,
    TAG_CHAMPION_SINCE,
    TAG_TASK,
    TRAINING_BASELINE_TABLE,
    table,
)
from ..platform.base import Platform
from ..registry import alias_version, version_tags
from .drift import (
    KS_BINS,
    PSI_BINS,
    category_splits,
    is_breach,
    ks_statistic,
    merge_bins,
    psi,
    relative_increase,
    split_points,
)

log = logging.getLogger(__name__)

MIN_ROWS = 100
MONITORED_COLUMNS = [*FEATURE_COLUMNS, PREDICTION]
# Bin edges come from at most about this many baseline rows (the counts use every row).
QUANTILE_SAMPLE_ROWS = 200_000

DRIFT_SCHEMA = T.StructType(
    [
        T.StructField("window_start", T.TimestampType()),
        T.StructField("window_end", T.TimestampType()),
        T.StructField("feature", T.StringType()),
        T.StructField("metric", T.StringType()),
        T.StructField("value", T.DoubleType()),
        T.StructField("threshold", T.DoubleType()),
        T.StructField("breached", T.BooleanType()),
        T.StructField("model_version", T.StringType()),
        T.StructField("computed_at", T.TimestampType()),
    ]
)


@dataclass(frozen=True)
class Thresholds:
    """Breach limits: PSI and KS per column, relative RMSE increase over the baseline."""

    psi: float = 0.2
    ks: float = 0.2
    rmse_increase: float = 0.25


@dataclass(frozen=True)
class DriftRow:
    """One row of ``drift_metrics``."""

    feature: str
    metric: str
    value: float
    threshold: float | None = None
    breached: bool = False


@dataclass
class BinCounts:
    """Baseline and current counts over the same bins of one column (+ a missing-value bin)."""

    splits: list[float]
    psi_splits: list[float]
    baseline: np.ndarray
    current: np.ndarray
    baseline_missing: float = 0.0
    current_missing: float = 0.0
    categorical: bool = False

    def rows(self) -> tuple[int, int]:
        """(current, baseline) row counts, missing values included."""
        return (
            int(self.current.sum() + self.current_missing),
            int(self.baseline.sum() + self.baseline_missing),
        )


@dataclass
class MonitorResult:
    """Whether to retrain, and everything that was measured.

    ``note`` says why nothing was judged (no champion yet, too few rows since it became
    champion); such a run never asks for retraining.
    """

    retrain: bool
    model_version: str | None
    window_start: datetime | None
    window_end: datetime | None
    rows: list[DriftRow] = field(default_factory=list)
    run_id: str | None = None
    note: str = ""

    @property
    def breaches(self) -> list[str]:
        """``feature.metric=value`` of every breached threshold."""
        return [f"{r.feature}.{r.metric}={r.value:.3f}" for r in self.rows if r.breached]


def baseline_values(
    baseline: DataFrame, columns: Sequence[str], total: int | None = None
) -> dict[str, np.ndarray]:
    """The non-missing values of each column in a seeded sample of the baseline.

    At most about ``QUANTILE_SAMPLE_ROWS`` rows reach the driver; their rank error (about 0.1%,
    one standard error) is what ``approxQuantile`` would be given, and this is several times
    faster than ``approxQuantile`` over many columns. The values only place the bins: the counts
    in them are exact over all rows. ``total`` (the baseline's row count, or an upper bound)
    saves counting it again.
    """
    total = baseline.count() if total is None else total
    sample = (
        baseline.sample(fraction=QUANTILE_SAMPLE_ROWS / total, seed=0)
        if total > QUANTILE_SAMPLE_ROWS
        else baseline
    )
    pdf = sample.select(*[F.col(c).cast("double").alias(c) for c in columns]).toPandas()
    values = {}
    for column in columns:
        found = pdf[column].to_numpy(dtype=float, na_value=np.nan)
        values[column] = found[~np.isnan(found)]
    return values


def bin_counts(
    baseline: DataFrame,
    current: DataFrame,
    columns: Sequence[str],
    categorical: Sequence[str] = (),
    baseline_rows: int | None = None,
) -> dict[str, BinCounts]:
    """Counts of every column over bins of the baseline, for both frames in one pass.

    Continuous columns: percentile bins of the baseline. Categorical columns (``categorical``):
    one bin per value seen in the baseline.
    """
    probabilities = [i / KS_BINS for i in range(1, KS_BINS)]
    values = baseline_values(baseline, columns, baseline_rows)
    splits: dict[str, list[float]] = {}
    psi_splits: dict[str, list[float]] = {}
    for column in columns:
        found = values[column]
        if column in categorical:
            splits[column] = psi_splits[column] = category_splits(found)
            continue
        quantiles = (
            np.quantile(found, probabilities, method="inverted_cdf").tolist() if found.size else []
        )
        splits[column] = split_points(quantiles)
        # Deciles are every tenth percentile, so PSI bins are unions of the KS bins.
        psi_splits[column] = split_points(quantiles[PSI_BINS - 1 :: PSI_BINS])
    nan = F.lit(float("nan")).cast("double")
    both = baseline.select(F.lit("baseline").alias("side"), *columns).unionByName(
        current.select(F.lit("current").alias("side"), *columns)
    )
    both = both.select(
        "side", *[F.coalesce(F.col(c).cast("double"), nan).alias(c) for c in columns]
    )
    bucketizer = Bucketizer(
        splitsArray=[splits[c] for c in columns],
        inputCols=list(columns),
        outputCols=[f"{c}__bin" for c in columns],
        handleInvalid="keep",  # NaN (missing) lands in one extra bucket: len(splits) - 1
    )
    pairs = F.array(
        *[
            F.struct(F.lit(c).alias("feature"), F.col(f"{c}__bin").cast("int").alias("bin"))
            for c in columns
        ]
    )
    counted = (
        bucketizer.transform(both)
        .select("side", F.explode(pairs).alias("p"))
        .groupBy("side", F.col("p.feature").alias("feature"), F.col("p.bin").alias("bin"))
        .count()
        .collect()
    )
    result = {
        c: BinCounts(
            splits[c],
            psi_splits[c],
            np.zeros(len(splits[c]) - 1),
            np.zeros(len(splits[c]) - 1),
            categorical=c in categorical,
        )
        for c in columns
    }
    for row in counted:
        counts = result[row["feature"]]
        n_bins = len(counts.splits) - 1
        if row["bin"] >= n_bins:
            setattr(counts, f"{row['side']}_missing", float(row["count"]))
        else:
            getattr(counts, row["side"])[row["bin"]] += row["count"]
    return result


def drift_rows(counts: dict[str, BinCounts], thresholds: Thresholds) -> list[DriftRow]:
    """Per column: PSI (+ a missing-value bin) over baseline deciles, and KS over percentiles;
    for a categorical column PSI over its categories only (KS assumes an ordered, continuous
    scale)."""
    rows: list[DriftRow] = []
    for column, c in counts.items():
        expected = [*merge_bins(c.baseline, c.splits, c.psi_splits), c.baseline_missing]
        actual = [*merge_bins(c.current, c.splits, c.psi_splits), c.current_missing]
        psi_value = psi(expected, actual)
        rows.append(
            DriftRow(column, "psi", psi_value, thresholds.psi, is_breach(psi_value, thresholds.psi))
        )
        if not c.categorical:
            ks_value = ks_statistic(c.baseline, c.current)
            rows.append(
                DriftRow(column, "ks", ks_value, thresholds.ks, is_breach(ks_value, thresholds.ks))
            )
    return rows


def performance_rows(
    baseline: DataFrame, current: DataFrame, thresholds: Thresholds
) -> list[DriftRow]:
    """RMSE on labelled rows of both sets (one pass) and its relative increase (the breach)."""
    squared = F.pow(F.col(LABEL) - F.col(PREDICTION), 2)
    both = baseline.select(F.lit("baseline").alias("side"), squared.alias("e2")).unionByName(
        current.select(F.lit("current").alias("side"), squared.alias("e2"))
    )
    stats = {
        row["side"]: row
        for row in both.where(F.col("e2").isNotNull())
        .groupBy("side")
        .agg(F.sqrt(F.avg("e2")).alias("rmse"), F.count(F.lit(1)).alias("n"))
        .collect()
    }
    labelled = int(stats["current"]["n"]) if "current" in stats else 0
    rows = [DriftRow(LABEL, "labelled_rows", float(labelled))]
    if "baseline" not in stats or labelled < MIN_ROWS:
        return rows
    base_rmse, cur_rmse = float(stats["baseline"]["rmse"]), float(stats["current"]["rmse"])
    increase = relative_increase(cur_rmse, base_rmse)
    return [
        *rows,
        DriftRow(LABEL, "rmse_baseline", base_rmse),
        DriftRow(LABEL, "rmse_current", cur_rmse),
        DriftRow(
            LABEL,
            "rmse_increase",
            increase,
            thresholds.rmse_increase,
            is_breach(increase, thresholds.rmse_increase),
        ),
    ]


def drift_figure(counts: dict[str, BinCounts]) -> Figure:
    """Baseline vs current shares per PSI bin, one panel per column."""
    columns = list(counts)
    n_cols = 3
    n_rows = math.ceil(len(columns) / n_cols)
    figure = Figure(figsize=(5 * n_cols, 3 * n_rows))
    axes = np.atleast_1d(figure.subplots(n_rows, n_cols)).reshape(-1)
    for ax, column in zip(axes, columns, strict=False):
        c = counts[column]
        base = merge_bins(c.baseline, c.splits, c.psi_splits)
        cur = merge_bins(c.current, c.splits, c.psi_splits)
        x = np.arange(len(base))
        ax.bar(x - 0.2, base / max(base.sum(), 1), width=0.4, label="baseline")
        ax.bar(x + 0.2, cur / max(cur.sum(), 1), width=0.4, label="current")
        ax.set_title(column, fontsize=9)
        ax.set_xticks([])
    for ax in axes[len(columns) :]:
        ax.set_visible(False)
    axes[0].legend(fontsize=8)
    figure.tight_layout()
    return figure


def write_drift_rows(
    platform: Platform,
    name: str,
    rows: Sequence[DriftRow],
    *,
    window_start: datetime | None,
    window_end: datetime | None,
    model_version: str,
) -> None:
    """Append the measured rows to ``drift_metrics``."""
    now = datetime.now(UTC)
    data = [
        (
            window_start,
            window_end,
            r.feature,
            r.metric,
            float(r.value),
            r.threshold,
            bool(r.breached),
            model_version,
            now,
        )
        for r in rows
    ]
    platform.write_table(platform.spark.createDataFrame(data, DRIFT_SCHEMA), name, "append")


def _log_to_mlflow(
    platform: Platform, model_name: str, version: str, rows: Sequence[DriftRow], figure: Figure
) -> str | None:
    """Log metrics and the drift plot next to the champion's training run."""
    client = platform.mlflow_client()
    run_id = client.get_model_version(model_name, version).run_id
    if not run_id:
        return None
    experiment_id = client.get_run(run_id).info.experiment_id
    with mlflow.start_run(experiment_id=experiment_id, run_name=f"monitor v{version}") as run:
        mlflow.set_tags(
            {"model_name": model_name, "model_version": version, TAG_TASK: "monitoring"}
        )
        mlflow.log_metrics(
            {f"{r.metric}_{r.feature}": r.value for r in rows if math.isfinite(r.value)}
        )
        mlflow.log_figure(figure, "plots/drift.png")
        return run.info.run_id


def comparable_baseline(baseline: DataFrame, window_days: int) -> tuple[DataFrame, int]:
    """The latest whole multiple of the window in the baseline (by pickup time).

    The held-out rows of a training run span however many days they span; the window compared
    with them spans ``window_days``. Trimming the baseline to a whole number of windows (whole
    weeks for the default 7 days) gives both sides the same mix of weekdays: a 10-day baseline
    has three weekdays twice, its last 7 days have each once. Returns the trimmed rows and the
    row count before trimming (an upper bound of theirs).
    """
    pickup = F.col(PICKUP_TS).cast("long")
    bounds = baseline.agg(
        F.min(pickup).alias("first"), F.max(pickup).alias("last"), F.count(F.lit(1)).alias("n")
    ).first()
    if bounds["last"] is None:
        return baseline, 0
    window = window_days * 86_400
    windows = (int(bounds["last"]) - int(bounds["first"])) // window
    if not windows:
        return baseline, int(bounds["n"])
    return baseline.where(pickup > int(bounds["last"]) - windows * window), int(bounds["n"])


def champion_since(platform: Platform, model_name: str, version: str) -> datetime | None:
    """When ``version`` last became champion (promotion or rollback), from its tag."""
    tags = version_tags(platform.mlflow_client(), model_name, version)
    value = tags.get(TAG_CHAMPION_SINCE)
    if not value:
        return None
    since = datetime.fromisoformat(value)
    return since if since.tzinfo else since.replace(tzinfo=UTC)


def monitor(
    platform: Platform,
    *,
    model_name: str,
    catalog: str,
    schema: str,
    window_days: int = 7,
    thresholds: Thresholds | None = None,
) -> MonitorResult:
    """Compare the champion's recent predictions with its training baseline; append the metrics
    to ``drift_metrics``; say whether to retrain.

    Only predictions the current champion made since it (re)became champion count: after a
    rollback, rows it scored before it was replaced say nothing about the decision to restore
    it. Of those, the last ``window_days`` (by pickup time) are compared with the held-out rows
    of the champion's training run.
    """
    thresholds = thresholds or Thresholds()
    if window_days <= 0:
        raise ValueError(f"window_days must be positive, got {window_days}")
    client = platform.mlflow_client()
    version = alias_version(client, model_name, CHAMPION)
    if version is None:
        note = f"{model_name} has no champion yet: nothing to monitor (run training_job first)"
        log.warning(note)
        return MonitorResult(False, None, None, None, note=note)
    log_table = table(catalog, schema, INFERENCE_LOG_TABLE)
    if not platform.table_exists(log_table):
        note = f"{log_table} does not exist yet: nothing to monitor (run batch_inference_job)"
        log.warning(note)
        return MonitorResult(False, version, None, None, note=note)

    since = champion_since(platform, model_name, version)
    scored = platform.read_table(log_table).where(F.col("model_version") == version)
    if since is not None:
        scored = scored.where(F.col("scored_at") >= F.lit(since))
    # Epoch seconds keep the window independent of the driver's and the session's time zone.
    pickup = F.col(PICKUP_TS).cast("long")
    bounds = scored.agg(F.max(pickup).alias("last"), F.min(pickup).alias("first")).first()
    end_epoch, first_epoch = bounds["last"], bounds["first"]
    since_text = f"v{version} became champion ({since:%Y-%m-%d %H:%M} UTC)" if since else "ever"
    if end_epoch is None:
        note = f"not enough rows since {since_text}: 0 scored, {MIN_ROWS} needed"
        rows = [DriftRow("all", "rows_current", 0.0)]
        write_drift_rows(
            platform,
            table(catalog, schema, DRIFT_METRICS_TABLE),
            rows,
            window_start=None,
            window_end=None,
            model_version=version,
        )
        log.warning(note)
        return MonitorResult(False, version, None, None, rows, note=note)
    start_epoch = int(end_epoch) - window_days * 86_400
    window_end = datetime.fromtimestamp(int(end_epoch), tz=UTC)
    window_start = datetime.fromtimestamp(start_epoch, tz=UTC)
    covered_days = (int(end_epoch) - int(first_epoch)) / 86_400
    current = platform.cache(scored.where(pickup > start_epoch))
    training_run = client.get_model_version(model_name, version).run_id
    trimmed, baseline_rows = comparable_baseline(
        platform.read_table(table(catalog, schema, TRAINING_BASELINE_TABLE)).where(
            F.col("run_id") == training_run
        ),
        window_days,
    )
    baseline = platform.cache(trimmed)
    rows: list[DriftRow] = []
    run_id = None
    note = ""
    if covered_days < window_days - 1:
        # A partial window has other weekdays and hours than the baseline: not comparable.
        note = (
            f"not enough rows since {since_text}: they cover {covered_days:.1f} of the "
            f"{window_days} days of the window"
        )
    elif baseline_rows < MIN_ROWS:
        note = f"the training run {training_run} left {baseline_rows} baseline rows"
    else:
        counts = bin_counts(
            baseline, current, MONITORED_COLUMNS, CATEGORICAL_FEATURES, baseline_rows
        )
        n_current, n_baseline = counts[PREDICTION].rows()
        rows = [
            DriftRow("all", "rows_current", float(n_current)),
            DriftRow("all", "rows_baseline", float(n_baseline)),
        ]
        if n_current < MIN_ROWS or n_baseline < MIN_ROWS:
            note = (
                f"not enough rows since {since_text}: {n_current} scored in the window "
                f"({MIN_ROWS} needed), baseline {n_baseline}"
            )
        else:
            rows += drift_rows(counts, thresholds)
            rows += performance_rows(baseline, current, thresholds)
            run_id = _log_to_mlflow(platform, model_name, version, rows, drift_figure(counts))
    if note:
        log.warning(note)
    platform.uncache(current)
    platform.uncache(baseline)

    write_drift_rows(
        platform,
        table(catalog, schema, DRIFT_METRICS_TABLE),
        rows,
        window_start=window_start,
        window_end=window_end,
        model_version=version,
    )
    result = MonitorResult(
        any(r.breached for r in rows), version, window_start, window_end, rows, run_id, note
    )
    log.info(
        "monitoring %s v%s: retrain=%s %s", model_name, version, result.retrain, result.breaches
    )
    return result
