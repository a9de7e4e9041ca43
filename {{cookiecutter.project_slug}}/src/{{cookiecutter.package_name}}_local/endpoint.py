"""The local serving endpoint: what the deploy task made it serve, its traffic split, its
inference table.

The deploy task records the endpoint's config in ``<state>/serving/<endpoint>.json`` (served
entities and routes, as on Databricks) and appends each new served entity to the local
``system.serving.served_entities``. ``serve`` answers requests with that config: each request
goes to one served entity by the routes' percentages (a smooth weighted round robin, so every
hundred requests split exactly), and is logged to the endpoint's inference table
(``<catalog>.<schema>.<endpoint>_payload``, the AI Gateway columns, with the
``client_request_id`` a request body may carry), which the canary check reads as it reads the
Databricks one.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa

from {{ cookiecutter.package_name }}.names import REQUEST_ID, SERVED_ENTITIES_TABLE
from {{ cookiecutter.package_name }}.platform.base import ServingSpec

from .delta_store import DeltaStore
from .online_serving import RequestError

PAYLOAD_SCHEMA = pa.schema(
    [
        ("databricks_request_id", pa.string()),
        ("client_request_id", pa.string()),
        ("request_date", pa.date32()),
        ("request_time", pa.timestamp("us", tz="UTC")),
        ("status_code", pa.int32()),
        ("execution_duration_ms", pa.int64()),
        ("request", pa.string()),
        ("response", pa.string()),
        ("served_entity_id", pa.string()),
    ]
)
ENTITY_SCHEMA = pa.schema(
    [
        ("served_entity_id", pa.string()),
        ("endpoint_name", pa.string()),
        ("served_entity_name", pa.string()),
        ("entity_name", pa.string()),
        ("entity_version", pa.string()),
        ("change_time", pa.timestamp("us", tz="UTC")),
    ]
)


@dataclass(frozen=True)
class ServedEntity:
    name: str
    entity_version: str
    served_entity_id: str
    traffic_percentage: int


@dataclass(frozen=True)
class EndpointRecord:
    """The endpoint's config as the last deploy left it."""

    name: str
    model_name: str
    inference_table: str  # the payload table, catalog.schema.<endpoint>_payload ('' = none)
    served_entities: tuple[ServedEntity, ...]

    @staticmethod
    def path(state: Path, endpoint_name: str) -> Path:
        return state / "serving" / f"{endpoint_name}.json"

    @classmethod
    def load(cls, state: Path, endpoint_name: str) -> EndpointRecord | None:
        """The recorded endpoint, or ``None`` when no deploy created it yet."""
        path = cls.path(state, endpoint_name)
        if not path.exists():
            return None
        data = json.loads(path.read_text())
        entities = tuple(ServedEntity(**entity) for entity in data.pop("served_entities"))
        return cls(**data, served_entities=entities)

    def save(self, state: Path) -> Path:
        path = self.path(state, self.name)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(asdict(self), indent=2, sort_keys=True))
        return path

    def describe(self) -> str:
        return ", ".join(
            f"v{e.entity_version} {e.traffic_percentage}%" for e in self.served_entities
        )


def record_endpoint(state: Path, spec: ServingSpec) -> EndpointRecord:
    """Record the endpoint ``spec`` configures; a version served before keeps its entity id."""
    before = EndpointRecord.load(state, spec.endpoint_name)
    known = {e.entity_version: e.served_entity_id for e in before.served_entities} if before else {}
    entities = tuple(
        ServedEntity(
            spec.entity_name(version), version, known.get(version) or uuid.uuid4().hex, share
        )
        for version, share in spec.routes()
    )
    new = [e for e in entities if e.entity_version not in known]
    if new:
        now = datetime.now(UTC)
        rows = pa.Table.from_pylist(
            [
                {
                    "served_entity_id": e.served_entity_id,
                    "endpoint_name": spec.endpoint_name,
                    "served_entity_name": e.name,
                    "entity_name": spec.model_name,
                    "entity_version": e.entity_version,
                    "change_time": now,
                }
                for e in new
            ],
            schema=ENTITY_SCHEMA,
        )
        store = DeltaStore(state / "warehouse")
        store.write_at(store.path(SERVED_ENTITIES_TABLE), rows, "append")
    record = EndpointRecord(
        spec.endpoint_name,
        spec.model_name,
        spec.payload_table if spec.inference_table else "",
        entities,
    )
    record.save(state)
    return record


