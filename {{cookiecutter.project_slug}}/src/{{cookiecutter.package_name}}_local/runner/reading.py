"""Reading a bundle: ``databricks.yml`` and the files its ``include`` patterns match.

Follows the Databricks CLI's loader (databricks/cli ``bundle/config/loader``:
``process_root_includes.go`` globs each pattern, sorted, and ``process_include.go`` merges each
file into the root): only ``databricks.yml`` includes files, a pattern without a wildcard must
match a file, and a resource key defined twice, even for two kinds of resource, is an error
(``bundle/config/root.go``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from .errors import BundleError
from .merge import merge
from .paths import INCLUDE_SUFFIXES, locate_document


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise BundleError(f"{path}: invalid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise BundleError(f"{path}: expected a mapping at the top level")
    return locate_document(data, path.parent)


@dataclass
class RawBundle:
    """``databricks.yml`` merged with its includes, before a target is chosen."""

    root: Path
    config: dict[str, Any]
    files: list[Path]


def _include_matches(root: Path, pattern: str) -> list[Path]:
    if Path(pattern).is_absolute():
        raise BundleError(f"databricks.yml: include {pattern!r} must be a relative path")
    matches = sorted(root.glob(pattern))
    if not matches and not any(ch in pattern for ch in "*?["):
        raise BundleError(f"databricks.yml: include {pattern!r} does not match any file")
    for path in matches:
        if path.suffix not in INCLUDE_SUFFIXES:
            raise BundleError(f"{path}: included files must be YAML or JSON")
    return matches


def read_bundle(root: str | Path) -> RawBundle:
    """``databricks.yml`` and every file its ``include`` patterns match, merged."""
    root = Path(root).resolve()
    main_file = root / "databricks.yml"
    if not main_file.is_file():
        raise BundleError(f"no databricks.yml in {root}")
    config = _read_yaml(main_file)
    files = [main_file]
    owners: dict[str, tuple[str, Path]] = {}

    def claim(document: dict[str, Any], path: Path) -> None:
        for kind, items in (document.get("resources") or {}).items():
            for key in items or {}:
                if key in owners:
                    other_kind, other_path = owners[key]
                    raise BundleError(
                        f"multiple resources have been defined with the same key {key!r}: "
                        f"{other_kind} in {other_path} and {kind} in {path}"
                    )
                owners[key] = (kind, path)

    claim(config, main_file)
    for pattern in config.get("include") or []:
        for path in _include_matches(root, str(pattern)):
            if path in files:
                continue
            part = _read_yaml(path)
            part.pop("include", None)  # only databricks.yml includes files
            claim(part, path)
            config = merge(config, part)
            files.append(path)
    return RawBundle(root, config, files)
