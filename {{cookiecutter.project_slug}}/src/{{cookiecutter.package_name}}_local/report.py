"""``report``: the bundle's monitoring dashboard and alerts, evaluated over the local tables.

The dashboard's own ``.lvdash.json`` is the one source: each dataset query runs in local Spark
over temporary views named like the tables of the bundle's schema (the queries name tables
without catalog and schema, as ``dataset_catalog``/``dataset_schema`` let them on Databricks),
each widget's fields are computed from its dataset as Lakeview would, and the result is drawn
with matplotlib into one static HTML page (charts as inline SVG). Each alert's query runs the
same way; a triggered alert is printed and recorded in ``<state>/alerts.jsonl``.
"""

from __future__ import annotations

import html
import io
import json
import math
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from .cards import model_cards
from .deployed import deployed_names
from .runner.errors import RunnerError

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

    from .platform import LocalPlatform
    from .runner.bundle import Bundle

TABLE_REFERENCE = re.compile(r"\b(?:FROM|JOIN)\s+`?([A-Za-z_]\w*)`?(?![\w.`])", re.IGNORECASE)
AGGREGATE = re.compile(
    r"^\s*(?:SUM|COUNT|COUNT_IF|AVG|MIN|MAX|MEDIAN|STDDEV|ANY_VALUE)\s*\(", re.IGNORECASE
)
CHART_TYPES = ("line", "bar")
SUPPORTED_WIDGETS = (*CHART_TYPES, "table")
MAX_TABLE_ROWS = 30
COMPARISONS: dict[str, Callable[[Any, Any], bool]] = {
    "GREATER_THAN": lambda a, b: a > b,
    "GREATER_THAN_OR_EQUAL": lambda a, b: a >= b,
    "LESS_THAN": lambda a, b: a < b,
    "LESS_THAN_OR_EQUAL": lambda a, b: a <= b,
    "EQUAL": lambda a, b: a == b,
    "NOT_EQUAL": lambda a, b: a != b,
}
AGGREGATIONS: dict[str, Callable[[pd.Series], Any]] = {
    "SUM": lambda s: s.sum(),
    "COUNT": lambda s: s.count(),
    "COUNT_DISTINCT": lambda s: s.nunique(),
    "AVG": lambda s: s.mean(),
    "MEDIAN": lambda s: s.median(),
    "MIN": lambda s: s.min(),
    "MAX": lambda s: s.max(),
    "STDDEV": lambda s: s.std(),
}


class ReportError(RunnerError):
    """The bundle has nothing to report on (no dashboard), or its dashboard is unreadable."""


@dataclass
class Panel:
    """One widget of the dashboard, computed locally."""

    name: str
    title: str
    kind: str
    width: int
    data: pd.DataFrame | None = None
    error: str = ""
    svg: str = ""
    text: str = ""

    @property
    def rows(self) -> int:
        return 0 if self.data is None else len(self.data)


@dataclass
class AlertResult:
    """One alert's local evaluation: TRIGGERED, OK or ERROR."""

    key: str
    display_name: str
    state: str
    value: Any = None
    detail: str = ""
    notify: list[str] = field(default_factory=list)

    def line(self) -> str:
        shown = "" if self.value is None else f" value={self.value}"
        who = f"; on Databricks it notifies {', '.join(self.notify)}" if self.notify else ""
        return f"{self.display_name!r}: {self.state}{shown} {self.detail}{who}".rstrip()


@dataclass
class Report:
    """Everything the HTML page shows."""

    title: str
    subtitle: str
    panels: list[Panel]
    alerts: list[AlertResult]
    notes: list[str]
    cards: list[tuple[str, Path]] = field(default_factory=list)


# --- the dashboard file ------------------------------------------------------------------------


def dashboard_files(bundle: Bundle) -> dict[str, Path]:
    """Each dashboard of the bundle and its ``.lvdash.json`` (resolved like the CLI does)."""
    found = {}
    for key, body in (bundle.resources.get("dashboards") or {}).items():
        path = Path(str((body or {}).get("file_path") or ""))
        if not path.is_file():
            raise ReportError(f"dashboard {key}: file_path {path} does not exist")
        found[key] = path
    return found


