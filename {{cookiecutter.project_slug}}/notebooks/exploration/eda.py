# Databricks notebook source
# MAGIC %md
# MAGIC # Exploratory data analysis of the raw trips
# MAGIC Run by hand (no job runs it) before changing features or the model: the raw input's
# MAGIC schema, nulls and ranges against the data contract (`features/contract.py`), the
# MAGIC distributions, the fare against the key features, and the days the data covers.
# MAGIC The logic lives in `src/{{ cookiecutter.package_name }}/data/profile.py`; this notebook only shows it.
# MAGIC
# MAGIC On Databricks the first cell installs this project from the bundle's files; locally
# MAGIC (`pip install -e ".[local,dev]"`) it is already installed and the `%pip` line is a comment.

# COMMAND ----------

# MAGIC %pip install --quiet ../..

# COMMAND ----------

dbutils.library.restartPython()

# COMMAND ----------

from {{ cookiecutter.package_name }}.data import profile
from {{ cookiecutter.package_name }}.features.contract import RAW_TRIPS_CONTRACT
from {{ cookiecutter.package_name }}.names import LABEL, PICKUP_TS, TRIP_FEATURES
from {{ cookiecutter.package_name }}.platform import get_platform

platform = get_platform(spark, dbutils)
# Not a job parameter: this notebook is run by hand, so its widget has a default.
input_table = platform.get_param("input_table", "samples.nyctaxi.trips")
raw = platform.read_source(input_table)
raw.printSchema()

# COMMAND ----------

# MAGIC %md
# MAGIC ## Against the data contract
# MAGIC One row per contract column: type, nulls, observed range, the share of rows that break
# MAGIC its rules and the tolerance. `ok` is what the jobs' contract check would decide.

# COMMAND ----------

contract = profile.contract_profile(raw, RAW_TRIPS_CONTRACT)
display(contract)

# COMMAND ----------

# MAGIC %md
# MAGIC ## Distributions
# MAGIC Histograms of a seeded sample, clipped to the 0.5-99.5 percentiles.

# COMMAND ----------

trips = profile.with_trip_duration(raw)
# Customize: the numeric columns whose distributions to plot (docs/customize.md).
numeric = ["trip_distance", "trip_duration_min", LABEL]
sample = profile.sample_frame(trips, [*numeric, PICKUP_TS])
sample["pickup_hour"] = sample[PICKUP_TS].dt.hour
# As Spark's dayofweek (features/transforms.py): 1 = Sunday ... 7 = Saturday.
sample["pickup_weekday"] = (sample[PICKUP_TS].dt.dayofweek + 1) % 7 + 1
display(sample[numeric].describe())
display(profile.distribution_figure(sample, [*numeric, "pickup_hour"]))

# COMMAND ----------

# MAGIC %md
# MAGIC ## The fare against the key features
# MAGIC Mean fare per decile of each feature, with the 10-90 percentile band.

# COMMAND ----------

key_features = [f for f in TRIP_FEATURES if f in sample.columns]  # all of them, as sampled
display(profile.target_figure(sample, key_features))

# COMMAND ----------

# MAGIC %md
# MAGIC ## Time coverage
# MAGIC Trips and mean fare per pickup day; days without any trip are listed.

# COMMAND ----------

daily = profile.daily_counts(raw)
coverage = profile.time_coverage(daily)
print(coverage)
display(profile.coverage_figure(daily))
