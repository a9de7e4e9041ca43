# Databricks notebook source
# MAGIC %md
# MAGIC # Train
# MAGIC Builds the training set ({% if cookiecutter.include_feature_store == "yes" %}point-in-time feature lookups{% else %}zip features computed from the raw trips{% endif %}),
# MAGIC trains on the earliest trips, evaluates on the latest, logs to MLflow and registers a new
# MAGIC version of `model_name`. Sets the task values `model_uri` and `model_version`.

# COMMAND ----------

from {{ cookiecutter.package_name }}.platform import get_platform
{%- if cookiecutter.include_feature_store == "yes" %}
from {{ cookiecutter.package_name }}.training.feature_store_dataset import (
    build_feature_store_training_data,
)
{%- else %}
from {{ cookiecutter.package_name }}.training.dataset import build_inline_training_data
{%- endif %}
from {{ cookiecutter.package_name }}.training.model import parse_hyperparameters
from {{ cookiecutter.package_name }}.training.train import train_and_register

platform = get_platform(spark, dbutils)
catalog = platform.get_param("catalog")
schema = platform.get_param("schema")
input_table = platform.get_param("input_table")
model_name = platform.get_param("model_name")
experiment_name = platform.get_param("experiment_name")
hyperparameters = parse_hyperparameters(platform.get_param("hyperparameters", "{}"))
start_date = platform.get_param("start_date", "")
end_date = platform.get_param("end_date", "")

# COMMAND ----------
{% if cookiecutter.include_feature_store == "yes" %}
data = build_feature_store_training_data(
    platform, input_table, catalog, schema, start_date, end_date
)
{%- else %}
data = build_inline_training_data(platform, input_table, start_date, end_date)
{%- endif %}
result = train_and_register(
    platform,
    data,
    model_name=model_name,
    experiment_name=experiment_name,
    catalog=catalog,
    schema=schema,
    start_date=start_date,
    end_date=end_date,
    params=hyperparameters,
)
print(f"registered {result.model_uri} (run {result.run_id}): {result.metrics}")

# COMMAND ----------

platform.set_task_value("model_uri", result.model_uri)
platform.set_task_value("model_version", result.model_version)
