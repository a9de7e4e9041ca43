"""Development mode and presets: name prefixes, tags, paused triggers and the CLI's defaults.

Follows ``bundle/config/mutator/apply_target_mode.go`` (what ``mode: development`` sets) and
``bundle/config/mutator/resourcemutator/apply_presets.go`` (how each preset applies per
resource kind), with the name normalization of ``libs/textutil``.
"""

from __future__ import annotations

import copy
import re
from typing import Any

# How the name prefix applies per resource kind (apply_presets.go).
PREFIXED_FIELDS = {  # prefix + value
    "jobs": "name",
    "pipelines": "name",
    "clusters": "cluster_name",
    "dashboards": "display_name",
    "alerts": "display_name",
}
UC_NAME_KINDS = ("registered_models", "schemas", "model_serving_endpoints")  # "dev_alice_" + name
PAUSABLE_TRIGGERS = ("schedule", "trigger", "continuous")


def normalize_string(text: str) -> str:
    """``textutil.NormalizeString``: lower case, other than letters and digits as ``_``,
    repeated ``_`` collapsed, leading and trailing ``_`` trimmed."""
    return re.sub(r"_+", "_", re.sub(r"[^a-z0-9]", "_", text.lower())).strip("_")


def short_name(user_name: str) -> str:
    """``workspace.current_user.short_name``: the user name before ``@``, normalized."""
    return normalize_string(user_name.split("@", 1)[0])


def normalize_prefix(prefix: str) -> str:
    """A name prefix as Unity Catalog names take it: ``"[dev alice] "`` -> ``"dev_alice_"``."""
    text = prefix.replace("[", "").strip()
    suffix = "_" if text.endswith("]") else ""
    return normalize_string(text) + suffix


def effective_presets(config: dict[str, Any], user_name: str) -> dict[str, Any]:
    """The presets of the selected target, with development mode's defaults filled in."""
    presets = dict(config.get("presets") or {})
    if config.get("mode") == "development":
        presets.setdefault("name_prefix", f"[dev {short_name(user_name)}] ")
        presets.setdefault("trigger_pause_status", "PAUSED")
        presets.setdefault("jobs_max_concurrent_runs", 4)
        presets["tags"] = {"dev": short_name(user_name), **(presets.get("tags") or {})}
    return presets


def apply_presets(resources: dict[str, Any], presets: dict[str, Any]) -> dict[str, Any]:
    """Name prefixes, tags and paused triggers, then the defaults the CLI fills in."""
    resources = copy.deepcopy(resources)
    prefix = str(presets.get("name_prefix") or "")
    tags = presets.get("tags") or {}
    pause = presets.get("trigger_pause_status")
    for kind, field_name in PREFIXED_FIELDS.items():
        for body in (resources.get(kind) or {}).values():
            if body is not None and body.get(field_name):
                body[field_name] = prefix + str(body[field_name])
    for kind in UC_NAME_KINDS:
        for body in (resources.get(kind) or {}).values():
            if body is not None and body.get("name") and prefix:
                body["name"] = normalize_prefix(prefix) + str(body["name"])
    for body in (resources.get("experiments") or {}).values():
        if body is None:
            continue
        if body.get("name") and prefix:
            folder, slash, base = str(body["name"]).rpartition("/")
            body["name"] = f"{folder}{slash}{prefix}{base}"
        existing = {t.get("key") for t in body.get("tags") or []}
        extra = [{"key": k, "value": v} for k, v in tags.items() if k not in existing]
        if extra:
            body["tags"] = [*(body.get("tags") or []), *extra]
    for body in (resources.get("jobs") or {}).values():
        if body is None:
            continue
        if tags:  # (the CLI also tags pipelines and clusters; this template has neither)
            body["tags"] = {**tags, **(body.get("tags") or {})}
        if not body.get("max_concurrent_runs"):
            body["max_concurrent_runs"] = presets.get("jobs_max_concurrent_runs") or 1
        for trigger in PAUSABLE_TRIGGERS:
            if isinstance(body.get(trigger), dict) and not body[trigger].get("pause_status"):
                body[trigger]["pause_status"] = pause or "UNPAUSED"
    for body in (resources.get("quality_monitors") or {}).values():
        schedule = (body or {}).get("schedule")
        if pause == "PAUSED" and schedule and schedule.get("pause_status") != "UNPAUSED":
            body.pop("schedule")
    return resources
