"""Run Databricks Asset Bundle jobs locally from the bundle's own YAML."""

from ..spark import get_spark
from .bundle import Bundle, load_bundle
from .dbutils import LocalDbutils
from .engine import JobRunner, run_job
from .errors import BundleError, RunnerError
from .results import RunResult, TaskResult

__all__ = [
    "Bundle",
    "BundleError",
    "JobRunner",
    "LocalDbutils",
    "RunResult",
    "RunnerError",
    "TaskResult",
    "get_spark",
    "load_bundle",
    "run_job",
]
