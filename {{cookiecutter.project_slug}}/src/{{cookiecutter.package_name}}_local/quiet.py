"""Quiet output for local runs: task progress and results, not library chatter."""

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
        quiet_libraries()

    thread = threading.Thread(target=warm, name="local-twin-warmup", daemon=True)
    thread.start()
    return thread
