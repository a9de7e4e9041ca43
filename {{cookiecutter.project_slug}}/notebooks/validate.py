# Databricks notebook source
# MAGIC %md
# MAGIC # Validate
# MAGIC Gates the new version: metrics against absolute thresholds and against the `champion` on
# MAGIC the same held-out trips, compliance checks and a smoke test, one row per check in
# MAGIC `validation_results`. Passing sets the alias `challenger`; failing stops the job
# MAGIC (`validation_mode=enforce`) or is only recorded (`validation_mode=report`).

# COMMAND ----------

from {{ cookiecutter.package_name }}.platform import get_platform
from {{ cookiecutter.package_name }}.validation.gate import GateConfig, parse_share
from {{ cookiecutter.package_name }}.validation.validate import validate_model

platform = get_platform(spark, dbutils)
catalog = platform.get_param("catalog")
schema = platform.get_param("schema")
model_name = platform.get_param("model_name")
model_version = platform.get_param("model_version")
experiment_name = platform.get_param("experiment_name")
validation_mode = platform.get_param("validation_mode")
min_improvement = parse_share(
    platform.get_param("min_relative_improvement", "0.0"), "min_relative_improvement"
)

# COMMAND ----------

report = validate_model(
    platform,
    model_name=model_name,
    model_version=model_version,
    experiment_name=experiment_name,
    catalog=catalog,
    schema=schema,
    validation_mode=validation_mode,
    config=GateConfig(min_relative_improvement=min_improvement),
)
for check in report.checks:
    print(f"{'PASS' if check.passed else 'FAIL'} {check.check}: {check.detail}")

# COMMAND ----------

platform.set_task_value("passed", "true" if report.passed else "false")
