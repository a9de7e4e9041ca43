# Databricks notebook source
# MAGIC %md
# MAGIC # Deploy
# MAGIC Promotes the validated `challenger` (`model_version`) to `champion` and keeps the replaced
# MAGIC champion as `previous_champion`; the change is appended to `model_events`.
{%- if cookiecutter.model_approval == "yes" %}
# MAGIC With `require_approval=true` only a version that a person approved (approval_job) is
# MAGIC promoted: an unapproved challenger is left waiting, the task says so and succeeds with the
# MAGIC task value `promoted=false`.
{%- endif %}
{%- if cookiecutter.include_serving == "yes" %}
# MAGIC First points the serving endpoint at the new version (creating the endpoint on the first
# MAGIC promotion) and waits until it is ready: if it does not become ready, the champion does not
# MAGIC change. With a previous champion and `canary_percent` between 1 and 99, the new version
# MAGIC takes only that share of the traffic (a canary) until canary_job judges it.
{%- endif %}

# COMMAND ----------

from {{ cookiecutter.package_name }}.deployment.events import record_promotion
from {{ cookiecutter.package_name }}.deployment.promote import (
{%- if cookiecutter.include_serving == "yes" %}
    parse_canary_percent,
{%- endif %}
{%- if cookiecutter.model_approval == "yes" %}
    parse_require_approval,
{%- endif %}
    promote,
)
{%- if cookiecutter.include_serving == "yes" and cookiecutter.include_feature_store == "yes" %}
from {{ cookiecutter.package_name }}.features.online import model_online_tables
{%- endif %}
from {{ cookiecutter.package_name }}.platform import get_platform
{%- if cookiecutter.include_serving == "yes" %}
from {{ cookiecutter.package_name }}.platform.base import ServingSpec
{%- endif %}

platform = get_platform(spark, dbutils)
model_name = platform.get_param("model_name")
model_version = platform.get_param("model_version", "")
{%- if cookiecutter.model_approval == "yes" %}
require_approval = parse_require_approval(platform.get_param("require_approval"))
{%- endif %}
{%- if cookiecutter.include_serving == "yes" %}
serving = ServingSpec(
    endpoint_name=platform.get_param("serving_endpoint_name"),
    model_name=model_name,
    model_version=model_version,
    query_group=platform.get_param("serving_query_group", ""),
    inference_table=platform.get_param("inference_table_schema", ""),
{%- if cookiecutter.include_feature_store == "yes" %}
    online_tables=model_online_tables(model_name),
{%- endif %}
    canary_percent=parse_canary_percent(platform.get_param("canary_percent", "0")),
)
{%- endif %}

# COMMAND ----------

change = promote(
    platform,
    model_name,
    model_version,
{%- if cookiecutter.include_serving == "yes" %}
    serving,
{%- endif %}
{%- if cookiecutter.model_approval == "yes" %}
    require_approval=require_approval,
{%- endif %}
)
record_promotion(platform, model_name, change)
if change.promoted:
    print(f"champion: v{change.champion_version} (replaced: {change.replaced_version})")
{%- if cookiecutter.include_serving == "yes" %}
    if change.canary_of:
        print(
            f"canary: v{change.champion_version} takes {serving.canary_percent}% of the "
            f"endpoint's traffic, v{change.canary_of} the rest, until canary_job judges it"
        )
{%- endif %}
else:
    print(change.note)

# COMMAND ----------

platform.set_task_value("champion_version", change.champion_version or "")
platform.set_task_value("promoted", "true" if change.promoted else "false")
