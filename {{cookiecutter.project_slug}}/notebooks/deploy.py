# Databricks notebook source
# MAGIC %md
# MAGIC # Deploy
# MAGIC Promotes the validated `challenger` (the version this job trained) to `champion` and keeps
# MAGIC the replaced champion as `previous_champion`; the change is appended to `model_events`.
{%- if cookiecutter.include_serving == "yes" %}
# MAGIC First points the serving endpoint at the new version (creating the endpoint on the first
# MAGIC promotion) and waits until it is ready: if it does not become ready, the champion does
# MAGIC not change.
{%- endif %}

# COMMAND ----------

from {{ cookiecutter.package_name }}.deployment.events import PROMOTED, record_alias_change
from {{ cookiecutter.package_name }}.deployment.promote import promote
from {{ cookiecutter.package_name }}.platform import get_platform
{%- if cookiecutter.include_serving == "yes" %}
from {{ cookiecutter.package_name }}.platform.base import ServingSpec
{%- endif %}

platform = get_platform(spark, dbutils)
model_name = platform.get_param("model_name")
model_version = platform.get_param("model_version", "")
{%- if cookiecutter.include_serving == "yes" %}
serving = ServingSpec(
    endpoint_name=platform.get_param("serving_endpoint_name"),
    model_name=model_name,
    model_version=model_version,
    query_group=platform.get_param("serving_query_group", ""),
    inference_table=platform.get_param("inference_table_schema", ""),
)
{%- endif %}

# COMMAND ----------

change = promote(platform, model_name, model_version{% if cookiecutter.include_serving == "yes" %}, serving{% endif %})
record_alias_change(
    platform, model_name, change, event=PROMOTED, reason="passed the validation gate"
)
print(f"champion: v{change.champion_version} (replaced: {change.replaced_version})")

# COMMAND ----------

platform.set_task_value("champion_version", change.champion_version)
