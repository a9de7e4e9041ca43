# Databricks notebook source
# MAGIC %md
# MAGIC # Feature refresh
# MAGIC Recomputes the pickup and dropoff zip features for the trips of `start_date`..`end_date`
# MAGIC (empty = unbounded), checks the data contracts, then merges them into the feature tables.
# MAGIC A rerun over the same dates writes the same rows.

# COMMAND ----------

from {{ cookiecutter.package_name }}.features.refresh import refresh_features
from {{ cookiecutter.package_name }}.platform import get_platform

platform = get_platform(spark, dbutils)
catalog = platform.get_param("catalog")
schema = platform.get_param("schema")
input_table = platform.get_param("input_table")
start_date = platform.get_param("start_date", "")
end_date = platform.get_param("end_date", "")

# COMMAND ----------

counts = refresh_features(platform, input_table, catalog, schema, start_date, end_date)
print(f"feature rows written: {counts}")