class InferenceLog:
    """Requests and responses of the endpoint, appended to its inference table in batches."""

    def __init__(self, state: Path, table: str, flush_every: int = 50) -> None:
        self.store = DeltaStore(state / "warehouse")
        self.table = table
        self.flush_every = flush_every
        self._rows: list[dict[str, Any]] = []
        self._lock = threading.Lock()

    def add(self, entity: ServedEntity, status: int, millis: int, request: Any, reply: Any) -> None:
        now = datetime.now(UTC)
        client_id = request.get(REQUEST_ID) if isinstance(request, dict) else None
        row = {
            "databricks_request_id": uuid.uuid4().hex,
            "client_request_id": None if client_id is None else str(client_id),
            "request_date": now.date(),
            "request_time": now,
            "status_code": status,
            "execution_duration_ms": millis,
            "request": json.dumps(request),
            "response": json.dumps(reply),
            "served_entity_id": entity.served_entity_id,
        }
        with self._lock:
            self._rows.append(row)
            if len(self._rows) >= self.flush_every:
                self._flush_locked()

    def flush(self) -> None:
        with self._lock:
            self._flush_locked()

    def _flush_locked(self) -> None:
        if not self._rows or not self.table:
            self._rows.clear()
            return
        rows = pa.Table.from_pylist(self._rows, schema=PAYLOAD_SCHEMA)
        self.store.write_at(self.store.path(self.table), rows, "append")
        self._rows.clear()


class ModelFailedError(RuntimeError):
    """The served model raised: the endpoint answers 500."""


class Router:
    """Sends each request to one served entity by the routes' percentages and logs it."""

    def __init__(
        self,
        entities: dict[str, tuple[ServedEntity, Callable[[pd.DataFrame], list[float]]]],
        log: InferenceLog,
    ) -> None:
        self.entities = entities
        self.log = log
        self._credit = dict.fromkeys(entities, 0)
        self._lock = threading.Lock()

    def pick(self) -> str:
        """Smooth weighted round robin: the version with the most credit serves, then pays 100."""
        with self._lock:
            for version, (entity, _) in self.entities.items():
                self._credit[version] += entity.traffic_percentage
            chosen = max(self._credit, key=self._credit.__getitem__)
            self._credit[chosen] -= 100
            return chosen

    def answer(self, body: Any, frame: pd.DataFrame) -> tuple[str, list[float]]:
        """The chosen version and its predictions for ``frame``; a failing model raises
        :class:`ModelFailedError`, a request it cannot read :class:`RequestError`."""
        version = self.pick()
        entity, predict = self.entities[version]
        started = time.perf_counter()
        try:
            predictions = predict(frame)
        except RequestError as exc:  # the request lacks what the model needs: a 400
            millis = round((time.perf_counter() - started) * 1000)
            self.log.add(
                entity, 400, millis, body, {"error_code": "BAD_REQUEST", "message": str(exc)}
            )
            raise
        except Exception as exc:  # the endpoint's 500: any other error of the served model
            millis = round((time.perf_counter() - started) * 1000)
            reply = {"error_code": "INTERNAL_ERROR", "message": f"{type(exc).__name__}: {exc}"}
            self.log.add(entity, 500, millis, body, reply)
            raise ModelFailedError(reply["message"]) from exc
        millis = round((time.perf_counter() - started) * 1000)
        self.log.add(entity, 200, millis, body, {"predictions": predictions})
        return version, predictions


def request_frame(body: Any) -> pd.DataFrame:
    """The rows of a ``dataframe_split`` or ``dataframe_records`` request body."""
    if not isinstance(body, dict):
        raise RequestError("the request body must be a JSON object")
    if "dataframe_split" in body:
        split = body["dataframe_split"]
        if not isinstance(split, dict) or "columns" not in split or "data" not in split:
            raise RequestError("dataframe_split needs 'columns' and 'data'")
        return pd.DataFrame(split["data"], columns=split["columns"])
    if "dataframe_records" in body:
        return pd.DataFrame(body["dataframe_records"])
    raise RequestError("send the rows as dataframe_split or dataframe_records")


def make_server(router: Router, host: str, port: int) -> ThreadingHTTPServer:
    """``/ping`` and ``/invocations`` on ``host:port`` (the routes of MLflow's scoring server):
    ``{"predictions": [...]}``, 400 for a malformed request, 500 when the model fails."""

    class Handler(BaseHTTPRequestHandler):
        def _reply(self, status: int, payload: dict[str, Any]) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            if self.path in ("/ping", "/health"):
                self._reply(200, {})
            else:
                self._reply(404, {"error_code": "NOT_FOUND", "message": self.path})

        def do_POST(self) -> None:
            if self.path != "/invocations":
                self._reply(404, {"error_code": "NOT_FOUND", "message": self.path})
                return
            try:
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"null")
                _, predictions = router.answer(body, request_frame(body))
                self._reply(200, {"predictions": predictions})
            except (RequestError, json.JSONDecodeError) as exc:
                self._reply(400, {"error_code": "BAD_REQUEST", "message": str(exc)})
            except ModelFailedError as exc:
                self._reply(500, {"error_code": "INTERNAL_ERROR", "message": str(exc)})

        def log_message(self, format: str, *args: Any) -> None:
            return  # quiet: the request log would drown the example that serve prints

    return ThreadingHTTPServer((host, port), Handler)
