"""Local runs on a laptop: quiet output, native threads that do not fight Spark, a warm-up."""

from __future__ import annotations

import logging
import os
import threading

# Library loggers that report routine work (database migrations, artifact uploads) at INFO.
CHATTY_LOGGERS = ("mlflow", "py4j", "alembic", "urllib3")


# Warnings about choices this project makes on purpose (explained where they are made).
EXPECTED_WARNINGS = (
    "Saving scikit-learn models in the pickle or cloudpickle format",  # platform.log_model
    'with `env_manager="local"` does not recreate the same environment',  # score_batch
)


class _ExpectedWarnings(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return not any(text in message for text in EXPECTED_WARNINGS)


def limit_native_threads() -> None:
    """One OpenMP thread per process (unless set): Spark's cores and scikit-learn's OpenMP
    threads share a few laptop cores, and OpenMP's busy-waiting threads then slow a small fit
    by an order of magnitude (measured: 1.5 s single-threaded, 20 s with two threads on a busy
    two-core machine). Must run before scikit-learn is first imported; workers inherit it."""
    os.environ.setdefault("OMP_NUM_THREADS", "1")


def quiet_libraries() -> None:
    """Raise chatty library loggers to WARNING, drop warnings about deliberate choices and turn
    off MLflow's progress bars."""
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    for name in CHATTY_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
    for name in ("mlflow.sklearn", "mlflow.pyfunc"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, _ExpectedWarnings) for f in logger.filters):
            logger.addFilter(_ExpectedWarnings())


def start_warmup() -> threading.Thread:
    """Import the heavy libraries and prepare the MLflow store in the background, while the
    main thread starts Spark (which mostly waits for the JVM): both are needed by the first task,
    and on two cores they overlap instead of adding up."""

    def warm() -> None:
        import matplotlib.figure  # noqa: F401
        import mlflow.pyfunc
        import mlflow.sklearn  # noqa: F401
        import sklearn.ensemble  # noqa: F401

        from .platform import empty_mlflow_db

        empty_mlflow_db()

    thread = threading.Thread(target=warm, name="local-twin-warmup", daemon=True)
    thread.start()
    return thread
