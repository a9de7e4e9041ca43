# Databricks notebook source
# MAGIC %md
# MAGIC # Streaming inference
# MAGIC Scores the trips `input_table` gained since the last run with `model_name@champion`
# MAGIC (Structured Streaming, `availableNow` trigger, checkpoint in `checkpoint_location`) and
# MAGIC adds them to `inference_log`, each trip once. The champion is resolved when the run
# MAGIC starts: a new champion scores from the next run on. No champion yet: nothing is read.

# COMMAND ----------

from {{ cookiecutter.package_name }}.inference.streaming import stream_trips
from {{ cookiecutter.package_name }}.platform import get_platform

platform = get_platform(spark, dbutils)
catalog = platform.get_param("catalog")
schema = platform.get_param("schema")
input_table = platform.get_param("input_table")
model_name = platform.get_param("model_name")
checkpoint_location = platform.get_param("checkpoint_location")

# COMMAND ----------

result = stream_trips(
    platform,
    input_table=input_table,
    model_name=model_name,
    catalog=catalog,
    schema=schema,
    checkpoint=checkpoint_location,
)
if result.skipped:
    print(f"skipped: {model_name} has no champion yet (run training_job first)")
else:
    batches = f"{result.batches} micro-batch{'' if result.batches == 1 else 'es'}"
    print(f"{batches}, {result.input_rows} new trips read, scored with v{result.model_version}")

# COMMAND ----------

platform.set_task_value("input_rows", result.input_rows)
