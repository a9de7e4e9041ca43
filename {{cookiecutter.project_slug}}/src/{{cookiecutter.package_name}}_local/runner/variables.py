"""Bundle variables and ``${...}`` references, resolved as the Databricks CLI resolves them.

Variable precedence follows ``bundle/config/mutator/set_variables.go``: ``--var``, then
``BUNDLE_VAR_<name>``, then a ``lookup`` (which needs a workspace), then the default. References
are substituted as ``bundle/config/mutator/resolve_variable_references.go`` does (with
``libs/dyn/dynvar``): a value that is a whole reference keeps its type, an embedded one becomes
text, and references inside substituted values are followed.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from typing import Any

from .errors import BundleError
from .paths import Located

REFERENCE = re.compile(r"\$\{([A-Za-z0-9_.\-\[\]]+)\}")
# Resource kinds the local runner executes: every variable they use needs a value.
RUN_LOCALLY = ("jobs",)


class Unresolvable:
    """A value that needs a workspace (a lookup, a missing required variable)."""

    def __init__(self, reason: str) -> None:
        self.reason = reason

    def __repr__(self) -> str:
        return f"<unresolvable: {self.reason}>"


class UnresolvedVariableError(BundleError):
    """A reference to a variable that has no value here (a lookup, an unset required one)."""


def variable_values(declared: dict[str, Any], overrides: dict[str, str]) -> dict[str, Any]:
    """Each variable's value: ``--var``, ``BUNDLE_VAR_<name>``, a lookup, then the default."""
    unknown = sorted(set(overrides) - set(declared))
    if unknown:
        raise BundleError(f"unknown bundle variables: {', '.join(unknown)}")
    values: dict[str, Any] = {}
    for name, spec in declared.items():
        spec = spec if isinstance(spec, dict) else {"default": spec}
        given = overrides.get(name, os.environ.get(f"BUNDLE_VAR_{name}"))
        if given is not None and spec.get("type") == "complex":
            raise BundleError(f"variable {name!r} is complex: it cannot be set from outside")
        if given is not None:
            values[name] = given
        elif spec.get("lookup"):
            kind = next(iter(spec["lookup"]), "?")
            values[name] = Unresolvable(
                f"variable {name!r} looks up a {kind} by name, which needs a workspace: "
                f"pass --var {name}=<value> to run locally"
            )
        elif "default" in spec:
            values[name] = spec["default"]
        else:
            values[name] = Unresolvable(
                f"variable {name!r} has no value for this target and no default: "
                f"pass --var {name}=<value>"
            )
    return values


def _ref(ref: str) -> str:
    return "${" + ref + "}"


def _render_scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


class Resolver:
    """Substitutes ``${...}``; references inside substituted values are followed."""

    def __init__(
        self,
        context: dict[str, Any],
        variables: dict[str, Any],
        resources: dict[str, Any] | None = None,
        *,
        keep_unresolved: bool = False,
        keep_unresolved_variables: bool = False,
        resource_id: Callable[[str, str], Any] | None = None,
    ) -> None:
        self.context = context
        self.variables = variables
        self.resources = resources
        self.keep_unresolved = keep_unresolved
        self.keep_unresolved_variables = keep_unresolved_variables
        self.resource_id = resource_id or (lambda kind, key: key)

    def keeps(self, error: BundleError) -> bool:
        """Whether a reference that failed with ``error`` stays as written."""
        return self.keep_unresolved or (
            self.keep_unresolved_variables and isinstance(error, UnresolvedVariableError)
        )

    def lenient(self) -> Resolver:
        """The same resolver, keeping references to variables without a value."""
        return Resolver(
            self.context,
            self.variables,
            self.resources,
            keep_unresolved=self.keep_unresolved,
            keep_unresolved_variables=True,
            resource_id=self.resource_id,
        )

    def resolve_resources(self, resources: dict[str, Any]) -> dict[str, Any]:
        """Resolve every resource; only the kinds the runner runs need every variable."""
        lenient = self.lenient()
        return {
            kind: (self if kind in RUN_LOCALLY else lenient).resolve(items)
            for kind, items in resources.items()
        }

    def handles(self, ref: str) -> bool:
        root = ref.split(".", 1)[0]
        if root == "resources":
            return self.resources is not None
        return True

    def lookup(self, ref: str, depth: int) -> Any:
        parts = ref.split(".")
        if parts[0] in ("var", "variables"):
            name = parts[1] if len(parts) > 1 else ""
            if parts[0] == "variables" and parts[2:] == ["value"]:
                parts = parts[:2]
            if name not in self.variables or len(parts) != 2:
                raise BundleError(f"unknown variable reference {_ref(ref)}")
            value = self.variables[name]
            if isinstance(value, Unresolvable):
                raise UnresolvedVariableError(value.reason)
            return self.resolve(value, depth + 1)
        if parts[0] == "resources":
            assert self.resources is not None
            if len(parts) < 4:
                raise BundleError(f"{_ref(ref)} must name a field of a resource")
            kind, key, attr = parts[1], parts[2], ".".join(parts[3:])
            if key not in (self.resources.get(kind) or {}):
                raise BundleError(f"{_ref(ref)} refers to an unknown resource {kind}.{key}")
            if attr == "id":
                return self.resource_id(kind, key)  # the runner identifies a job by its key
            value = (self.resources[kind][key] or {}).get(attr)
            if value is None:
                raise BundleError(f"{_ref(ref)}: resource {kind}.{key} has no {attr!r}")
            return self.resolve(value, depth + 1)
        if ref in self.context:
            return self.resolve(self.context[ref], depth + 1)
        raise BundleError(f"cannot resolve {_ref(ref)} locally")

    def resolve(self, value: Any, depth: int = 0) -> Any:
        if depth > 20:
            raise BundleError(f"reference cycle while resolving {value!r}")
        if isinstance(value, dict):
            return {k: self.resolve(v, depth) for k, v in value.items()}
        if isinstance(value, list):
            return [self.resolve(v, depth) for v in value]
        if not isinstance(value, str) or "${" not in value:
            return value
        whole = REFERENCE.fullmatch(value)
        if whole and self.handles(whole.group(1)):
            try:
                resolved = self.lookup(whole.group(1), depth)
            except BundleError as exc:
                if self.keeps(exc):
                    return value
                raise
            return value.with_value(str(resolved)) if isinstance(value, Located) else resolved

        def substitute(match: re.Match[str]) -> str:
            if not self.handles(match.group(1)):
                return match.group(0)
            try:
                resolved = self.lookup(match.group(1), depth)
            except BundleError as exc:
                if self.keeps(exc):
                    return match.group(0)
                raise
            if isinstance(resolved, dict | list):
                raise BundleError(
                    f"complex value {_ref(match.group(1))} cannot be embedded in {value!r}"
                )
            return _render_scalar(resolved)

        text = REFERENCE.sub(substitute, value)
        return value.with_value(text) if isinstance(value, Located) else text
