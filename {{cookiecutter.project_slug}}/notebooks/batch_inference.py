# Databricks notebook source
# MAGIC %md
# MAGIC # Batch inference
# MAGIC Scores the trips picked up in `start_date`..`end_date` with `model_name@champion` and
# MAGIC appends keys, features, prediction, model version, scoring time and label to
# MAGIC `inference_log`.

# COMMAND ----------

from {{ cookiecutter.package_name }}.inference.batch import score_trips
from {{ cookiecutter.package_name }}.platform import get_platform

platform = get_platform(spark, dbutils)
catalog = platform.get_param("catalog")
schema = platform.get_param("schema")
input_table = platform.get_param("input_table")
model_name = platform.get_param("model_name")
start_date = platform.get_param("start_date", "")
end_date = platform.get_param("end_date", "")

# COMMAND ----------

result = score_trips(
    platform,
    input_table=input_table,
    model_name=model_name,
    catalog=catalog,
    schema=schema,
    start_date=start_date,
    end_date=end_date,
)
if result.skipped:
    print(f"skipped: {model_name} has no champion yet (run training_job first)")
else:
    print(f"scored {result.rows_scored} trips with version {result.model_version}")

# COMMAND ----------

platform.set_task_value("rows_scored", result.rows_scored)
