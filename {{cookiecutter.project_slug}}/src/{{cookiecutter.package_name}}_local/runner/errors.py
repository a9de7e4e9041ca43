"""Errors of the local bundle runner."""


class RunnerError(Exception):
    """A job cannot be run locally (bad definition, unsupported feature)."""


class BundleError(RunnerError):
    """The bundle configuration cannot be loaded or resolved."""


class ChildJobError(RunnerError):
    """A ``run_job_task`` started a job that failed (its own result names the failing task)."""
