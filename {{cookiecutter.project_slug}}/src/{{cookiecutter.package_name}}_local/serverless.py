"""Serverless compute's rules, enforced on the local Spark Connect session.

Serverless compute is Spark Connect, and Spark Connect already refuses ``spark.sparkContext``,
the RDD API and the JVM. Serverless refuses more, which a local Connect server allows: the
cache API, Spark settings outside a short list, and global temporary views (Databricks docs,
"Serverless compute limitations" and "Configure Spark properties for serverless notebooks and
jobs"). :func:`enforce_serverless_rules` makes the local Connect classes refuse them too, with
an error that names the rule, so a call that would fail on the first serverless run fails the
local run and the tests first. Classic sessions (job clusters) are not affected.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

# Caching: what a serverless task gets for any cache call (the same text the Platform.cache
# fallback recognises).
CACHE_ERROR = "[NOT_SUPPORTED_WITH_SERVERLESS] PERSIST TABLE is not supported on serverless compute"
DOCS = "docs/local-vs-databricks.md"

# The Spark settings a serverless notebook or job may set (docs: "Configure Spark properties for
# serverless notebooks and jobs"); any other key is refused.
SERVERLESS_CONFS = frozenset(
    {
        "spark.sql.legacy.timeParserPolicy",
        "spark.sql.session.timeZone",
        "spark.sql.shuffle.partitions",
        "spark.sql.ansi.enabled",
        "spark.sql.files.maxPartitionBytes",
        "spark.databricks.execution.timeout",
    }
)


class ServerlessRuleError(Exception):
    """A call that serverless compute refuses (the message names the rule and a way out)."""


class ServerlessAttributeError(ServerlessRuleError, AttributeError):
    """``spark.sparkContext`` and the JVM handles are not there on serverless."""


def refused(what: str, rule: str, instead: str, prefix: str = "") -> str:
    """The message of a refused call: what was called, the serverless rule, what to do instead."""
    lead = f"{prefix}: " if prefix else ""
    return (
        f"{lead}{what} is not available on serverless compute ({rule}); {instead}. Tasks in a "
        f"job environment run serverless, and the local twin holds them to serverless "
        f"compute's rules ({DOCS})"
    )


def _cache_refused(what: str) -> ServerlessRuleError:
    return ServerlessRuleError(
        refused(
            what,
            "the DataFrame and SQL cache APIs are not supported",
            "use Platform.cache(df), which falls back to recomputing on serverless, or write "
            "the intermediate result to a table",
            CACHE_ERROR,
        )
    )


def _conf_refused(key: str) -> ServerlessRuleError:
    allowed = ", ".join(sorted(SERVERLESS_CONFS))
    return ServerlessRuleError(
        refused(
            f"setting the Spark property {key!r}",
            f"[CONFIG_NOT_AVAILABLE] only these properties may be set: {allowed}",
            "drop the setting or move the job to a job cluster (compute=classic)",
        )
    )


def _global_view_refused(what: str) -> ServerlessRuleError:
    return ServerlessRuleError(
        refused(
            what,
            "global temporary views are not supported",
            "use a session temporary view (createOrReplaceTempView) or a table",
        )
    )


def _jvm_refused(name: str) -> ServerlessAttributeError:
    return ServerlessAttributeError(
        refused(
            f"spark.{name}",
            "Spark Connect has no SparkContext, RDD or JVM access",
            "use the DataFrame API, spark.conf for the allowed settings, and the platform "
            "seam for everything else",
            "[JVM_ATTRIBUTE_NOT_SUPPORTED]",
        )
    )


_CACHE_SQL = re.compile(
    r"^(CACHE\s+(LAZY\s+)?TABLE|UNCACHE\s+TABLE|CLEAR\s+CACHE|REFRESH\s+TABLE)\b", re.I
)
_SET_SQL = re.compile(r"^SET\s+(?!-v\b)`?([\w.]+)`?\s*=", re.I)
_GLOBAL_VIEW_SQL = re.compile(r"\bGLOBAL\s+TEMP(ORARY)?\s+VIEW\b|\bglobal_temp\s*\.", re.I)
_COMMENTS = re.compile(r"--[^\n]*|/\*.*?\*/", re.S)


def check_sql(statement: str) -> None:
    """Refuse a SQL statement that serverless compute refuses (cache commands, ``SET`` of a
    property outside the list, global temporary views)."""
    text = _COMMENTS.sub(" ", statement).strip()
    if _CACHE_SQL.match(text):
        raise _cache_refused(f"the SQL command {text.split()[0].upper()}")
    setting = _SET_SQL.match(text)
    if setting and setting.group(1) not in SERVERLESS_CONFS:
        raise _conf_refused(setting.group(1))
    if _GLOBAL_VIEW_SQL.search(text):
        raise _global_view_refused("a global temporary view (GLOBAL TEMP VIEW / global_temp)")


class _Rules:
    """Whether the rules hold right now: on, but off for a classic task of a bundle that also
    runs serverless (a process has one kind of Spark, so such a task runs on Spark Connect)."""

    installed = False
    enforced = True


def rules_enforced() -> bool:
    """Whether this process's Spark Connect sessions follow serverless compute's rules now."""
    return _Rules.installed and _Rules.enforced


@contextmanager
def rules_suspended() -> Iterator[None]:
    """Lift the rules for a block (a classic task on this process's Spark Connect session)."""
    previous, _Rules.enforced = _Rules.enforced, False
    try:
        yield
    finally:
        _Rules.enforced = previous


def _guard(original: Callable[..., Any], check: Callable[..., None]) -> Callable[..., Any]:
    """``original`` preceded by ``check`` (which raises) while the rules are enforced."""

    @functools.wraps(original)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        if _Rules.enforced:
            check(*args, **kwargs)
        return original(*args, **kwargs)

    return guarded


def _raise(error: Callable[[], Exception]) -> Callable[..., None]:
    def check(*_args: Any, **_kwargs: Any) -> None:
        raise error()

    return check


def _rdd_refused() -> ServerlessRuleError:
    # Not an AttributeError: from a property, Python would retry DataFrame.__getattr__.
    return ServerlessRuleError(
        refused(
            "DataFrame.rdd",
            "Spark RDD APIs are not supported",
            "use DataFrame operations (select, groupBy, mapInPandas, toPandas/toArrow)",
            "[NOT_IMPLEMENTED]",
        )
    )


def _check_conf(_conf: Any, key: str, *_args: Any) -> None:
    if key not in SERVERLESS_CONFS:
        raise _conf_refused(key)


def _check_attribute(_session: Any, name: str) -> None:
    if name in ("sparkContext", "_jsc", "_jconf", "_jvm", "_jsparkSession"):
        raise _jvm_refused(name)


def _check_statement(_session: Any, statement: str, *_args: Any, **_kwargs: Any) -> None:
    check_sql(statement)


def enforce_serverless_rules() -> None:
    """Make every Spark Connect session of this process follow serverless compute's rules."""
    if _Rules.installed:
        return
    from pyspark.sql.connect.catalog import Catalog
    from pyspark.sql.connect.conf import RuntimeConf
    from pyspark.sql.connect.dataframe import DataFrame
    from pyspark.sql.connect.session import SparkSession

    guards: list[tuple[type, str, Callable[..., None]]] = [
        *(
            (DataFrame, name, _raise(functools.partial(_cache_refused, f"DataFrame.{name}()")))
            for name in ("cache", "persist", "unpersist", "checkpoint")
        ),
        *(
            (Catalog, name, _raise(functools.partial(_cache_refused, f"catalog.{name}()")))
            for name in ("cacheTable", "uncacheTable", "clearCache", "refreshTable")
        ),
        *(
            (DataFrame, name, _raise(functools.partial(_global_view_refused, f"{name}()")))
            for name in ("createGlobalTempView", "createOrReplaceGlobalTempView")
        ),
        (RuntimeConf, "set", _check_conf),
        (RuntimeConf, "unset", _check_conf),
        (SparkSession, "__getattr__", _check_attribute),
        (SparkSession, "sql", _check_statement),
    ]
    for cls, name, check in guards:
        setattr(cls, name, _guard(getattr(cls, name), check))
    rdd = DataFrame.rdd
    DataFrame.rdd = property(_guard(rdd.fget, _raise(_rdd_refused)))  # type: ignore[assignment]
    _Rules.installed = True


def as_shipped(function: Callable[..., Any]) -> Callable[..., Any]:
    """``function`` as a Spark Connect server receives it for ``foreachBatch``: pickled with
    pyspark's serializer and loaded again, so a function that holds something that does not
    pickle (a client, a lock, a driver-side session) fails here as it fails on serverless, and
    one that relies on the driver's mutable state sees its own copy, as there."""
    import pickle

    from pyspark.serializers import CloudPickleSerializer

    serializer = CloudPickleSerializer()
    try:
        return serializer.loads(serializer.dumps(function))
    except pickle.PicklingError as exc:
        raise ServerlessRuleError(
            refused(
                f"a foreachBatch function that does not pickle ({exc})",
                "[STREAMING_CONNECT_SERIALIZATION_ERROR] on Spark Connect the function is "
                "pickled and runs in a separate Python process on the server",
                "let it hold names only and build what it needs (the platform, clients) from "
                "the batch's own session inside the call",
            )
        ) from exc