def require_dashboard(bundle: Bundle) -> dict[str, Path]:
    """The bundle's dashboard files, or a clear error when it has none."""
    files = dashboard_files(bundle)
    if not files:
        raise ReportError(
            "this bundle has no dashboard (resources.dashboards): generate the project with "
            "include_monitoring=yes"
        )
    return files


def dataset_sql(dataset: dict[str, Any]) -> str:
    """A dataset's query (``query`` or its ``queryLines`` joined)."""
    return str(dataset.get("query") or "".join(dataset.get("queryLines") or []))


def table_names(sql: str) -> set[str]:
    """Unqualified table names a query reads (``FROM x`` / ``JOIN x``)."""
    return set(TABLE_REFERENCE.findall(sql))


def widget_sql(query: dict[str, Any], source: str) -> str:
    """A widget's fields over its dataset: grouped by the non-aggregate fields unless the widget
    shows disaggregated rows (Lakeview's semantics)."""
    fields = query.get("fields") or []
    select = ", ".join(f"{f['expression']} AS `{f['name']}`" for f in fields)
    sql = f"SELECT {select} FROM ({source}) AS dataset"
    groups = [f["expression"] for f in fields if not AGGREGATE.match(f["expression"])]
    if not query.get("disaggregated") and groups and len(groups) < len(fields):
        sql += " GROUP BY " + ", ".join(groups)
    return sql


def widgets(dashboard: dict[str, Any]) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    """(widget, position) of every page, top to bottom, left to right."""
    for page in dashboard.get("pages") or []:
        layout = sorted(
            page.get("layout") or [],
            key=lambda item: (item["position"].get("y", 0), item["position"].get("x", 0)),
        )
        for item in layout:
            yield item.get("widget") or {}, item.get("position") or {}


# --- local tables as views -------------------------------------------------------------------


class LocalViews:
    """Temporary views of the schema's local tables, named by table (dropped on exit)."""

    def __init__(self, platform: LocalPlatform, prefix: str) -> None:
        self.platform = platform
        self.prefix = prefix
        self.created: list[str] = []

    def __enter__(self) -> LocalViews:
        return self

    def __exit__(self, *exc: object) -> None:
        for name in self.created:
            self.platform.spark.catalog.dropTempView(name)

    def register(self, names: set[str]) -> list[str]:
        """Create a view for each name that is a local table; return the other names (missing
        tables, or words that only look like one, as in ``EXTRACT(HOUR FROM col)``)."""
        missing = []
        for name in sorted(names - set(self.created)):
            full = f"{self.prefix}.{name}"
            if not self.platform.table_exists(full):
                missing.append(name)
                continue
            self.platform.read_table(full).createOrReplaceTempView(name)
            self.created.append(name)
        return missing

    def query(self, sql: str) -> pd.DataFrame:
        """Run ``sql`` (tables of the schema by plain name, or fully qualified) locally."""
        catalog, schema = self.prefix.split(".")
        for qualified in (f"`{catalog}`.`{schema}`.", f"{catalog}.{schema}."):
            sql = sql.replace(qualified, "")
        missing = self.register(table_names(sql))
        try:
            return self.platform.spark.sql(sql).toPandas()
        except Exception as exc:
            if missing:  # most likely why: say which table is not there yet
                raise LookupError(
                    f"no local table {', '.join(missing)} in {self.prefix} yet"
                ) from exc
            raise


# --- panels ------------------------------------------------------------------------------------


def build_panels(dashboard: dict[str, Any], views: LocalViews) -> list[Panel]:
    """Every widget of the dashboard with its data and, for charts, the drawing."""
    sources = {d["name"]: dataset_sql(d) for d in dashboard.get("datasets") or []}
    panels = []
    for widget, position in widgets(dashboard):
        width = int(position.get("width", 6))
        if "textbox_spec" in widget:
            panels.append(
                Panel(widget.get("name", ""), "", "text", width, text=widget["textbox_spec"])
            )
            continue
        spec = widget.get("spec") or {}
        kind = str(spec.get("widgetType", "?"))
        title = str((spec.get("frame") or {}).get("title") or widget.get("name", ""))
        panel = Panel(widget.get("name", ""), title, kind, width)
        panels.append(panel)
        if kind not in SUPPORTED_WIDGETS:
            panel.error = f"widget type {kind!r} is not drawn locally"
            continue
        query = (widget.get("queries") or [{}])[0].get("query") or {}
        try:
            panel.data = views.query(widget_sql(query, sources[query.get("datasetName")]))
        except Exception as exc:  # a failing query is shown on its panel, like Lakeview does
            panel.error = _short_error(exc)
            continue
        if kind in CHART_TYPES and panel.rows:
            panel.svg = chart_svg(kind, spec.get("encodings") or {}, panel.data, width)
    return panels


