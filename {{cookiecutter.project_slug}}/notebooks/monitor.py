# Databricks notebook source
# MAGIC %md
# MAGIC # Monitor
# MAGIC Compares the last `window_days` of `inference_log` with the champion's training baseline:
# MAGIC PSI and KS per feature and for the prediction, RMSE where labels exist. Appends the metrics
# MAGIC to `drift_metrics` and sets the task value `retrain` (`"true"` / `"false"`).

# COMMAND ----------

from {{ cookiecutter.package_name }}.monitoring.monitor import Thresholds, monitor
from {{ cookiecutter.package_name }}.platform import get_platform

platform = get_platform(spark, dbutils)
catalog = platform.get_param("catalog", "{{ cookiecutter.catalog_dev }}")
schema = platform.get_param("schema", "{{ cookiecutter.schema }}")
model_name = platform.get_param("model_name", f"{catalog}.{schema}.{{ cookiecutter.model_name }}")
window_days = int(platform.get_param("window_days", "7"))
thresholds = Thresholds(
    psi=float(platform.get_param("psi_threshold", "0.2")),
    ks=float(platform.get_param("ks_threshold", "0.2")),
    rmse_increase=float(platform.get_param("rmse_increase_threshold", "0.25")),
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
for row in result.rows:
    flag = "BREACH" if row.breached else "ok"
    print(f"{flag:6} {row.feature:22} {row.metric:14} {row.value:10.4f} limit {row.threshold}")

# COMMAND ----------

platform.set_task_value("retrain", "true" if result.retrain else "false")
