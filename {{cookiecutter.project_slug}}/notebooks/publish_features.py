# Databricks notebook source
# MAGIC %md
# MAGIC # Publish features
# MAGIC Publishes the pickup and dropoff feature tables to the online store `online_store_name`
# MAGIC (created with `online_store_capacity` if missing), where the serving endpoint looks the
# MAGIC features up, and waits until each online table holds its table's current version. A
# MAGIC table whose online copy is current already is left alone. An empty `online_store_name`
# MAGIC turns publishing off in a target (the `test` target: docs/ci-cd.md).

# COMMAND ----------

from {{ cookiecutter.package_name }}.features.online import publish_features
from {{ cookiecutter.package_name }}.platform import get_platform
from {{ cookiecutter.package_name }}.platform.base import OnlineStoreSpec

platform = get_platform(spark, dbutils)
catalog = platform.get_param("catalog")
schema = platform.get_param("schema")
store_name = platform.get_param("online_store_name", "")
capacity = platform.get_param("online_store_capacity")

# COMMAND ----------

if not store_name.strip():
    print(
        "online publishing is off in this target (online_store_name is empty): "
        "no online tables, so this target serves no endpoint"
    )
else:
    store = OnlineStoreSpec(store_name, capacity)
    for table in publish_features(platform, catalog, schema, store):
        state = "published" if table.changed else "unchanged"
        print(f"{table.online_table}: v{table.source_version} of {table.source_table} ({state})")