def _short_error(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}"


def chart_svg(kind: str, encodings: dict[str, Any], data: pd.DataFrame, width: int = 6) -> str:
    """A line or bar chart of the widget's x, y and (optional) color fields, as SVG, sized to
    the panel's share of the six-column grid. A series named ``threshold`` is drawn dashed."""
    x = encodings["x"]["fieldName"]
    y = encodings["y"]["fieldName"]
    color = (encodings.get("color") or {}).get("fieldName")
    frame = data.copy()
    temporal = (encodings["x"].get("scale") or {}).get("type") == "temporal"
    if temporal:
        frame[x] = pd.to_datetime(frame[x])
        if frame[x].nunique() < 3:  # a time axis around one or two points spans years
            frame[x] = frame[x].dt.strftime("%Y-%m-%d %H:%M")
            temporal = False
    if not temporal:
        frame[x] = frame[x].astype(str)
    frame = frame.sort_values(x)
    figure = Figure(figsize=(2.2 * width, 3.4))
    ax = figure.subplots()
    groups = list(frame.groupby(color, sort=True)) if color else [("", frame)]
    if kind == "line":
        for label, part in groups:
            style = {"color": "black", "linestyle": "--"} if label == "threshold" else {}
            ax.plot(part[x], part[y], marker="o", label=str(label), **style)
    else:
        if color:
            table = frame.pivot_table(index=x, columns=color, values=y, aggfunc="sum", fill_value=0)
        else:
            table = frame.set_index(x)[[y]]
        bottom = None
        positions = list(range(len(table.index)))
        for column in table.columns:
            values = table[column].to_numpy(dtype=float)
            ax.bar(positions, values, bottom=bottom, label=str(column))
            bottom = values if bottom is None else bottom + values
        labels = [v.strftime("%Y-%m-%d") if temporal else str(v) for v in table.index]
        step = max(1, math.ceil(len(labels) / (4 * width)))
        slanted = max((len(label) for label in labels), default=0) > 4  # dates, long names
        ax.set_xticks(
            positions[::step],
            labels[::step],
            rotation=30 if slanted else 0,
            ha="right" if slanted else "center",
        )
    ax.set_xlabel(encodings["x"].get("displayName", x))
    ax.set_ylabel(encodings["y"].get("displayName", y))
    ax.tick_params(labelsize=8)
    values = pd.to_numeric(frame[y], errors="coerce").dropna()
    if not values.empty and (values % 1 == 0).all():  # versions, counts: no 1.2 ticks
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    if color:
        ax.legend(
            fontsize=7, title=color, title_fontsize=7, loc="upper left", bbox_to_anchor=(1, 1)
        )
    if temporal and kind == "line":
        figure.autofmt_xdate()
    figure.tight_layout()
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg")
    svg = buffer.getvalue()
    return svg[svg.index("<svg") :]


# --- alerts ------------------------------------------------------------------------------------


def evaluate_alert(key: str, alert: dict[str, Any], views: LocalViews) -> AlertResult:
    """Run the alert's query locally and compare as Databricks SQL alerts (v2) do."""
    evaluation = alert.get("evaluation") or {}
    source = evaluation.get("source") or {}
    subscriptions = (evaluation.get("notification") or {}).get("subscriptions") or []
    notify = [s.get("user_email") or s.get("destination_id") for s in subscriptions]
    result = AlertResult(key, str(alert.get("display_name", key)), "ERROR", notify=notify)
    try:
        rows = views.query(str(alert.get("query_text", "")))
    except Exception as exc:
        result.detail = _short_error(exc)
        return result
    if rows.empty:
        result.state = str(evaluation.get("empty_result_state") or "OK")
        result.detail = "(no rows)"
        return result
    column = rows[source["name"]]
    aggregation = source.get("aggregation")
    value = AGGREGATIONS[aggregation](column) if aggregation else column.iloc[0]
    threshold = evaluation.get("threshold") or {}
    if "column" in threshold:
        limit = rows[threshold["column"]["name"]].iloc[0]
    else:
        limit = next(iter((threshold.get("value") or {}).values()), None)
    operator = str(evaluation.get("comparison_operator"))
    if operator == "IS_NULL":
        triggered = pd.isna(value)
    elif operator == "IS_NOT_NULL":
        triggered = not pd.isna(value)
    else:
        triggered = COMPARISONS[operator](value, limit)
    result.value = value.item() if hasattr(value, "item") else value
    result.state = "TRIGGERED" if triggered else "OK"
    extra = {c: rows[c].iloc[0] for c in rows.columns if c != source["name"]}
    shown = ", ".join(f"{k}={v}" for k, v in extra.items() if v not in (None, ""))
    result.detail = f"({operator} {limit}{'; ' + shown if shown else ''})"
    return result


