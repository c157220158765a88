"""The briefing of an enforcement operation: HTML (one self-contained file) or PDF.

Headline figures, the trend of seizures by commodity, breakdowns by means of transport and
concealment, the top routes, a map of the seizures and alerts over the region's border and
sectors, and the notable alerts (most severe first), with the time the data were extracted.
Charts are drawn once by matplotlib: inline SVG in the HTML (no script, no external file, so
it opens offline), PNG images in the PDF (ReportLab). Every string from the data is escaped for
where it goes: HTML by Jinja's autoescape, ReportLab paragraphs by XML escaping, and
matplotlib draws text with math parsing off (a ``$`` in a concealment stays a dollar).
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape as xml_escape

import matplotlib
import polars as pl
from jinja2 import Environment, select_autoescape

from geoint.alerts.rules import SEVERITIES
from geoint.atomic import write_bytes
from geoint.intel.operations import Operation, OperationItems
from geoint.intel.trends import breakdown, quantities, top_routes, trend_series
from geoint.layers import Region
from geoint.palette import COMMODITY_COLOURS, SEVERITY_COLOURS

matplotlib.use("Agg")  # no display: figures are only ever written to bytes

import matplotlib.pyplot as plt

REPORT_FORMATS = (".html", ".pdf")
NOT_GIVEN = "(not given)"
CHARTS = (
    ("trend", "Seizures per period, by commodity"),
    ("transport", "By means of transport"),
    ("concealment", "By concealment method"),
    ("routes", "Top routes (origin → destination)"),
    ("map", "Seizures and alerts"),
)


@dataclass
class Briefing:
    """What a report shows, gathered once for both formats."""

    operation: Operation
    extracted_at: datetime
    headline: list[tuple[str, str]]
    quantities: list[dict[str, Any]]
    period: str
    trend: pl.DataFrame
    transport: list[dict[str, Any]]
    concealment: list[dict[str, Any]]
    routes: list[dict[str, Any]]
    alerts: list[dict[str, Any]]
    items: OperationItems


def gather(
    operation: Operation, items: OperationItems, top_routes_count: int, notable_alerts: int
) -> Briefing:
    """The briefing of `operation` over what it tags."""
    seizures = items.seizures
    days = (operation.end - operation.start).days
    period = "day" if days <= 31 else "week" if days <= 184 else "month"
    rank = {s: i for i, s in enumerate(SEVERITIES)}
    alerts = (
        items.alerts.with_columns(rank=pl.col("severity").replace_strict(rank, default=len(rank)))
        .sort(["rank", "event_time"], descending=[False, True])
        .head(notable_alerts)
        .drop("rank")
    )
    by_severity = dict(items.alerts.group_by("severity").len().iter_rows())
    severities = ", ".join(f"{by_severity[s]} {s}" for s in SEVERITIES if s in by_severity)
    headline = [
        ("Window", f"{_when(operation.start)} – {_when(operation.end)}"),
        ("Scope", _scope(operation)),
        ("Seizures", f"{seizures.height:,}"),
        ("Track events", f"{items.events.height:,}"),
        ("Alerts", f"{items.alerts.height:,}" + (f" ({severities})" if severities else "")),
        ("Vehicles involved", f"{seizures['vehicle_id'].drop_nulls().n_unique():,}"),
    ]
    return Briefing(
        operation=operation,
        extracted_at=datetime.now(UTC),
        headline=headline,
        quantities=quantities(seizures),
        period=period,
        trend=trend_series(seizures, "commodity", period),
        transport=breakdown(seizures, "transport_mode"),
        concealment=breakdown(seizures, "concealment"),
        routes=top_routes(seizures, top_routes_count),
        alerts=alerts.to_dicts(),
        items=items,
    )


def write_report(briefing: Briefing, region: Region | None, path: Path) -> dict[str, Any]:
    """Write the briefing as HTML or PDF (by `path`'s suffix); return what was written."""
    suffix = Path(path).suffix.lower()
    if suffix not in REPORT_FORMATS:
        raise ValueError(f"--out: expected a .html or .pdf file, got {str(path)!r}")
    # text stays text in the SVG (not glyph paths), and a "$" in the data is no math
    with plt.rc_context({"text.parse_math": False, "font.size": 9, "svg.fonttype": "none"}):
        figures = _figures(briefing, region)
        try:
            if suffix == ".html":
                data = _html(briefing, {name: _svg(figure) for name, figure in figures.items()})
            else:
                data = _pdf(briefing, {name: _png(figure) for name, figure in figures.items()})
        finally:
            for figure in figures.values():
                plt.close(figure)
    write_bytes(data, Path(path))
    return {"file": str(path), "bytes": len(data), "charts": len(figures)}


# ------------------------------------------------------------------------- charts
def _figures(briefing: Briefing, region: Region | None) -> dict[str, Any]:
    return {
        "trend": _trend_figure(briefing.trend, briefing.period),
        "transport": _bars(briefing.transport, "seizures"),
        "concealment": _bars(briefing.concealment, "seizures"),
        "routes": _bars(
            [
                {
                    "key": f"{_label(r['origin'])} → {_label(r['destination'])}",
                    "count": r["count"],
                }
                for r in briefing.routes
            ],
            "seizures",
        ),
        "map": _map_figure(briefing.items, region),
    }


def _trend_figure(trend: pl.DataFrame, period: str) -> Any:
    figure, axes = plt.subplots(figsize=(7.5, 2.8))
    if trend.height:
        table = trend.pivot(on="key", index="period", values="count").fill_null(0).sort("period")
        bottom = [0] * table.height
        for key in table.columns[1:]:
            counts = table[key].to_list()
            colour = COMMODITY_COLOURS.get(key, "#999999")
            axes.bar(
                table["period"].to_list(), counts, bottom=bottom, label=_label(key), color=colour
            )
            bottom = [b + c for b, c in zip(bottom, counts, strict=True)]
        axes.legend(fontsize=7, ncols=2, loc="upper left", bbox_to_anchor=(1.0, 1.0))
        axes.tick_params(axis="x", labelrotation=45)
    else:
        axes.text(0.5, 0.5, "no seizures in the window", ha="center", transform=axes.transAxes)
    axes.set_xlabel(f"{period} starting")
    axes.set_ylabel("seizures")
    figure.tight_layout()
    return figure


def _bars(rows: list[dict[str, Any]], xlabel: str) -> Any:
    figure, axes = plt.subplots(figsize=(3.6, 0.4 + 0.25 * max(len(rows), 2)))
    labels = [_short(_label(r["key"])) for r in rows][::-1]
    axes.barh(labels, [r["count"] for r in rows][::-1], color="#4c72b0")
    axes.set_xlabel(xlabel)
    if not rows:
        axes.text(0.5, 0.5, "none", ha="center", transform=axes.transAxes)
    figure.tight_layout()
    return figure


def _map_figure(items: OperationItems, region: Region | None) -> Any:
    figure, axes = plt.subplots(figsize=(5.0, 5.0))
    if region is not None:
        region.read("sectors").boundary.plot(ax=axes, color="#bbbbbb", linewidth=0.6)
        region.read("border").plot(ax=axes, color="#444444", linewidth=1.0)
    seizures = items.seizures
    for commodity in seizures["commodity"].unique(maintain_order=True).to_list():
        rows = seizures.filter(pl.col("commodity").eq_missing(commodity))
        axes.scatter(rows["lon"], rows["lat"], s=18, label=_label(commodity),
                     color=COMMODITY_COLOURS.get(commodity, "#999999"))  # fmt: skip
    for severity in SEVERITIES:
        rows = items.alerts.filter(pl.col("severity") == severity)
        if rows.height:
            axes.scatter(rows["lon"], rows["lat"], s=30, marker="^", label=f"alert: {severity}",
                         facecolors="none", edgecolors=SEVERITY_COLOURS[severity])  # fmt: skip
    points = pl.concat([seizures.select("lat", "lon"), items.alerts.select("lat", "lon")])
    if points.height:
        pad = 0.3
        axes.set_xlim(points["lon"].min() - pad, points["lon"].max() + pad)
        axes.set_ylim(points["lat"].min() - pad, points["lat"].max() + pad)
        axes.legend(fontsize=6, loc="best")
    axes.set_aspect("equal")
    axes.set_xlabel("longitude")
    axes.set_ylabel("latitude")
    figure.tight_layout()
    return figure


def _svg(figure: Any) -> str:
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg", metadata={"Date": None})
    text = buffer.getvalue()
    return text[text.index("<svg") :]  # drop the XML prolog and doctype: inline in HTML


def _png(figure: Any) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=150)
    return buffer.getvalue()


