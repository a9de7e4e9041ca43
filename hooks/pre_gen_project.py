"""Reject invalid template options before any file is generated.

Cookiecutter renders this file with Jinja and runs it inside the new, still empty, project
directory; a non-zero exit makes cookiecutter delete that directory again, so a rejected
input leaves nothing behind. (Only the output folder itself may remain, empty. An explicit
project_slug containing "/" would make cookiecutter create nested folders before this hook runs,
and cookiecutter removes only the innermost; the default slug replaces "/" and "\\" for that
reason.) The context arrives as JSON (``tojson`` escapes every quote),
so no value can break out of the ``r'''...'''`` literal below.

Rules (the first violation is reported, naming the field and its rule):

- project_name: 1-100 characters, no control characters and none of ``" ' ` \\ / { } $ < >``.
  (An empty name derives the slug ``missing-project-name``, so that cookiecutter reaches this
  hook, which then names project_name, instead of failing on an existing output folder.)
- project_slug (directory and bundle name): lowercase letters, digits, ``-`` and ``_``,
  starting with a letter, not ending with ``-`` or ``_``, at most 64 characters.
- package_name: a lowercase Python identifier (``[a-z_][a-z0-9_]*``) that is not a keyword and
  does not shadow a standard-library module or a dependency.
- model_name, catalog_*, schema: Unity Catalog identifiers: lowercase letters, digits and ``_``,
  starting with a letter, at most 255 characters (no dots, spaces, quotes or semicolons).
  catalog_prod must differ from the other catalogs.
- *_workspace_host: ``https://<hostname>`` (no path, port or trailing slash) in a DNS zone of the
  chosen cloud.
- default_branch, release_branch: valid git branch names made of letters, digits and ``. _ - /``;
  the two must differ.
- *_service_principal: the application ID (a UUID) of a service principal.
- alert_email: one e-mail address (job failures and drift alerts in test, staging and prod).
- read_group, approvers_group: 1-255 letters, digits, spaces and ``. _ - @``, starting and
  ending with a letter or digit.
"""

from __future__ import annotations

import json
import keyword
import re
import sys
from collections.abc import Callable
from typing import Any

CHOICES: dict[str, tuple[str, ...]] = {
    "cloud": ("azure", "aws", "gcp"),
    "cicd_platform": ("github_actions", "azure_devops", "gitlab"),
    "compute": ("serverless", "classic"),
    "include_feature_store": ("yes", "no"),
    "include_monitoring": ("yes", "no"),
    "include_serving": ("yes", "no"),
    "include_streaming": ("yes", "no"),
    "model_approval": ("yes", "no"),
}

# Workspace DNS zones per cloud, as in databricks.sdk.environments.ALL_ENVS.
CLOUD_DNS_ZONES: dict[str, tuple[str, ...]] = {
    "aws": (".cloud.databricks.com", ".cloud.databricks.us", ".dev.databricks.com"),
    "azure": (".azuredatabricks.net", ".databricks.azure.us", ".databricks.azure.cn"),
    "gcp": (".gcp.databricks.com",),
}

# Top-level modules of the generated project's dependencies that a package must not shadow.
DEPENDENCY_MODULES = frozenset(
    {"databricks", "deltalake", "mlflow", "numpy", "pandas", "pyarrow", "pyspark", "pytest",
     "scipy", "sklearn"}
)  # fmt: skip

SLUG_RE = re.compile(r"[a-z](?:[a-z0-9_-]{0,62}[a-z0-9])?")
PACKAGE_RE = re.compile(r"[a-z_][a-z0-9_]{0,63}")
UC_IDENTIFIER_RE = re.compile(r"[a-z][a-z0-9_]{0,254}")
HOST_RE = re.compile(r"https://((?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?\.)+[a-z]{2,})")
BRANCH_RE = re.compile(r"[A-Za-z0-9._/-]{1,200}")
UUID_RE = re.compile(r"[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}")
EMAIL_RE = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")
GROUP_RE = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9 ._@-]{0,253}[A-Za-z0-9])?")
NAME_FORBIDDEN = set("\"'`\\/{}$<>")

SLUG_RULE = (
    "must be 1-64 lowercase letters, digits, '-' or '_', start with a letter and not end with "
    "'-' or '_' (it is derived from project_name unless given)"
)
UC_RULE = (
    "must be a Unity Catalog identifier: 1-255 lowercase letters, digits or '_', starting with "
    "a letter (no dots, spaces, quotes or semicolons)"
)


def check_project_name(value: str) -> str | None:
    """Free text, but nothing that breaks YAML, Markdown or a path."""
    if not value.strip() or len(value) > 100:
        return "must be 1-100 characters and not blank"
    if any(ch in NAME_FORBIDDEN or not ch.isprintable() for ch in value):
        return "must not contain control characters or any of \" ' ` \\ / { } $ < >"
    return None


def check_slug(value: str) -> str | None:
    return None if SLUG_RE.fullmatch(value) else SLUG_RULE


