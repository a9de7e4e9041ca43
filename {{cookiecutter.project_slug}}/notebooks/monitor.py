# Databricks notebook source
# MAGIC %md
# MAGIC # Monitor
# MAGIC Compares the champion's predictions (made since it became champion, last `window_days`)
# MAGIC with the held-out rows of its training run: PSI and KS per feature and for the prediction,
# MAGIC RMSE where labels exist. Appends the metrics to `drift_metrics` and sets the task value
# MAGIC `retrain` (`"true"` / `"false"`); a breach also prints an `ALERT` line, and the bundle's
# MAGIC SQL alert on `drift_metrics` notifies people. No champion yet, or too few rows: nothing to
# MAGIC judge, no retraining.
{%- if cookiecutter.include_feature_store == "yes" and cookiecutter.include_serving == "yes" %}
# MAGIC Then records how far each online feature table lags behind its feature table (one
# MAGIC `feature_freshness` row per table).
{%- endif %}

# COMMAND ----------

{% if cookiecutter.include_feature_store == "yes" and cookiecutter.include_serving == "yes" -%}
from {{ cookiecutter.package_name }}.features.online import describe_freshness, record_freshness
{% endif -%}
from {{ cookiecutter.package_name }}.monitoring.monitor import Thresholds, monitor
from {{ cookiecutter.package_name }}.platform import get_platform

platform = get_platform(spark, dbutils)
catalog = platform.get_param("catalog")
schema = platform.get_param("schema")
model_name = platform.get_param("model_name")
window_days = int(platform.get_param("window_days"))
thresholds = Thresholds(
    psi=float(platform.get_param("psi_threshold")),
    ks=float(platform.get_param("ks_threshold")),
    rmse_increase=float(platform.get_param("rmse_increase_threshold")),
)

# COMMAND ----------

result = monitor(
    platform,
    model_name=model_name,
    catalog=catalog,
    schema=schema,
    window_days=window_days,
    thresholds=thresholds,
)
if result.note:
    print(result.note)
for row in result.rows:
    flag = "BREACH" if row.breached else "ok"
    print(f"{flag:6} {row.feature:22} {row.metric:14} {row.value:10.4f} limit {row.threshold}")
if result.retrain:
    # Recorded in drift_metrics (breached); the bundle's drift alert mails alert_email.
    print(f"ALERT v{result.model_version} breached {', '.join(result.breaches)}: retraining")

{%- if cookiecutter.include_feature_store == "yes" and cookiecutter.include_serving == "yes" %}

# COMMAND ----------

for freshness in record_freshness(platform, catalog, schema):
    print(describe_freshness(freshness))
{%- endif %}

# COMMAND ----------

platform.set_task_value("retrain", "true" if result.retrain else "false")
