# Databricks notebook source
# MAGIC %md
# MAGIC # Feature refresh
# MAGIC Recomputes the pickup and dropoff zip features for the trips of `start_date`..`end_date`
# MAGIC (empty = unbounded), checks the data contracts, then merges them into the feature tables.
# MAGIC A rerun over the same dates writes the same rows.

# COMMAND ----------

from {{ cookiecutter.package_name }}.features.refresh import refresh_features
from {{ cookiecutter.package_name }}.names import DEFAULT_INPUT_PATH
from {{ cookiecutter.package_name }}.platform import get_platform

platform = get_platform(spark, dbutils)
catalog = platform.get_param("catalog", "{{ cookiecutter.catalog_dev }}")
schema = platform.get_param("schema", "{{ cookiecutter.schema }}")
input_path = platform.get_param("input_path", DEFAULT_INPUT_PATH)
start_date = platform.get_param("start_date", "")
end_date = platform.get_param("end_date", "")

# COMMAND ----------

counts = refresh_features(platform, input_path, catalog, schema, start_date, end_date)
print(f"feature rows written: {counts}")
