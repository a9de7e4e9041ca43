# Databricks notebook source
# MAGIC %md
# MAGIC # Deploy
# MAGIC Promotes the validated `challenger` (the version this job trained) to `champion` and keeps
# MAGIC the replaced champion as `previous_champion`. Points the serving endpoint at the new
# MAGIC champion when `serving_endpoint_name` is set.

# COMMAND ----------

from {{ cookiecutter.package_name }}.deployment.promote import promote
from {{ cookiecutter.package_name }}.platform import get_platform

platform = get_platform(spark, dbutils)
catalog = platform.get_param("catalog", "{{ cookiecutter.catalog_dev }}")
schema = platform.get_param("schema", "{{ cookiecutter.schema }}")
model_name = platform.get_param("model_name", f"{catalog}.{schema}.{{ cookiecutter.model_name }}")
model_version = platform.get_param("model_version", "")
serving_endpoint_name = platform.get_param("serving_endpoint_name", "")

# COMMAND ----------

change = promote(platform, model_name, model_version, serving_endpoint_name)
print(f"champion: v{change.champion_version} (replaced: {change.replaced_version})")

# COMMAND ----------

platform.set_task_value("champion_version", change.champion_version)
