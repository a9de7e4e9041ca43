"""Paths in a bundle: relative paths resolve from the folder of the file that writes them.

Follows the Databricks CLI (databricks/cli): ``bundle/config/mutator/normalize_paths.go``
remembers each relative path with its file's folder while the files are loaded, and
``bundle/config/mutator/translate_paths.go`` turns them into paths once the target is resolved
(locally: absolute paths on this machine).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

INCLUDE_SUFFIXES = (".yml", ".yaml", ".json")


class Located(str):
    """A relative path as written in a YAML file, with the folder it is relative to."""

    base: Path

    def __new__(cls, value: str, base: Path) -> Located:
        obj = super().__new__(cls, value)
        obj.base = base
        return obj

    def __deepcopy__(self, memo: dict[int, Any]) -> Located:
        return self

    def with_value(self, value: str) -> Located:
        return Located(value, self.base)


def _is_path_field(path: tuple[str, ...]) -> bool:
    """Whether the value at ``path`` (keys from the resource kind down) is a local path."""
    if not path:
        return False
    key = path[-1]
    parent = path[-2] if len(path) > 1 else ""
    if key == "notebook_path" and parent == "notebook_task":
        return True
    if key == "python_file" and parent == "spark_python_task":
        return True
    if key in ("whl", "jar", "requirements") and "libraries" in path:
        return True
    if key == "dependencies" and ("environments" in path or "environment" in path):
        return True
    if key == "file_path" and path[0] in ("dashboards", "alerts"):
        return True
    if key == "path" and parent in ("notebook", "file") and path[0] == "pipelines":
        return True
    return key == "source_code_path" and path[0] == "apps"


def _is_local_reference(value: str) -> bool:
    """A path to resolve later: relative, or a reference that may turn out relative (not a
    workspace path, a URL or a PyPI requirement)."""
    text = value.strip()
    if text.startswith(("-r ", "-e ")):
        text = text[3:].strip()
    if not text or text.startswith("/") or re.match(r"^[A-Za-z][\w+.-]*:", text):
        return False
    if "${" in text:
        return True
    return (
        text.startswith(".")
        or "/" in text
        or text.endswith((".py", ".whl", ".jar", ".json", ".ipynb", ".txt"))
    )


def _locate(node: Any, base: Path, path: tuple[str, ...] = ()) -> Any:
    """Wrap every relative path under ``resources`` in :class:`Located`."""
    if isinstance(node, dict):
        return {k: _locate(v, base, (*path, str(k))) for k, v in node.items()}
    if isinstance(node, list):
        return [_locate(v, base, path) for v in node]
    if isinstance(node, str) and _is_path_field(path) and _is_local_reference(node):
        return Located(node, base)
    return node


def locate_document(document: dict[str, Any], base: Path) -> dict[str, Any]:
    located = dict(document)
    if "resources" in located:
        located["resources"] = {
            kind: {key: _locate(body, base, (kind,)) for key, body in (items or {}).items()}
            for kind, items in (located["resources"] or {}).items()
        }
    targets = located.get("targets") or {}
    located["targets"] = {
        name: (
            {
                **body,
                "resources": locate_document({"resources": body["resources"]}, base)["resources"],
            }
            if isinstance(body, dict) and body.get("resources")
            else body
        )
        for name, body in targets.items()
    }
    if not targets:
        located.pop("targets", None)
    return located


def translate_paths(node: Any) -> Any:
    if isinstance(node, Located):
        text = str(node)
        flag = ""
        if text.startswith(("-r ", "-e ")):
            flag, text = text[:3], text[3:].strip()
        if text.startswith("/") or re.match(r"^[A-Za-z][\w+.-]*:", text):
            return flag + text
        return flag + str((node.base / text).resolve())
    if isinstance(node, dict):
        return {k: translate_paths(v) for k, v in node.items()}
    if isinstance(node, list):
        return [translate_paths(v) for v in node]
    return node