# --------------------------------------------------------------------------- HTML
_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy"
 content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
<title>Operation {{ op.name }}: briefing</title>
<style>
body { font: 13px/1.45 sans-serif; margin: 24px auto; max-width: 1000px; color: #222; }
h1 { font-size: 22px; margin-bottom: 2px; } h2 { font-size: 16px; margin-top: 22px; }
.extracted { color: #555; }
table { border-collapse: collapse; margin: 6px 0; }
th, td { border-bottom: 1px solid #ddd; padding: 3px 10px 3px 0; text-align: left;
  vertical-align: top; }
td.n { text-align: right; }
.charts { display: flex; flex-wrap: wrap; gap: 16px; }
figure { margin: 0; } figcaption { font-weight: bold; }
figure svg { max-width: 100%; height: auto; }
.explanation { white-space: pre-wrap; max-width: 480px; }
</style></head><body>
<h1>Operation {{ op.name }}</h1>
<p class="extracted">Briefing on the data extracted at {{ extracted }} (UTC).</p>
<h2>Headline figures</h2>
<table>{% for k, v in headline %}<tr><th>{{ k }}</th><td>{{ v }}</td></tr>{% endfor %}</table>
{% if quantities %}<table><tr><th>commodity</th><th>seizures</th><th>quantity</th></tr>
{% for q in quantities %}<tr><td>{{ q.commodity or "(not given)" }}</td>
<td class="n">{{ q.count }}</td><td class="n">{{ "{:,.1f}".format(q.quantity) }}
{{ q.unit or "" }}</td></tr>{% endfor %}</table>{% endif %}
<h2>Trends and breakdowns</h2>
<div class="charts">{% for name, title in charts %}
<figure><figcaption>{{ title }}</figcaption>{{ svgs[name]|safe }}</figure>{% endfor %}</div>
<h2>Notable alerts</h2>
{% if alerts %}<table><tr><th>id</th><th>severity</th><th>time</th><th>title</th>
<th>explanation</th><th>status</th></tr>
{% for a in alerts %}<tr><td>{{ a.id }}</td><td>{{ a.severity }}</td>
<td>{{ when(a.event_time) }}</td><td>{{ a.title }}</td>
<td class="explanation">{{ a.explanation }}</td><td>{{ a.status }}</td></tr>{% endfor %}
</table>{% else %}<p>No alert in the window and scope.</p>{% endif %}
</body></html>
"""
_ENV = Environment(autoescape=select_autoescape(default=True, default_for_string=True))


def _html(briefing: Briefing, svgs: dict[str, str]) -> bytes:
    """The page: matplotlib's SVG is markup we made (its text is escaped by matplotlib)."""
    return (
        _ENV.from_string(_PAGE)
        .render(
            op=briefing.operation,
            extracted=_when(briefing.extracted_at),
            headline=briefing.headline,
            quantities=briefing.quantities,
            charts=CHARTS,
            svgs=svgs,
            alerts=briefing.alerts,
            when=_when,
        )
        .encode()
    )


# ---------------------------------------------------------------------------- PDF
def _pdf(briefing: Briefing, pngs: dict[str, bytes]) -> bytes:
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import getSampleStyleSheet
    from reportlab.lib.units import cm
    from reportlab.platypus import Image, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

    styles = getSampleStyleSheet()

    def text(value: object, style: str = "BodyText") -> Paragraph:
        return Paragraph(xml_escape(_label(value) if value is not None else ""), styles[style])

    def image(name: str, width_cm: float) -> Image:
        picture = Image(io.BytesIO(pngs[name]))
        scale = width_cm * cm / picture.imageWidth
        picture.drawWidth, picture.drawHeight = width_cm * cm, picture.imageHeight * scale
        return picture

    grid = TableStyle([("GRID", (0, 0), (-1, -1), 0.25, colors.grey),
                       ("VALIGN", (0, 0), (-1, -1), "TOP")])  # fmt: skip
    op = briefing.operation
    story: list[Any] = [
        text(f"Operation {op.name}", "Title"),
        text(f"Briefing on the data extracted at {_when(briefing.extracted_at)} (UTC)."),
        text("Headline figures", "Heading2"),
        Table(
            [[text(k), text(v)] for k, v in briefing.headline],
            colWidths=[4 * cm, 12 * cm],
            style=grid,
        ),
    ]
    if briefing.quantities:
        rows = [[text("commodity"), text("seizures"), text("quantity")]] + [
            [
                text(q["commodity"]),
                text(q["count"]),
                text(f"{q['quantity']:,.1f} {q['unit'] or ''}"),
            ]
            for q in briefing.quantities
        ]
        story += [Spacer(1, 6), Table(rows, colWidths=[5 * cm, 3 * cm, 5 * cm], style=grid)]
    story += [text(CHARTS[0][1], "Heading2"), image("trend", 17)]
    for name, title in CHARTS[1:4]:
        story += [text(title, "Heading2"), image(name, 10)]
    story += [text(CHARTS[4][1], "Heading2"), image("map", 12), text("Notable alerts", "Heading2")]
    if briefing.alerts:
        rows = [[text(h) for h in ("id", "severity", "time", "title", "explanation")]] + [
            [
                text(a["id"]),
                text(a["severity"]),
                text(_when(a["event_time"])),
                text(a["title"]),
                text(a["explanation"]),
            ]
            for a in briefing.alerts
        ]
        widths = [1.2 * cm, 2 * cm, 3 * cm, 4.5 * cm, 7 * cm]
        story.append(Table(rows, colWidths=widths, style=grid, repeatRows=1))
    else:
        story.append(text("No alert in the window and scope."))
    buffer = io.BytesIO()
    document = SimpleDocTemplate(
        buffer, pagesize=A4, title=f"Operation {op.name}", author="geoint",
        leftMargin=1.5 * cm, rightMargin=1.5 * cm, topMargin=1.5 * cm, bottomMargin=1.5 * cm,
    )  # fmt: skip
    document.build(story)
    return buffer.getvalue()


def _when(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M")


def _label(value: object) -> str:
    return NOT_GIVEN if value is None else str(value)


def _short(text: str, length: int = 48) -> str:
    """A chart label: at most `length` characters."""
    return text if len(text) <= length else text[: length - 1] + "…"


def _scope(operation: Operation) -> str:
    commodities = ", ".join(operation.commodities) or "every commodity"
    sectors = ", ".join(operation.sectors) or "every sector"
    return f"{commodities}; {sectors}"