def evaluate_alerts(
    bundle: Bundle, platform: LocalPlatform, prefix: str, out: Callable[[str], None] = print
) -> list[AlertResult]:
    """Evaluate every alert of the bundle; print each, record them in ``alerts.jsonl``."""
    alerts = bundle.resources.get("alerts") or {}
    if not alerts:
        return []
    with LocalViews(platform, prefix) as views:
        results = [evaluate_alert(key, body or {}, views) for key, body in alerts.items()]
    log = platform.state / "alerts.jsonl"
    with log.open("a") as handle:
        for result in results:
            out(("ALERT " if result.state == "TRIGGERED" else "alert ") + result.line())
            record = {"evaluated_at": datetime.now(UTC).isoformat(), **result.__dict__}
            handle.write(json.dumps(record, default=str) + "\n")
    return results


# --- the page ----------------------------------------------------------------------------------


def build_report(bundle: Bundle, platform: LocalPlatform, prefix: str) -> Report:
    """Panels of every dashboard of the bundle, its alerts, and what only Databricks has."""
    files = require_dashboard(bundle)
    dashboards = {}
    for key, path in files.items():
        try:
            dashboards[key] = json.loads(path.read_text())
        except json.JSONDecodeError as exc:
            raise ReportError(f"{path} is not valid JSON: {exc}") from exc
    read = {
        name
        for dashboard in dashboards.values()
        for dataset in dashboard.get("datasets") or []
        for name in table_names(dataset_sql(dataset))
    }
    if not any(platform.table_exists(f"{prefix}.{name}") for name in read):
        raise ReportError(
            f"no monitoring tables in {prefix} yet: run "
            f"`python -m {__package__} demo`, or the training, batch "
            "inference and monitoring jobs, first"
        )
    panels: list[Panel] = []
    with LocalViews(platform, prefix) as views:
        for dashboard in dashboards.values():
            panels += build_panels(dashboard, views)
    alerts = evaluate_alerts(bundle, platform, prefix)
    mlflow_db = platform.state / "mlflow.db"
    notes = [
        f"MLflow runs and models: mlflow ui --backend-store-uri sqlite:///{mlflow_db}",
        *lakehouse_monitor_notes(bundle),
    ]
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    _, model_name = deployed_names(bundle)
    return Report(
        title=f"{bundle.name}: model monitoring (local)",
        subtitle=f"target {bundle.target}, tables of {prefix}, generated {stamp}",
        panels=panels,
        alerts=alerts,
        notes=notes,
        cards=model_cards(platform.state, model_name),
    )


def lakehouse_monitor_notes(bundle: Bundle) -> list[str]:
    """Where Lakehouse Monitoring runs: it is Databricks-only."""
    from .runner.bundle import read_bundle

    targets = (read_bundle(bundle.root).config.get("targets") or {}).items()
    with_monitor = [  # in the order databricks.yml defines the targets
        name
        for name, body in targets
        if ((body or {}).get("resources") or {}).get("quality_monitors")
        or (name == bundle.target and bundle.resources.get("quality_monitors"))
    ]
    if not with_monitor:
        return []
    *others, last = with_monitor
    where = f"{', '.join(others)} and {last}" if others else last
    return [
        "Lakehouse Monitoring (quality_monitors on inference_log) is Databricks-only: the bundle "
        f"deploys it in {where}; nothing of it runs locally."
    ]


