# Databricks notebook source
# MAGIC %md
# MAGIC # Canary check
# MAGIC While a new champion serves `canary_percent` of the endpoint's traffic, compares its
# MAGIC requests in the endpoint's inference table with the previous champion's (error rate, p95
# MAGIC execution time, and RMSE once `canary_min_labels` requests of each have a label in the
# MAGIC endpoint's `_labels` table) once `canary_soak_minutes` have passed and each has
# MAGIC `canary_min_requests`. Worse beyond the thresholds: the endpoint goes back to the previous
# MAGIC champion, `champion` is restored and `model_events` says why. Otherwise the new champion
# MAGIC takes all of the traffic. Reads `system.serving.served_entities` (a grant, see the README).

# COMMAND ----------

from {{ cookiecutter.package_name }}.deployment.canary import CanaryPolicy, check_canary
{%- if cookiecutter.include_feature_store == "yes" %}
from {{ cookiecutter.package_name }}.features.online import model_online_tables
{%- endif %}
from {{ cookiecutter.package_name }}.platform import get_platform
from {{ cookiecutter.package_name }}.platform.base import ServingSpec

platform = get_platform(spark, dbutils)
model_name = platform.get_param("model_name")
serving = ServingSpec(
    endpoint_name=platform.get_param("serving_endpoint_name", ""),
    model_name=model_name,
    model_version="",
    query_group=platform.get_param("serving_query_group", ""),
    inference_table=platform.get_param("inference_table_schema"),
{%- if cookiecutter.include_feature_store == "yes" %}
    online_tables=model_online_tables(model_name),
{%- endif %}
)
policy = CanaryPolicy.parse(
    platform.get_param("canary_soak_minutes"),
    platform.get_param("canary_min_requests"),
    platform.get_param("canary_max_error_rate_increase"),
    platform.get_param("canary_max_latency_increase"),
    platform.get_param("canary_min_labels"),
    platform.get_param("canary_max_rmse_increase"),
)

# COMMAND ----------

outcome = check_canary(platform, model_name, serving, policy)
print(outcome.message)
for health in outcome.health.values():
    print(f"  {health.describe()}")

# COMMAND ----------

platform.set_task_value("decision", outcome.decision)
