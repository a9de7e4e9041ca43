"""``serve``: the model behind a scoring server, on this machine, with the same
``/invocations`` contract as a Databricks serving endpoint (``dataframe_split`` or
``dataframe_records`` in, ``predictions`` out).
{%- if cookiecutter.include_serving == "yes" %}

Once the deploy task recorded the bundle's endpoint, ``serve`` serves that endpoint
(:mod:`.endpoint`): the versions and traffic split it was given (a canary splits it), every
request logged to its inference table. A version packaged with feature lookups whose feature
tables are published to the bundle's online store looks its features up per request
(:mod:`.online_serving`), so a request carries only the lookup keys and the trip's own fields.
Before any deploy, ``@champion`` is served by MLflow's own scoring server.
{%- else %}

The server is MLflow's own (``mlflow models serve``) with ``@champion``.
{%- endif %}
Before it starts, ``serve`` prints a request that works: a few real rows, the champion's own
batch predictions of them from ``inference_log`` (or its held-out rows from
``training_baseline`` before any scoring).
"""

from __future__ import annotations

import json
import os
import shlex
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import pyarrow.compute as pc
from mlflow import MlflowClient

from {{ cookiecutter.package_name }}.names import (
    CHAMPION,
    FEATURE_SOURCE_STORE,
    INFERENCE_LOG_TABLE,
    PREDICTION,
    TAG_FEATURE_SOURCE,
    TRAINING_BASELINE_TABLE,
)
from {{ cookiecutter.package_name }}.registry import alias_version

from .delta_store import DeltaStore
{%- if cookiecutter.include_serving == "yes" %}
from .endpoint import EndpointRecord, InferenceLog, Router, make_server
{%- endif %}
from .online_serving import OnlineModel
{%- if cookiecutter.include_serving == "yes" %}
from .online_store import LocalOnlineStore
{%- endif %}
from .runner.errors import RunnerError

EXAMPLE_ROWS = 3
ONLINE_CANDIDATES = 2000  # scored rows searched for an online example
HOST = "127.0.0.1"


class ServeError(RunnerError):
    """Nothing to serve yet, or nothing to build an example from."""


@dataclass(frozen=True)
class Example:
    """A request body for the champion and what batch scoring predicted for those rows."""

    model_version: str
    source: str
    body: dict[str, Any]
    expected: list[float]


def champion_uri(model_name: str) -> str:
    return f"models:/{model_name}@{CHAMPION}"


def example_request(state: Path, prefix: str, model_name: str) -> Example:
    """A few rows the champion already scored (``inference_log``), else held-out rows of its
    training run (``training_baseline``), as a ``dataframe_split`` of the model's inputs."""
    if not (state / "mlflow.db").exists():
        raise ServeError(f"nothing trained yet in {state}: run training_job first")
    uri = f"sqlite:///{state / 'mlflow.db'}"
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    version = alias_version(client, model_name, CHAMPION)
    if version is None:
        raise ServeError(f"{model_name} has no @{CHAMPION} yet: run training_job first")
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    signature = mlflow.models.get_model_info(champion_uri(model_name)).signature
    if signature is None or signature.inputs is None:
        raise ServeError(f"{model_name} v{version} has no input signature to build a request from")
    columns = signature.inputs.input_names()
    store = DeltaStore(state / "warehouse")
    run_id = client.get_model_version(model_name, version).run_id
    for table, column, value in (
        (INFERENCE_LOG_TABLE, "model_version", version),
        (TRAINING_BASELINE_TABLE, "run_id", run_id),
    ):
        name = f"{prefix}.{table}"
        if not store.exists(name):
            continue
        rows = store.read_at(store.path(name))
        rows = rows.filter(pc.equal(rows[column], value)).select([*columns, PREDICTION])
        frame = rows.to_pandas().dropna().head(EXAMPLE_ROWS)
        if len(frame):
            body = {
                "dataframe_split": {
                    "columns": columns,
                    "data": frame[columns].astype(float).values.tolist(),
                }
            }
            return Example(version, name, body, frame[PREDICTION].astype(float).tolist())
    raise ServeError(f"no scored or held-out rows of {model_name} v{version} to build an example")


def serve_command(model_name: str, state: Path, port: int) -> tuple[list[str], dict[str, str]]:
    """``mlflow models serve`` of the champion from the local registry, and its environment."""
    uri = f"sqlite:///{state / 'mlflow.db'}"
    bin_dir = str(Path(sys.executable).parent)
    env = {
        **os.environ,
        # The scoring server starts `uvicorn` by name: it must find the one of this environment.
        "PATH": os.pathsep.join([bin_dir, os.environ.get("PATH", "")]),
        "MLFLOW_TRACKING_URI": uri,
        "MLFLOW_REGISTRY_URI": uri,
        "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false",
    }
    command = [
        sys.executable,
        "-m",
        "mlflow",
        "models",
        "serve",
        "-m",
        champion_uri(model_name),
        "--env-manager",
        "local",
        "--host",
        HOST,
        "--port",
        str(port),
    ]
    return command, env


def describe(example: Example, model_name: str, port: int, feature_source: str) -> str:
    """What is served, and a curl request with the example rows."""
    url = f"http://{HOST}:{port}/invocations"
    lines = [
        f"serving {champion_uri(model_name)} (v{example.model_version}) at http://{HOST}:{port} "
        "(Ctrl-C stops it)",
        f"example: {len(example.expected)} rows of {example.source}; batch scoring predicted "
        f"{[round(p, 4) for p in example.expected]}",
        f"curl -s {url} -H 'Content-Type: application/json' -d "
        + shlex.quote(json.dumps(example.body)),
    ]
    if feature_source == FEATURE_SOURCE_STORE:
        lines.append(
            "note: the request carries every feature, since no local online store holds this "
            "model's feature tables; a Databricks endpoint looks them up in its online store "
            "(README: Features online)"
        )
    return "\n".join(lines)


