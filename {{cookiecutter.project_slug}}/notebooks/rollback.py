# Databricks notebook source
# MAGIC %md
# MAGIC # Rollback
# MAGIC Restores `previous_champion` as `champion` (and points the serving endpoint back at it when
# MAGIC `serving_endpoint_name` is set). Run by hand after a bad promotion.

# COMMAND ----------

from {{ cookiecutter.package_name }}.deployment.promote import rollback
from {{ cookiecutter.package_name }}.platform import get_platform

platform = get_platform(spark, dbutils)
catalog = platform.get_param("catalog", "{{ cookiecutter.catalog_dev }}")
schema = platform.get_param("schema", "{{ cookiecutter.schema }}")
model_name = platform.get_param("model_name", f"{catalog}.{schema}.{{ cookiecutter.model_name }}")
serving_endpoint_name = platform.get_param("serving_endpoint_name", "")

# COMMAND ----------

change = rollback(platform, model_name, serving_endpoint_name)
print(f"champion: v{change.champion_version} (was v{change.replaced_version})")

# COMMAND ----------

platform.set_task_value("champion_version", change.champion_version)