def check_package(value: str) -> str | None:
    if not PACKAGE_RE.fullmatch(value) or keyword.iskeyword(value):
        return (
            "must be a lowercase Python identifier ([a-z_][a-z0-9_]*, at most 64 characters) "
            "that is not a Python keyword"
        )
    if value in sys.stdlib_module_names or value in DEPENDENCY_MODULES:
        return "must not shadow a standard-library module or a dependency of the project"
    return None


def check_uc_identifier(value: str) -> str | None:
    return None if UC_IDENTIFIER_RE.fullmatch(value) else UC_RULE


def check_branch(value: str) -> str | None:
    """A subset of `git check-ref-format --branch` that is also literal in workflow filters."""
    components = value.split("/")
    if (
        not BRANCH_RE.fullmatch(value)
        or value.startswith("-")
        or value == "HEAD"
        or ".." in value
        or value.endswith(".")
        or any(not part or part.startswith(".") or part.endswith(".lock") for part in components)
    ):
        return (
            "must be a git branch name of letters, digits, '.', '_', '-' and '/' (no '..', "
            "no empty or '.'-leading component, not starting with '-', not ending with '.', "
            "'/' or '.lock')"
        )
    return None


def check_uuid(value: str) -> str | None:
    if UUID_RE.fullmatch(value):
        return None
    return (
        "must be the application ID (a UUID such as 01234567-89ab-cdef-0123-456789abcdef) of "
        "a service principal"
    )


def check_email(value: str) -> str | None:
    if EMAIL_RE.fullmatch(value) and len(value) <= 254:
        return None
    return "must be one e-mail address such as ml-team@example.com"


def check_group(value: str) -> str | None:
    if GROUP_RE.fullmatch(value):
        return None
    return (
        "must be a group name of 1-255 letters, digits, spaces, '.', '_', '-' or '@', "
        "starting and ending with a letter or digit"
    )


def host_checker(cloud: str) -> Callable[[str], str | None]:
    """Check a workspace URL against the DNS zones of the chosen cloud."""
    zones = CLOUD_DNS_ZONES.get(cloud, ())

    def check(value: str) -> str | None:
        match = HOST_RE.fullmatch(value)
        if not match:
            return "must be an https URL of a workspace (https://<hostname>, no path or slash)"
        if not match.group(1).endswith(zones):
            return f"must be a {cloud} workspace (host ending in {' or '.join(zones)})"
        return None

    return check


def choice_checker(field: str) -> Callable[[str], str | None]:
    def check(value: str) -> str | None:
        allowed = CHOICES[field]
        return None if value in allowed else f"must be one of {', '.join(allowed)}"

    return check


def field_checks(context: dict[str, Any]) -> list[tuple[str, Callable[[str], str | None]]]:
    """(field, check) in the order the fields are derived, so the root cause is reported."""
    check_host = host_checker(context.get("cloud", ""))
    return [
        ("project_name", check_project_name),
        ("project_slug", check_slug),
        ("package_name", check_package),
        ("model_name", check_uc_identifier),
        *((field, choice_checker(field)) for field in CHOICES),
        ("staging_workspace_host", check_host),
        ("prod_workspace_host", check_host),
        ("default_branch", check_branch),
        ("release_branch", check_branch),
        ("catalog_dev", check_uc_identifier),
        ("catalog_test", check_uc_identifier),
        ("catalog_staging", check_uc_identifier),
        ("catalog_prod", check_uc_identifier),
        ("schema", check_uc_identifier),
        ("staging_service_principal", check_uuid),
        ("prod_service_principal", check_uuid),
        ("alert_email", check_email),
        ("read_group", check_group),
        ("approvers_group", check_group),
    ]


def cross_field_error(context: dict[str, Any]) -> str | None:
    if context["release_branch"] == context["default_branch"]:
        return (
            f"Invalid value for 'release_branch': {context['release_branch']!r}. "
            "It must differ from default_branch: pushes to each branch deploy to different targets."
        )
    others = {context[f"catalog_{name}"] for name in ("dev", "test", "staging")}
    if context["catalog_prod"] in others:
        return (
            f"Invalid value for 'catalog_prod': {context['catalog_prod']!r}. "
            "It must differ from catalog_dev, catalog_test and catalog_staging."
        )
    return None


def first_error(context: dict[str, Any]) -> str | None:
    """The message for the first invalid option, or None when every option is valid."""
    values = {key: value for key, value in context.items() if not key.startswith("_")}
    for field, check in field_checks(values):
        value = values.get(field)
        if not isinstance(value, str):
            return f"Missing or non-text value for {field!r}: {value!r}."
        rule = check(value)
        if rule:
            return f"Invalid value for {field!r}: {value!r}. It {rule}."
    return cross_field_error(values)


def main() -> int:
    context = json.loads(r'''{{ cookiecutter | tojson }}''')  # fmt: skip
    error = first_error(context)
    if error:
        print(f"ERROR: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