def online_example(state: Path, prefix: str, example: Example, model: OnlineModel) -> Example:
    """A key-only request: scored trips whose looked-up features are the ones batch scoring
    used (so its predictions are the expected answers), else the latest scored trips."""
    store = DeltaStore(state / "warehouse")
    name = f"{prefix}.{INFERENCE_LOG_TABLE}"
    if not store.exists(name):
        raise ServeError(f"no scored trips in {name} yet: run batch_inference_job first")
    rows = store.read_at(store.path(name))
    rows = rows.filter(pc.equal(rows["model_version"], example.model_version))
    frame = rows.to_pandas().tail(ONLINE_CANDIDATES).reset_index(drop=True)
    if frame.empty:
        raise ServeError(
            f"no trips scored by v{example.model_version} yet: run batch_inference_job"
        )
    request = frame[model.request_columns]
    looked_up = model.features(request).to_numpy(dtype=float)
    logged = frame[model.inputs].to_numpy(dtype=float)
    same = np.isclose(looked_up, logged, equal_nan=True).all(axis=1)
    chosen = frame[same] if same.any() else frame
    chosen = chosen.tail(EXAMPLE_ROWS)
    body = {
        "dataframe_split": {
            "columns": model.request_columns,
            "data": json.loads(chosen[model.request_columns].to_json(orient="values")),
        }
    }
    source = name if same.any() else f"{name} (features changed since they were scored)"
    return Example(example.model_version, source, body, chosen[PREDICTION].astype(float).tolist())
{%- if cookiecutter.include_serving == "yes" %}


def endpoint_router(
    state: Path, record: EndpointRecord, model_name: str, online_store: str
) -> tuple[Router, InferenceLog]:
    """A router over the endpoint's served versions, logging to its inference table."""
    store = LocalOnlineStore.named(state, online_store) if online_store.strip() else None
    entities = {}
    for entity in record.served_entities:
        uri = f"models:/{model_name}/{entity.entity_version}"
        online = OnlineModel.load(uri, store) if store is not None else None
        if online is not None:
            predict = online.predict
        else:
            model = mlflow.pyfunc.load_model(uri)

            def predict(frame, model=model) -> list[float]:
                return [float(p) for p in np.asarray(model.predict(frame), dtype=float).ravel()]

        entities[entity.entity_version] = (entity, predict)
    log = InferenceLog(state, record.inference_table)
    return Router(entities, log), log


def endpoint_example(
    state: Path, prefix: str, model_name: str, store: str
) -> tuple[Example, OnlineModel | None]:
    """A request for the endpoint: key-only when the champion looks its features up online."""
    example = example_request(state, prefix, model_name)
    online = None
    if store.strip():
        online = OnlineModel.load(champion_uri(model_name), LocalOnlineStore.named(state, store))
    if online is not None:
        example = online_example(state, prefix, example, online)
    return example, online


def serve_endpoint(
    state: Path, prefix: str, model_name: str, port: int, record: EndpointRecord, store: str
) -> int:
    """Serve the endpoint as the deploy task left it: its versions, split, inference table."""
    example, online = endpoint_example(state, prefix, model_name, store)
    router, log = endpoint_router(state, record, model_name, store)
    print(describe(example, model_name, port, ""))
    print(
        f"endpoint {record.name}: {record.describe()}; every request is logged to "
        f"{record.inference_table or 'no inference table'}"
    )
    if online is not None:
        print(
            f"features: looked up in the online store {store} "
            f"({', '.join(lookup.online_table for lookup in online.lookups)}); the request "
            f"carries {', '.join(online.request_columns)}"
        )
    sys.stdout.flush()
    try:
        server = make_server(router, HOST, port)
    except OSError as exc:
        raise ServeError(f"cannot listen on {HOST}:{port} ({exc}): pass another --port") from exc
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        log.flush()
    return 0


def serve(
    state: Path, prefix: str, model_name: str, port: int, online_store: str, endpoint: str
) -> int:
    """Serve the endpoint the deploy task recorded, in this process; before any deploy (or
    without an endpoint in this target), the champion through MLflow's scoring server."""
    record = EndpointRecord.load(state, endpoint) if endpoint.strip() else None
    if record is not None:
        return serve_endpoint(state, prefix, model_name, port, record, online_store)
    return serve_champion(state, prefix, model_name, port)
{%- else %}


def serve(state: Path, prefix: str, model_name: str, port: int) -> int:
    """Serve the champion through MLflow's scoring server."""
    return serve_champion(state, prefix, model_name, port)
{%- endif %}


def serve_champion(state: Path, prefix: str, model_name: str, port: int) -> int:
    """Print the example, then replace this process with MLflow's scoring server of
    ``@champion``."""
    example = example_request(state, prefix, model_name)
    uri = f"sqlite:///{state / 'mlflow.db'}"
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    tags = client.get_model_version(model_name, example.model_version).tags
    print(describe(example, model_name, port, (tags or {}).get(TAG_FEATURE_SOURCE, "")))
    sys.stdout.flush()
    command, env = serve_command(model_name, state, port)
    os.execve(command[0], command, env)
    return 0  # not reached: execve replaces the process
