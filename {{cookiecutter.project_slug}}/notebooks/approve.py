# Databricks notebook source
# MAGIC %md
# MAGIC # Approve or reject a model version
# MAGIC A person's decision on `version` (`decision`: `approve` or `reject`, with a `reason`),
# MAGIC recorded on the model version as the tags `approval`, `approval_by` (who started this
# MAGIC run), `approval_reason`, `approval_at` and `approval_run_id`. Only the waiting
# MAGIC `challenger` can be approved; the job's `deploy` task then promotes it. A rejected version
# MAGIC loses `challenger` and is never promoted.

# COMMAND ----------

from {{ cookiecutter.package_name }}.deployment.approval import decide
from {{ cookiecutter.package_name }}.platform import get_platform

platform = get_platform(spark, dbutils)
model_name = platform.get_param("model_name")
job_run_id = platform.get_param("job_run_id")
# The job's own parameters: checked by decide(), which names what is missing.
version = platform.get_param("version", "")
decision = platform.get_param("decision", "")
reason = platform.get_param("reason", "")

# COMMAND ----------

result = decide(
    platform,
    model_name,
    version=version,
    decision=decision,
    reason=reason,
    decided_by=platform.triggered_by(job_run_id),
    run_id=job_run_id,
)
print(f"{model_name} v{result.model_version}: {result.decision} by {result.decided_by}")

# COMMAND ----------

platform.set_task_value("model_version", result.model_version)
platform.set_task_value("approved", "true" if result.approved else "false")
