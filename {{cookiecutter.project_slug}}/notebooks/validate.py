# Databricks notebook source
# MAGIC %md
# MAGIC # Validate
# MAGIC Gates the new version: metrics against absolute thresholds and against the `champion` on
# MAGIC the same held-out trips, compliance checks and a smoke test, one row per check in
# MAGIC `validation_results`. Passing sets the alias `challenger`; failing stops the job
# MAGIC (`validation_mode=enforce`) or is only recorded (`validation_mode=report`).

# COMMAND ----------

from {{ cookiecutter.package_name }}.platform import get_platform
from {{ cookiecutter.package_name }}.validation.validate import validate_model

platform = get_platform(spark, dbutils)
catalog = platform.get_param("catalog", "{{ cookiecutter.catalog_dev }}")
schema = platform.get_param("schema", "{{ cookiecutter.schema }}")
model_name = platform.get_param("model_name", f"{catalog}.{schema}.{{ cookiecutter.model_name }}")
model_version = platform.get_param("model_version", "") or platform.get_task_value(
    "train", "model_version"
)
experiment_name = platform.get_param("experiment_name", "/Shared/{{ cookiecutter.project_slug }}")
validation_mode = platform.get_param("validation_mode", "enforce")
if not model_version:
    raise ValueError("model_version is required (the train task's task value)")

# COMMAND ----------

report = validate_model(
    platform,
    model_name=model_name,
    model_version=model_version,
    experiment_name=experiment_name,
    catalog=catalog,
    schema=schema,
    validation_mode=validation_mode,
)
for check in report.checks:
    print(f"{'PASS' if check.passed else 'FAIL'} {check.check}: {check.detail}")

# COMMAND ----------

platform.set_task_value("passed", "true" if report.passed else "false")
