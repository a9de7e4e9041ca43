# Databricks notebook source
# MAGIC %md
# MAGIC # Rollback
# MAGIC Restores `previous_champion` as `champion`{% if cookiecutter.include_serving == "yes" %} (and points the serving endpoint back at it){% endif %}.
# MAGIC An operator's decision, recorded on the restored version (`rollback_reason`, `rollback_by`,
# MAGIC `champion_since`) and in `model_events`: monitoring judges it only on predictions made
# MAGIC after the rollback.

# COMMAND ----------

from {{ cookiecutter.package_name }}.deployment.events import ROLLED_BACK, record_alias_change
from {{ cookiecutter.package_name }}.deployment.promote import rollback
{%- if cookiecutter.include_serving == "yes" and cookiecutter.include_feature_store == "yes" %}
from {{ cookiecutter.package_name }}.features.online import model_online_tables
{%- endif %}
from {{ cookiecutter.package_name }}.platform import get_platform
{%- if cookiecutter.include_serving == "yes" %}
from {{ cookiecutter.package_name }}.platform.base import ServingSpec
{%- endif %}

platform = get_platform(spark, dbutils)
model_name = platform.get_param("model_name")
reason = platform.get_param("reason", "")
# Who decided: the job parameter, else whoever started this run (not the job's run_as identity).
requested_by = platform.get_param("requested_by", "") or platform.triggered_by(
    platform.get_param("job_run_id")
)
{%- if cookiecutter.include_serving == "yes" %}
serving = ServingSpec(
    endpoint_name=platform.get_param("serving_endpoint_name"),
    model_name=model_name,
    model_version="",
    query_group=platform.get_param("serving_query_group", ""),
    inference_table=platform.get_param("inference_table_schema", ""),
{%- if cookiecutter.include_feature_store == "yes" %}
    online_tables=model_online_tables(model_name),
{%- endif %}
)
{%- endif %}

# COMMAND ----------

change = rollback(
    platform,
    model_name,
    reason=reason,
    requested_by=requested_by,
{%- if cookiecutter.include_serving == "yes" %}
    serving=serving,
{%- endif %}
)
record_alias_change(
    platform, model_name, change, event=ROLLED_BACK, actor=requested_by, reason=reason
)
print(f"champion: v{change.champion_version} (was v{change.replaced_version})")

# COMMAND ----------

platform.set_task_value("champion_version", change.champion_version)
