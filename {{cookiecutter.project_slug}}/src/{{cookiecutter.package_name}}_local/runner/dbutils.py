"""A stand-in for the parts of Databricks ``dbutils`` that job notebooks use."""

from __future__ import annotations

import json
from typing import Any


class NotebookExit(BaseException):
    """Raised by ``dbutils.notebook.exit``: ends the notebook successfully with ``value``."""

    def __init__(self, value: str) -> None:
        super().__init__(value)
        self.value = value


class InputWidgetNotDefined(KeyError):  # noqa: N818 - the name Databricks uses
    """``dbutils.widgets.get`` of a widget that was neither declared nor passed."""


class Widgets:
    """``dbutils.widgets``: values passed by the job win over declared defaults."""

    def __init__(self, params: dict[str, str] | None = None) -> None:
        self._params = {k: str(v) for k, v in (params or {}).items()}
        self._defaults: dict[str, str] = {}

    def text(self, name: str, defaultValue: str = "", label: str | None = None) -> None:  # noqa: N803
        self._defaults[name] = str(defaultValue)

    def dropdown(
        self,
        name: str,
        defaultValue: str,  # noqa: N803
        choices: list[str],
        label: str | None = None,
    ) -> None:
        if str(defaultValue) not in [str(c) for c in choices]:
            raise ValueError(f"widget {name!r}: default {defaultValue!r} is not one of {choices}")
        self._defaults[name] = str(defaultValue)

    combobox = dropdown

    def get(self, name: str) -> str:
        if name in self._params:
            return self._params[name]
        if name in self._defaults:
            return self._defaults[name]
        raise InputWidgetNotDefined(f"No input widget named {name} is defined")

    def getAll(self) -> dict[str, str]:  # noqa: N802
        return {**self._defaults, **self._params}

    def remove(self, name: str) -> None:
        self._defaults.pop(name, None)

    def removeAll(self) -> None:  # noqa: N802
        self._defaults.clear()


class TaskValues:
    """``dbutils.jobs.taskValues`` over a store shared by the tasks of one job run."""

    def __init__(self, store: dict[str, dict[str, Any]] | None = None, task_key: str = "") -> None:
        self.store = store if store is not None else {}
        self.task_key = task_key

    def set(self, key: str, value: Any) -> None:
        try:
            json.dumps(value)
        except TypeError as exc:
            raise TypeError(f"task value {key!r} must be JSON serializable: {exc}") from exc
        self.store.setdefault(self.task_key, {})[key] = value

    def get(self, taskKey: str, key: str, default: Any = None, debugValue: Any = None) -> Any:  # noqa: N803
        values = self.store.get(taskKey, {})
        if key in values:
            return values[key]
        if default is not None:
            return default
        if not self.task_key:  # outside a job run, like a notebook run by hand
            return debugValue
        raise ValueError(
            f"task value {key!r} of task {taskKey!r} was not set and no default was given"
        )


class _Jobs:
    def __init__(self, task_values: TaskValues) -> None:
        self.taskValues = task_values


class _Notebook:
    def exit(self, value: Any = "") -> None:
        raise NotebookExit(str(value))


class _Library:
    def restartPython(self) -> None:  # noqa: N802
        """Nothing to restart: local notebooks share this interpreter."""


class LocalDbutils:
    """``dbutils`` for one task: widgets fed by its parameters, task values of its job run."""

    def __init__(
        self,
        params: dict[str, str] | None = None,
        task_values: dict[str, dict[str, Any]] | None = None,
        task_key: str = "",
    ) -> None:
        self.widgets = Widgets(params)
        self.jobs = _Jobs(TaskValues(task_values, task_key))
        self.notebook = _Notebook()
        self.library = _Library()
