# Databricks notebook source
# MAGIC %md
# MAGIC # Monitor
# MAGIC Compares the champion's predictions (made since it became champion, last `window_days`)
# MAGIC with the held-out rows of its training run: PSI and KS per feature and for the prediction,
# MAGIC RMSE where labels exist. Appends the metrics to `drift_metrics`, then decides whether to
# MAGIC retrain and appends the decision to `retrain_decisions`: a breach retrains unless the last
# MAGIC retraining is less than `retrain_cool_down_hours` old, fewer than `min_breached_runs`
# MAGIC runs in a row breached, or a challenger waits for approval. Sets the task value `retrain`
# MAGIC (`"true"` / `"false"`); a breach also prints an `ALERT` line, and the bundle's SQL alert
# MAGIC on `drift_metrics` notifies people. No champion yet, or too few rows: nothing to judge, no
# MAGIC retraining.
{%- if cookiecutter.include_feature_store == "yes" and cookiecutter.include_serving == "yes" %}
# MAGIC Then records how far each online feature table lags behind its feature table (one
# MAGIC `feature_freshness` row per table).
{%- endif %}

# COMMAND ----------

{% if cookiecutter.include_feature_store == "yes" and cookiecutter.include_serving == "yes" -%}
from {{ cookiecutter.package_name }}.features.online import describe_freshness, record_freshness
{% endif -%}
from {{ cookiecutter.package_name }}.monitoring.decisions import RetrainPolicy, decide_and_record
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
policy = RetrainPolicy(
    cool_down_hours=float(platform.get_param("retrain_cool_down_hours")),
    min_breached_runs=int(platform.get_param("min_breached_runs")),
)
job_run_id = platform.get_param("job_run_id", "")

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
decision = decide_and_record(
    platform,
    result,
    model_name=model_name,
    catalog=catalog,
    schema=schema,
    policy=policy,
    job_run_id=job_run_id,
)
if result.retrain:
    # Recorded in drift_metrics (breached); the bundle's drift alert mails alert_email.
    print(f"ALERT v{result.model_version} breached {', '.join(result.breaches)}")
print(f"decision: {decision.decision} ({decision.reason})")

{%- if cookiecutter.include_feature_store == "yes" and cookiecutter.include_serving == "yes" %}

# COMMAND ----------

for freshness in record_freshness(platform, catalog, schema):
    print(describe_freshness(freshness))
{%- endif %}

# COMMAND ----------

platform.set_task_value("retrain", "true" if decision.retrain else "false")
