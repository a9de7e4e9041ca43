"""Worker (runs with the rendered project on ``PYTHONPATH``): batch scoring throughput.

Times the generated platform's ``score_batch`` (``mlflow.pyfunc.spark_udf`` over local Spark)
against the same model's in-process ``predict`` on the same rows, size by size.
"""

from __future__ import annotations

import argparse
import importlib
import json
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.common import PACKAGE, median, runs_for
from benchmarks.synthetic import feature_chunk, read_numpy, write_parquet

TRAIN_ROWS = 50_000
WARMUP_ROWS = 100_000


def _register_model(platform: Any, names: Any) -> str:
    """Fit the generated project's estimator on synthetic rows and register it; return its URI."""
    import mlflow
    import pandas as pd
    from mlflow.models import infer_signature

    model_mod = importlib.import_module(f"{PACKAGE}.training.model")
    data = feature_chunk(names.FEATURE_COLUMNS, TRAIN_ROWS, seed=7)
    frame = pd.DataFrame({c: data[c] for c in names.FEATURE_COLUMNS})
    model = model_mod.build_model(names.FEATURE_COLUMNS)
    model.fit(frame, data[names.LABEL])
    platform.set_experiment("benchmark-scoring")
    example = frame.head(5)
    with mlflow.start_run(run_name="benchmark model"):
        registered = platform.log_model(
            model,
            name="model",
            registered_model_name="bench.scoring.fare_model",
            training_set=None,
            signature=infer_signature(example, model.predict(example)),
            input_example=example,
            pip_requirements=model_mod.pip_requirements(),
        )
    return registered.model_uri


def _spark_pass(platform: Any, uri: str, path: Path, columns: list[str]) -> dict[str, float]:
    """score_batch on the Parquet rows, forced by an aggregate over the prediction column."""
    from pyspark.sql import functions as F  # noqa: N812

    started = time.perf_counter()
    frame = platform.spark.read.parquet(str(path)).select(*columns)
    scored = platform.score_batch(uri, frame)
    setup = time.perf_counter() - started
    row = scored.agg(F.count("prediction").alias("n"), F.sum("prediction").alias("s")).first()
    elapsed = time.perf_counter() - started
    partitions = frame.rdd.getNumPartitions()
    return {"seconds": elapsed, "setup": setup, "rows": row.n, "sum": row.s, "parts": partitions}


def _predict_pass(model: Any, matrix: Any, columns: list[str]) -> dict[str, float]:
    """The same model's in-process predict on the same rows (already in memory)."""
    import pandas as pd

    started = time.perf_counter()
    frame = pd.DataFrame(matrix, columns=columns, copy=False)
    predictions = model.predict(frame)
    return {"seconds": time.perf_counter() - started, "sum": float(predictions.sum())}


def run(project: Path, sizes: list[int], repeat: int, data_dir: Path) -> dict[str, Any]:
    """Measure every size ``repeat`` times (Spark then in-process each time); return figures."""
    import mlflow

    names = importlib.import_module(f"{PACKAGE}.names")
    spark_mod = importlib.import_module(f"{PACKAGE}_local.spark")
    local = importlib.import_module(f"{PACKAGE}_local.platform")
    columns = list(names.FEATURE_COLUMNS)

    spark = spark_mod.get_spark()
    state = Path(tempfile.mkdtemp(prefix="bench-scoring-state-"))
    platform = local.LocalPlatform(spark, state=state)
    uri = _register_model(platform, names)
    model = mlflow.sklearn.load_model(uri)
    warm = write_parquet(data_dir / f"score-{WARMUP_ROWS}.parquet", columns, WARMUP_ROWS, seed=11)
    _spark_pass(platform, uri, warm, columns)  # JVM, Python workers and model cache warm

    results: dict[str, Any] = {
        "arrow_max_records_per_batch": spark.conf.get(
            "spark.sql.execution.arrow.maxRecordsPerBatch"
        ),
        "spark_master": spark.sparkContext.master,
        "sizes": {},
    }
    for n in sizes:
        path = write_parquet(data_dir / f"score-{n}.parquet", columns, n, seed=13)
        matrix = read_numpy(path, columns)
        runs = []
        for _ in range(runs_for(n, repeat)):
            spark_run = _spark_pass(platform, uri, path, columns)
            local_run = _predict_pass(model, matrix, columns)
            if spark_run["rows"] != n:
                raise RuntimeError(f"scored {spark_run['rows']} rows, expected {n}")
            spark_run["sum_rel_diff"] = abs(spark_run["sum"] - local_run["sum"]) / abs(
                local_run["sum"]
            )
            runs.append({"spark": spark_run, "predict": local_run})
            print(
                f"{n:>10} rows: score_batch {spark_run['seconds']:.2f}s, "
                f"predict {local_run['seconds']:.2f}s",
                flush=True,
            )
        del matrix
        spark_s = median([r["spark"]["seconds"] for r in runs])
        predict_s = median([r["predict"]["seconds"] for r in runs])
        results["sizes"][str(n)] = {
            "rows": n,
            "runs": len(runs),
            "input_partitions": runs[0]["spark"]["parts"],
            "score_batch_seconds": spark_s,
            "score_batch_setup_seconds": median([r["spark"]["setup"] for r in runs]),
            "score_batch_rows_per_s": round(n / spark_s),
            "predict_seconds": predict_s,
            "predict_rows_per_s": round(n / predict_s),
            "ratio_to_predict": median(
                [r["predict"]["seconds"] / r["spark"]["seconds"] for r in runs]
            ),
            "max_prediction_sum_rel_diff": max(r["spark"]["sum_rel_diff"] for r in runs),
        }
    return results


def main() -> None:
    """CLI for the orchestrator."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--project", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--sizes", type=int, nargs="+", required=True)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--data-dir", type=Path, required=True)
    args = parser.parse_args()
    figures = run(args.project, args.sizes, args.repeat, args.data_dir)
    args.out.write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