def render_html(report: Report) -> str:
    """The report as one self-contained HTML page."""
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{html.escape(report.title)}</title>",
        f"<style>{STYLE}</style></head><body>",
        f"<h1>{html.escape(report.title)}</h1>",
        f'<p class="sub">{html.escape(report.subtitle)}</p>',
        '<div class="grid">',
    ]
    for panel in report.panels:
        parts.append(_panel_html(panel))
    parts.append("</div>")
    if report.alerts:
        parts.append("<h2>Alerts</h2><ul>")
        for alert in report.alerts:
            css = "triggered" if alert.state == "TRIGGERED" else "ok"
            parts.append(f'<li class="{css}">{html.escape(alert.line())}</li>')
        parts.append("</ul>")
    if report.cards:
        parts.append('<h2>Model cards</h2><ul class="cards">')
        parts += [
            f'<li><a href="{html.escape(path.as_uri())}">{html.escape(label)}</a></li>'
            for label, path in report.cards
        ]
        parts.append("</ul>")
    if report.notes:
        parts.append("<h2>Notes</h2><ul>")
        parts += [f"<li>{html.escape(note)}</li>" for note in report.notes]
        parts.append("</ul>")
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def _panel_html(panel: Panel) -> str:
    span = f'style="grid-column: span {max(1, min(6, panel.width))}"'
    if panel.kind == "text":
        return f'<section class="text" {span}>{_markdown(panel.text)}</section>'
    head = (
        f'<section class="panel" {span} data-widget="{html.escape(panel.name)}" '
        f'data-rows="{panel.rows}"><h3>{html.escape(panel.title)}</h3>'
    )
    if panel.error:
        body = f'<p class="error">{html.escape(panel.error)}</p>'
    elif not panel.rows:
        body = '<p class="empty">no data yet</p>'
    elif panel.svg:
        body = panel.svg
    else:
        shown = panel.data.head(MAX_TABLE_ROWS)
        shown = shown.astype(object).where(shown.notna(), "")  # no "None" or "NaN" cells
        body = shown.to_html(index=False, float_format=lambda v: f"{v:.4g}")
        if panel.rows > MAX_TABLE_ROWS:
            body += f'<p class="more">{panel.rows - MAX_TABLE_ROWS} more rows</p>'
    return f"{head}{body}</section>"


def _markdown(text: str) -> str:
    """The little Markdown a textbox uses: headings, paragraphs, inline code."""
    out = []
    for line in text.splitlines():
        escaped = re.sub(r"`([^`]+)`", r"<code>\1</code>", html.escape(line))
        level = len(line) - len(line.lstrip("#"))
        if level and line[level : level + 1] == " ":
            out.append(f"<h{level + 1}>{escaped[level + 1 :]}</h{level + 1}>")
        elif line.strip():
            out.append(f"<p>{escaped}</p>")
    return "\n".join(out)


STYLE = """
body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; margin: 24px;
       color: #1b3139; background: #f7f7f7; }
h1 { margin-bottom: 4px; } .sub { color: #5a6f77; margin-top: 0; }
.grid { display: grid; grid-template-columns: repeat(6, 1fr); gap: 16px; }
.panel, .text { background: white; border: 1px solid #dde3e6; border-radius: 6px; padding: 12px;
                overflow-x: auto; }
.panel h3 { font-size: 15px; margin: 0 0 8px 0; }
.panel svg { width: 100%; height: auto; }
table { border-collapse: collapse; font-size: 12px; }
th, td { border-bottom: 1px solid #e4e8ea; padding: 3px 8px; text-align: left; }
.error { color: #b3261e; } .empty, .more { color: #5a6f77; }
li.triggered { color: #b3261e; font-weight: 600; } li.ok { color: #2e7d32; }
code { background: #eef1f2; padding: 0 3px; border-radius: 3px; }
"""


def write_report(report: Report, path: Path) -> Path:
    """Write the page to ``path``; return it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_html(report))
    return path


def default_path(platform: LocalPlatform) -> Path:
    """``<state>/report/monitoring.html``."""
    return platform.state / "report" / "monitoring.html"


def make_report(
    bundle: Bundle, spark: SparkSession, state: Path, output: Path | None = None
) -> tuple[Path, Report]:
    """Build the report of ``bundle`` over the local state and write it; return (path, report)."""
    from .platform import LocalPlatform

    platform = LocalPlatform(spark, state=state)
    prefix, _ = deployed_names(bundle)
    report = build_report(bundle, platform, prefix)
    return write_report(report, output or default_path(platform)), report
