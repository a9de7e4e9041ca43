#!/usr/bin/env python3
"""What the CI pipelines need to know about the bundle, read from the bundle as the Databricks
CLI resolved it (``databricks bundle validate -t <target> -o json > bundle.json``), so that no
pipeline repeats a table, resource or endpoint name that the bundle already defines.

  python scripts/bundle_facts.py deploy-select bundle.json -t staging
      Empty when every Lakehouse monitor's table exists (deploy everything); otherwise the
      resources to deploy now, comma-separated for ``--select``: all but the monitors whose table
      batch inference has not written yet (the next deploy adds them). Asks the CLI
      (``databricks tables exists``) in the target's workspace; any answer but a missing table,
      schema or catalog stops with the CLI's message.
  python scripts/bundle_facts.py serving-endpoint bundle.json
      The serving endpoint the deploy task creates, which ``bundle destroy`` does not remove
      (empty without one).

Only the standard library: the pipelines run it before installing anything.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

MISSING = "_DOES_NOT_EXIST"  # TABLE_DOES_NOT_EXIST, SCHEMA_DOES_NOT_EXIST, CATALOG_DOES_NOT_EXIST


class FactsError(Exception):
    """The bundle JSON or the CLI's answer is not what the pipelines expect."""


def load(path: Path) -> dict[str, Any]:
    try:
        config = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise FactsError(
            f"cannot read {path} ({exc}): write it with `databricks bundle "
            "validate -t <target> -o json > bundle.json`"
        ) from exc
    if not isinstance(config, dict) or "resources" not in config:
        raise FactsError(f"{path} is not the output of `databricks bundle validate -o json`")
    return config


def resource_keys(config: dict[str, Any]) -> list[str]:
    """Every resource key, in the bundle's order (keys are unique across kinds)."""
    return [key for items in (config.get("resources") or {}).values() for key in items or {}]


def monitored_tables(config: dict[str, Any]) -> dict[str, str]:
    """Lakehouse monitor key -> the table it monitors."""
    monitors = (config.get("resources") or {}).get("quality_monitors") or {}
    return {key: str(body["table_name"]) for key, body in monitors.items()}


def table_exists(table: str, target: str, cli: str = "databricks") -> bool:
    """Ask the CLI, in the target's workspace, whether ``table`` exists."""
    done = subprocess.run(
        [cli, "tables", "exists", table, "-t", target, "-o", "json"],
        capture_output=True,
        text=True,
        check=False,
    )
    answer = done.stdout + done.stderr
    if done.returncode != 0:
        if MISSING in answer:
            return False
        raise FactsError(f"`databricks tables exists {table}` failed: {answer.strip()}")
    try:
        return bool(json.loads(done.stdout)["table_exists"])
    except (ValueError, KeyError, TypeError) as exc:
        raise FactsError(f"unexpected answer to `tables exists {table}`: {answer!r}") from exc


def deploy_select(config: dict[str, Any], target: str, cli: str = "databricks") -> str:
    """'' to deploy everything, else the comma-separated resources to deploy for now."""
    waiting = {
        key
        for key, table in monitored_tables(config).items()
        if not table_exists(table, target, cli)
    }
    if not waiting:
        return ""
    return ",".join(key for key in resource_keys(config) if key not in waiting)


def serving_endpoint(config: dict[str, Any]) -> str:
    """The endpoint name of the target (empty: the target serves no endpoint)."""
    variable = (config.get("variables") or {}).get("serving_endpoint_name") or {}
    value = variable["value"] if "value" in variable else variable.get("default")
    return str(value or "")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="scripts/bundle_facts.py", description=__doc__)
    sub = parser.add_subparsers(dest="fact", required=True)
    select = sub.add_parser("deploy-select", help="resources to deploy while monitors wait")
    select.add_argument("bundle_json", type=Path)
    select.add_argument("-t", "--target", required=True)
    endpoint = sub.add_parser("serving-endpoint", help="the endpoint the deploy task creates")
    endpoint.add_argument("bundle_json", type=Path)
    args = parser.parse_args(argv)
    try:
        config = load(args.bundle_json)
        if args.fact == "deploy-select":
            answer = deploy_select(config, args.target)
            if answer:
                waiting = sorted(set(monitored_tables(config)) - set(answer.split(",")))
                print(f"waiting for their tables: {', '.join(waiting)}", file=sys.stderr)
        else:
            answer = serving_endpoint(config)
    except FactsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(answer)
    return 0


if __name__ == "__main__":
    sys.exit(main())
