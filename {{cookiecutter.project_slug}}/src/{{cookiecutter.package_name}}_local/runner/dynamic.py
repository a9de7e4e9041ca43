"""Dynamic value references (``job.parameters.x``, ``tasks.t.values.k``... in double braces)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from .errors import RunnerError

DYNAMIC = re.compile(r"\{\{\s*([^{}]+?)\s*\}\}")


def dynamic_ref(ref: str) -> str:
    """``ref`` in double braces (built so the template engine leaves this file alone)."""
    return "{" * 2 + ref + "}" * 2


def render_value(value: Any) -> str:
    """Text of a value the way Databricks substitutes it: JSON-ish, booleans lowercase."""
    if isinstance(value, str):
        return value
    if value is None:
        return "null"
    return json.dumps(value)


@dataclass
class RunContext:
    """What dynamic references can see during one job run."""

    job_id: str
    run_id: str
    job_name: str
    parameters: dict[str, str]
    task_values: dict[str, dict[str, Any]] = field(default_factory=dict)
    start_time: datetime = field(default_factory=datetime.now)
    task_key: str = ""

    def lookup(self, ref: str) -> str:
        parts = ref.split(".")
        simple = {
            "job.id": self.job_id,
            "job.run_id": self.run_id,
            "job.name": self.job_name,
            "task.name": self.task_key,
            "task.run_id": f"{self.run_id}-{self.task_key}",
            "job.start_time.iso_date": self.start_time.date().isoformat(),
            "job.start_time.iso_datetime": self.start_time.isoformat(timespec="seconds"),
            "job.start_time.timestamp_ms": str(int(self.start_time.timestamp() * 1000)),
        }
        if ref in simple:
            return simple[ref]
        if parts[:2] == ["job", "parameters"] and len(parts) >= 3:
            name = ".".join(parts[2:])
            if name not in self.parameters:
                raise RunnerError(f"{dynamic_ref(ref)}: the job has no parameter {name!r}")
            return self.parameters[name]
        if parts[0] == "tasks" and len(parts) >= 4 and parts[2] == "values":
            task, key = parts[1], ".".join(parts[3:])
            values = self.task_values.get(task, {})
            if key not in values:
                raise RunnerError(
                    f"{dynamic_ref(ref)}: task {task!r} did not set the task value {key!r}"
                )
            return render_value(values[key])
        raise RunnerError(f"unsupported dynamic value reference {dynamic_ref(ref)}")

    def render(self, value: Any) -> Any:
        """Substitute every dynamic reference in ``value`` (strings, lists and dicts)."""
        if isinstance(value, dict):
            return {k: self.render(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.render(v) for v in value]
        if isinstance(value, str):
            return DYNAMIC.sub(lambda m: self.lookup(m.group(1)), value)
        return value
