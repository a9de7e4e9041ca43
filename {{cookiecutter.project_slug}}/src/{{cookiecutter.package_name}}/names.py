"""Names shared by every job: columns, tables and model aliases (see docs/architecture.md)."""

from __future__ import annotations

# Raw trips.
# Customize: your source's timestamps, keys and label (docs/customize.md).
PICKUP_TS = "tpep_pickup_datetime"
DROPOFF_TS = "tpep_dropoff_datetime"
PICKUP_ZIP = "pickup_zip"
DROPOFF_ZIP = "dropoff_zip"
LABEL = "fare_amount"
KEY_COLUMNS = [PICKUP_ZIP, DROPOFF_ZIP, PICKUP_TS, DROPOFF_TS]

# Model features: computed from the trip itself, then looked up per pickup and dropoff zip.
# Customize: FEATURE_COLUMNS is what training, scoring and monitoring use; drop a name to drop it.
TRIP_FEATURES = ["trip_distance", "trip_duration_min", "pickup_hour", "pickup_weekday"]
PICKUP_FEATURES = ["pickup_trip_count", "pickup_mean_fare", "pickup_mean_distance"]
DROPOFF_FEATURES = ["dropoff_trip_count", "dropoff_mean_fare"]
FEATURE_COLUMNS = [*TRIP_FEATURES, *PICKUP_FEATURES, *DROPOFF_FEATURES]
# Features whose values are categories (drift is judged per category, not on a continuous scale)
CATEGORICAL_FEATURES = ["pickup_hour", "pickup_weekday"]
PREDICTION = "prediction"

# Feature tables: primary key + timestamp key (end of the aggregation window)
PICKUP_FEATURE_TS = "pickup_window_end"
DROPOFF_FEATURE_TS = "dropoff_window_end"

# Tables in <catalog>.<schema>
PICKUP_FEATURES_TABLE = "pickup_features"
DROPOFF_FEATURES_TABLE = "dropoff_features"
VALIDATION_RESULTS_TABLE = "validation_results"
INFERENCE_LOG_TABLE = "inference_log"
TRAINING_BASELINE_TABLE = "training_baseline"
DRIFT_METRICS_TABLE = "drift_metrics"
MODEL_EVENTS_TABLE = "model_events"  # champion changes: promotions and rollbacks
RETRAIN_DECISIONS_TABLE = "retrain_decisions"  # one row per monitoring run: retrain or why not
FEATURE_FRESHNESS_TABLE = "feature_freshness"  # how far each online feature table lags
# A feature table's copy in the online store: <catalog>.<schema>.<table><ONLINE_SUFFIX>
ONLINE_SUFFIX = "_online"

# Registered model aliases
CHALLENGER = "challenger"
CHAMPION = "champion"
PREVIOUS_CHAMPION = "previous_champion"


def table(catalog: str, schema: str, name: str) -> str:
    """The three-part name ``catalog.schema.name``."""
    if not catalog or not schema:
        raise ValueError(f"catalog and schema are required for table {name!r}")
    return f"{catalog}.{schema}.{name}"


# Model version tags set by training and required by the validation gate
TAG_RUN_ID = "training_run_id"
TAG_WINDOW = "training_window"
TAG_FEATURE_SOURCE = "feature_source"
REQUIRED_VERSION_TAGS = (TAG_RUN_ID, TAG_WINDOW, TAG_FEATURE_SOURCE)
FEATURE_SOURCE_STORE = "feature_store"
FEATURE_SOURCE_INLINE = "inline"

# Run tag naming the task that logged a run: train, validate, monitoring
TAG_TASK = "task"

# Model version tags set by the gate, deployment and rollback
TAG_VALIDATION_STATUS = "validation_status"
TAG_VALIDATION_RUN_ID = "validation_run_id"
VALIDATION_PASSED = "passed"
VALIDATION_FAILED = "failed"
VALIDATION_ABANDONED = "abandoned"  # training or validation was killed before the gate decided
TAG_CHAMPION_SINCE = "champion_since"  # ISO time the version last became champion
TAG_ROLLED_BACK = "rolled_back"
TAG_ROLLBACK_REASON = "rollback_reason"
TAG_ROLLBACK_BY = "rollback_by"

# Model version tags of a person's decision (approval_job, when approval is required)
TAG_APPROVAL = "approval"
APPROVED = "approved"
REJECTED = "rejected"
TAG_APPROVAL_BY = "approval_by"
TAG_APPROVAL_REASON = "approval_reason"
TAG_APPROVAL_AT = "approval_at"
TAG_APPROVAL_RUN_ID = "approval_run_id"

# Canary rollout: model version tags of the version that takes a share of the endpoint's traffic
TAG_CANARY = "canary"  # running, passed, rolled_back or superseded
CANARY_RUNNING = "running"
CANARY_PASSED = "passed"
CANARY_ROLLED_BACK = "rolled_back"
CANARY_SUPERSEDED = "superseded"  # a newer champion replaced it before its canary was judged
TAG_CANARY_BASELINE = "canary_baseline"  # the proven version that keeps the rest of the traffic
TAG_CANARY_STARTED_AT = "canary_started_at"
TAG_CANARY_PERCENT = "canary_percent"
# Which version a served entity id of the inference table served (Databricks system table)
SERVED_ENTITIES_TABLE = "system.serving.served_entities"
# The request id a client may send in the request body; the inference table logs it, and the
# serving labels table (<catalog>.<schema>.<endpoint>_labels: client_request_id, LABEL) gives
# the true label of a request once it is known, for the canary's RMSE.
REQUEST_ID = "client_request_id"
