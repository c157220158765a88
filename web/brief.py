"""Patrol briefs on paper (docs/patrol.md, "On paper"): one page per team, PDF or HTML.

A brief is laid out from a plan (the JSON of ``geoint patrol plan --json``) and the region's
layers: a route map drawn with matplotlib (no tiles: the two sides, border, rivers, roads, named
places, the team's route, its numbered stops and the base, with a scale bar and lat/lon ticks),
the team's times and distance, the stop table (arrival and departure in local time, leg km and
minutes, what to look for, blank columns for minutes searched and the outcome, which the debrief
takes back) and radio/contact fields left blank. `brief_pdf` writes it with ReportLab,
`brief_html` as one self-contained file (the maps inlined as PNG); both work offline.

Every string from the plan or the layers is escaped for where it is shown: HTML, ReportLab's
paragraph markup, and matplotlib's mathtext (a ``$`` in a place name would start a formula).
"""

from __future__ import annotations

import base64
import html
import io
from dataclasses import dataclass
from datetime import datetime
from typing import Literal
from xml.sax.saxutils import escape as xml_escape

import geopandas as gpd
import numpy as np
from matplotlib import font_manager
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from geoint.errors import GeointError
from geoint.geodesy import haversine_m
from geoint.layers.region import Region
from geoint.palette import PATROL_COLOURS
from geoint.times import clock_label

Language = Literal["en", "fr"]

LABELS: dict[str, dict[str, str]] = {
    "en": {
        "title": "Patrol brief",
        "team": "Team {team}",
        "shift": "Shift",
        "base": "Base",
        "leaves": "Leaves",
        "back": "Back at base",
        "distance": "Distance",
        "stops": "Stops",
        "risk": "Risk",
        "last_leg": "last leg {km} km, {min} min",
        "number": "#",
        "arrive": "Arrive",
        "depart": "Depart",
        "leg": "Leg km / min",
        "position": "Position",
        "look_for": "What to look for",
        "minutes": "Min searched",
        "outcome": "Outcome (nothing / seizure id)",
        "radio": "Radio and contacts",
        "leader": "Team leader",
        "call_sign": "Call sign",
        "channel": "Radio channel / frequency",
        "command": "Command post",
        "vehicle": "Vehicle",
        "crew": "Crew",
        "signature": "Signature",
        "legend_border": "Border",
        "legend_road": "Road",
        "legend_track": "Track",
        "legend_river": "River",
        "legend_route": "Route",
        "legend_stop": "Stop (number)",
        "footer": "Times are local ({timezone}). Debrief: for each stop, the minutes searched and "
        "the outcome (nothing, or the seizure id); the stop numbers are the plan's {example}.",
    },
    "fr": {
        "title": "Fiche de patrouille",
        "team": "Équipe {team}",
        "shift": "Vacation",
        "base": "Base",
        "leaves": "Départ",
        "back": "Retour à la base",
        "distance": "Distance",
        "stops": "Arrêts",
        "risk": "Risque",
        "last_leg": "dernier trajet {km} km, {min} min",
        "number": "N°",
        "arrive": "Arrivée",
        "depart": "Départ",
        "leg": "Trajet km / min",
        "position": "Position",
        "look_for": "À rechercher",
        "minutes": "Min de fouille",
        "outcome": "Résultat (rien / n° de saisie)",
        "radio": "Radio et contacts",
        "leader": "Chef d'équipe",
        "call_sign": "Indicatif",
        "channel": "Canal / fréquence radio",
        "command": "Poste de commandement",
        "vehicle": "Véhicule",
        "crew": "Équipage",
        "signature": "Signature",
        "legend_border": "Frontière",
        "legend_road": "Route",
        "legend_track": "Piste",
        "legend_river": "Cours d'eau",
        "legend_route": "Itinéraire",
        "legend_stop": "Arrêt (numéro)",
        "footer": "Heures locales ({timezone}). Compte rendu : pour chaque arrêt, les minutes "
        "de fouille et le résultat (rien, ou le n° de saisie) ; les numéros d'arrêt sont "
        "ceux du plan ({example}).",
    },
}
CONTACT_FIELDS = ("leader", "call_sign", "channel", "command", "vehicle", "crew", "signature")
_MAJOR_ROADS = ("motorway", "trunk", "primary")
_SIDE_FILLS = ("#f3efe4", "#e6edf3")
_MAP_SIZE_IN = (7.4, 4.3)
_MAP_DPI = 160
_AXES = (0.06, 0.06, 0.92, 0.92)  # left, bottom, width, height of the map in its figure


class BriefBase(BaseModel):
    """The teams' base."""

    lat: float
    lon: float


class BriefStop(BaseModel):
    """A stop as the plan JSON gives it (times are local, with their offset)."""

    model_config = ConfigDict(extra="ignore")
    stop: str
    lat: float
    lon: float
    arrive: datetime
    depart: datetime
    leg_km: float
    leg_min: float
    risk: float
    cells: list[str] = Field(default_factory=list)
    look_for: str = ""
    look_for_fr: str = ""
    reason: str = ""


class BriefTeam(BaseModel):
    """A team's times, distance, route ([lon, lat]) and stops."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)
    team: int
    depart: datetime
    back: datetime = Field(alias="return")
    distance_km: float
    collected_risk: float
    return_leg_km: float = 0.0
    return_leg_min: float = 0.0
    route: list[tuple[float, float]] = Field(default_factory=list)
    waypoints: list[BriefStop]


class BriefPlan(BaseModel):
    """The fields of a plan (``geoint patrol plan --json``) that a brief shows."""

    model_config = ConfigDict(extra="ignore")
    start: datetime
    timezone: str
    base: BriefBase
    teams: list[BriefTeam] = Field(min_length=1)


def read_brief_plan(data: bytes, source: str) -> BriefPlan:
    """The plan in `data` (JSON), or a one-line error naming `source` and the first bad field."""
    try:
        return BriefPlan.model_validate_json(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(part) for part in first["loc"]) or "(the document)"
        raise GeointError(
            f"{source}: {field}: {first['msg']} (expected the JSON of geoint patrol plan --json)"
        ) from None


@dataclass(frozen=True)
class MapLayers:
    """The region's layers a route map draws, in WGS84 (any may be empty)."""

    sides: gpd.GeoDataFrame
    border: gpd.GeoDataFrame
    roads: gpd.GeoDataFrame
    rivers: gpd.GeoDataFrame
    places: gpd.GeoDataFrame

    @classmethod
    def of(cls, region: Region) -> MapLayers:
        """Read the layers once for every team's map."""

        def read(kind: str) -> gpd.GeoDataFrame:
            if not region.files(kind):
                return gpd.GeoDataFrame(geometry=[], crs=4326)
            return region.read(kind).to_crs(4326)

        return cls(*(read(k) for k in ("sides", "border", "roads", "rivers", "places")))


@dataclass(frozen=True)
class TeamPage:
    """One team's page, as text ready to be escaped by the renderer, and its map."""

    heading: str
    summary: list[tuple[str, str]]
    rows: list[list[str]]
    footer: str
    map_png: bytes


def team_pages(plan: BriefPlan, layers: MapLayers, lang: Language) -> list[TeamPage]:
    """Every team's page: heading, summary, stop rows and route map."""
    words = LABELS[lang]
    first = plan.start
    pages = []
    for index, team in enumerate(plan.teams):
        colour = PATROL_COLOURS[index % len(PATROL_COLOURS)]
        last = words["last_leg"].format(
            km=f"{team.return_leg_km:.1f}", min=f"{team.return_leg_min:.0f}"
        )
        summary = [
            (words["shift"], f"{first:%Y-%m-%d %H:%M} ({plan.timezone})"),
            (words["base"], f"{plan.base.lat:.5f}, {plan.base.lon:.5f}"),
            (words["leaves"], clock_label(team.depart, first)),
            (words["back"], f"{clock_label(team.back, first)} ({last})"),
            (words["distance"], f"{team.distance_km:.1f} km"),
            (words["stops"], str(len(team.waypoints))),
            (words["risk"], f"{team.collected_risk:.1f}"),
        ]
        rows = [
            [
                w.stop,
                clock_label(w.arrive, first),
                clock_label(w.depart, first),
                f"{w.leg_km:.1f} / {w.leg_min:.0f}",
                f"{w.lat:.5f}, {w.lon:.5f}",
                (w.look_for_fr if lang == "fr" else "") or w.look_for or w.reason,
            ]
            for w in team.waypoints
        ]
        example = team.waypoints[0].stop if team.waypoints else f"T{team.team}-01"
        pages.append(
            TeamPage(
                heading=f"{words['title']} · {words['team'].format(team=team.team)}",
                summary=summary,
                rows=rows,
                footer=words["footer"].format(timezone=plan.timezone, example=example),
                map_png=route_map(plan, team, layers, colour, words),
            )
        )
    return pages


def route_map(
    plan: BriefPlan, team: BriefTeam, layers: MapLayers, colour: str, words: dict[str, str]
) -> bytes:
    """A PNG map of one team's route: layers, route, numbered stops, base, scale bar."""
    stops = np.array([[w.lon, w.lat] for w in team.waypoints]).reshape(-1, 2)
    base = np.array([[plan.base.lon, plan.base.lat]])
    line = np.array(team.route).reshape(-1, 2) if team.route else np.vstack([base, stops, base])
    west, south, east, north = _extent(np.vstack([line, stops, base]))
    figure = Figure(figsize=_MAP_SIZE_IN, dpi=_MAP_DPI)
    FigureCanvasAgg(figure)
    ax = figure.add_axes(_AXES)
    ax.set_facecolor("#dfeefa")  # whatever no side covers is sea or outside the region

    def clipped(frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
        return frame.cx[west:east, south:north] if len(frame) else frame

    for i, (_, side) in enumerate(clipped(layers.sides).iterrows()):
        gpd.GeoSeries([side.geometry]).plot(ax=ax, color=_SIDE_FILLS[i % 2], linewidth=0)
    rivers = clipped(layers.rivers)
    if len(rivers):
        rivers.plot(ax=ax, color="#5b9bd5", linewidth=0.6)
    roads = clipped(layers.roads)
    if len(roads):
        for classes, style in (
            (("track",), {"color": "#8d6e63", "linewidth": 0.5, "linestyle": "--"}),
            (("secondary", "tertiary"), {"color": "#9e9e9e", "linewidth": 0.8}),
            (_MAJOR_ROADS, {"color": "#e08a2c", "linewidth": 1.4}),
        ):
            part = roads[roads["class"].isin(classes)]
            if len(part):
                part.plot(ax=ax, **style)
    border = clipped(layers.border)
    if len(border):
        border.plot(ax=ax, color="#000000", linewidth=1.6, linestyle="-.")
    _draw_places(ax, clipped(layers.places))
    ax.plot(line[:, 0], line[:, 1], color=colour, linewidth=2.2, alpha=0.9, zorder=5)
    ax.scatter(stops[:, 0], stops[:, 1], s=150, color=colour, edgecolor="white", zorder=6)
    for order, (x, y) in enumerate(stops, 1):
        ax.text(x, y, str(order), ha="center", va="center", fontsize=6.5, color="white",
                fontweight="bold", zorder=7)  # fmt: skip
    ax.scatter(base[:, 0], base[:, 1], s=170, marker="s", color="#222222", zorder=6)
    ax.text(*base[0], "B", ha="center", va="center", fontsize=7, color="white", zorder=7)
    ax.set_xlim(west, east)
    ax.set_ylim(south, north)
    ax.set_aspect(1 / np.cos(np.radians((south + north) / 2)))
    ax.tick_params(labelsize=6)
    ax.set_xlabel("")
    ax.set_ylabel("")
    ax.grid(color="#ffffff", linewidth=0.4, linestyle=":")
    _scale_bar(ax, west, south, east, north)
    _legend(ax, colour, words)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=_MAP_DPI)
    return buffer.getvalue()


def _extent(points: np.ndarray) -> tuple[float, float, float, float]:
    """West, south, east, north around `points` with a margin, at least ~10 km across, widened
    to the map's shape so the route fills the picture."""
    (west, south), (east, north) = points.min(axis=0), points.max(axis=0)
    half_x = max((east - west) * 0.54, 0.05)
    half_y = max((north - south) * 0.54, 0.05)
    mid_x, mid_y = (west + east) / 2, (south + north) / 2
    stretch = np.cos(np.radians(mid_y))  # ground km per degree of longitude vs latitude
    shape = _AXES[2] * _MAP_SIZE_IN[0] / (_AXES[3] * _MAP_SIZE_IN[1])  # width / height
    if half_x * stretch / half_y < shape:
        half_x = half_y * shape / stretch
    else:
        half_y = half_x * stretch / shape
    return mid_x - half_x, mid_y - half_y, mid_x + half_x, mid_y + half_y


def _draw_places(ax: Axes, places: gpd.GeoDataFrame) -> None:
    """Named places as dots with their names (plain text: no mathtext)."""
    if not len(places) or "name" not in places:
        return
    named = places[places["name"].notna()]
    points = named.geometry.representative_point()
    ax.scatter(points.x, points.y, s=6, color="#333333", zorder=4)
    for x, y, name in zip(points.x, points.y, named["name"].astype(str), strict=True):
        ax.text(x, y, f" {plain(name)}", fontsize=5.5, color="#333333", va="bottom", zorder=4,
                clip_on=True)  # fmt: skip


def _scale_bar(ax: Axes, west: float, south: float, east: float, north: float) -> None:
    """A bar of a round number of kilometres in the lower left corner."""
    mid = (south + north) / 2
    width_km = float(haversine_m(mid, west, mid, east)) / 1000
    length = (
        next(k for k in (100, 50, 20, 10, 5, 2, 1) if k <= width_km / 4) if width_km >= 4 else 1
    )
    x0 = west + (east - west) * 0.04
    y0 = south + (north - south) * 0.05
    x1 = x0 + (east - west) * length / width_km
    ax.plot([x0, x1], [y0, y0], color="#000000", linewidth=2.5, zorder=8)
    ax.text((x0 + x1) / 2, y0, f"{length} km\n", ha="center", va="bottom", fontsize=6, zorder=8)


def _legend(ax: Axes, colour: str, words: dict[str, str]) -> None:
    """What the lines and marks of the map are, in the brief's language."""
    handles = [
        Line2D(
            [], [], color="#000000", linewidth=1.6, linestyle="-.", label=words["legend_border"]
        ),
        Line2D([], [], color="#e08a2c", linewidth=1.4, label=words["legend_road"]),
        Line2D([], [], color="#8d6e63", linewidth=0.8, linestyle="--", label=words["legend_track"]),
        Line2D([], [], color="#5b9bd5", linewidth=0.8, label=words["legend_river"]),
        Line2D([], [], color=colour, linewidth=2.2, label=words["legend_route"]),
        Line2D([], [], color=colour, marker="o", linestyle="", label=words["legend_stop"]),
        Line2D([], [], color="#222222", marker="s", linestyle="", label=f"B: {words['base']}"),
    ]
    ax.legend(handles=handles, loc="best", fontsize=5.5, framealpha=0.85)


def plain(text: str) -> str:
    """`text` for matplotlib: a ``$`` shown as a dollar sign, never starting mathtext."""
    return text.replace("$", r"\$")


# ---------------------------------------------------------------------------------- HTML
_CSS = """
@page { size: A4 landscape; margin: 10mm; }
body { font-family: "DejaVu Sans", Arial, sans-serif; font-size: 7.5pt; margin: 0; }
section.team { break-after: page; }
section.team:last-child { break-after: auto; }
h1 { font-size: 12pt; margin: 0 0 2mm; }
h2 { font-size: 9pt; margin: 2mm 0 1mm; }
.top { display: flex; gap: 4mm; }
.top img { width: 160mm; height: auto; border: 1px solid #999; }
.side { flex: 1; }
table { border-collapse: collapse; width: 100%; }
td, th { border: 1px solid #888; padding: 0.8mm 1.2mm; vertical-align: top; text-align: left; }
th { background: #eee; }
.blank { width: 55%; height: 5mm; }
.stops { margin-top: 2mm; }
.stops td.look { width: 40%; }
.stops td.fill { width: 9%; }
p.footer { font-size: 6.5pt; color: #444; margin: 1mm 0 0; }
"""
# Printed height of the page's parts (mm, A4 landscape less margins): what a team's page holds
# at full size; a longer stop list is zoomed out so that the team still prints on one sheet.
_PAGE_MM, _FIXED_MM, _ROW_MM = 190.0, 125.0, 11.0


def brief_html(plan: BriefPlan, region: Region, lang: Language = "en") -> str:
    """The brief as one self-contained HTML page (maps inlined, no external request)."""
    words = LABELS[lang]
    sections = []
    for page in team_pages(plan, MapLayers.of(region), lang):
        image = base64.b64encode(page.map_png).decode()
        summary = "".join(
            f"<tr><th>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>" for k, v in page.summary
        )
        contacts = "".join(
            f'<tr><th>{html.escape(words[k])}</th><td class="blank"></td></tr>'
            for k in CONTACT_FIELDS
        )
        head = [words[k] for k in ("number", "arrive", "depart", "leg", "position", "look_for")]
        head += [words["minutes"], words["outcome"]]
        rows = "".join(
            "<tr>"
            + "".join(f"<td>{html.escape(c)}</td>" for c in row[:-1])
            + f'<td class="look">{html.escape(row[-1])}</td><td class="fill"></td>'
            + '<td class="fill"></td></tr>'
            for row in page.rows
        )
        sections.append(
            f'<section class="team" style="zoom: {_zoom(len(page.rows)):.3f}">'
            f'<h1>{html.escape(page.heading)}</h1><div class="top">'
            f'<img alt="{html.escape(page.heading)}" src="data:image/png;base64,{image}">'
            f'<div class="side"><table>{summary}</table><h2>{html.escape(words["radio"])}</h2>'
            f'<table>{contacts}</table></div></div><table class="stops"><tr>'
            + "".join(f"<th>{html.escape(h)}</th>" for h in head)
            + f'</tr>{rows}</table><p class="footer">{html.escape(page.footer)}</p></section>'
        )
    return (
        f'<!DOCTYPE html><html lang="{lang}"><head><meta charset="utf-8">'
        f"<title>{html.escape(words['title'])}</title><style>{_CSS}</style></head>"
        f"<body>{''.join(sections)}</body></html>"
    )


def _zoom(rows: int) -> float:
    """The CSS zoom that prints a page of `rows` stops on one sheet (1 when it fits)."""
    return min(1.0, _PAGE_MM / (_FIXED_MM + _ROW_MM * rows))


# ----------------------------------------------------------------------------------- PDF
def brief_pdf(plan: BriefPlan, region: Region, lang: Language = "en") -> bytes:
    """The brief as a PDF (ReportLab), exactly one A4 landscape page per team."""
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4, landscape
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.lib.units import mm
    from reportlab.platypus import (
        Image,
        KeepInFrame,
        PageBreak,
        Paragraph,
        SimpleDocTemplate,
        Table,
        TableStyle,
    )

    regular, bold = _fonts()
    words = LABELS[lang]
    size = landscape(A4)
    margin = 10 * mm
    frame_w, frame_h = size[0] - 2 * margin, size[1] - 2 * margin
    text = ParagraphStyle("text", fontName=regular, fontSize=7.5, leading=9)
    strong = ParagraphStyle("strong", parent=text, fontName=bold)
    title = ParagraphStyle("title", fontName=bold, fontSize=13, leading=16, spaceAfter=4)

    def para(value: str, style: ParagraphStyle = text) -> Paragraph:
        return Paragraph(xml_escape(value), style)

    grid = [
        ("GRID", (0, 0), (-1, -1), 0.5, colors.grey),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("FONTNAME", (0, 0), (-1, -1), regular),
        ("FONTSIZE", (0, 0), (-1, -1), 7.5),
    ]
    story = []
    for number, page in enumerate(team_pages(plan, MapLayers.of(region), lang)):
        map_w = frame_w * 0.62
        picture = Image(io.BytesIO(page.map_png), map_w, map_w * _MAP_SIZE_IN[1] / _MAP_SIZE_IN[0])
        side_w = frame_w - map_w - 4 * mm
        summary = Table(
            [[para(k, strong), para(v)] for k, v in page.summary],
            colWidths=[side_w * 0.4, side_w * 0.6],
            style=TableStyle(grid),
        )
        contacts = Table(
            [[para(words[k], strong), ""] for k in CONTACT_FIELDS],
            colWidths=[side_w * 0.45, side_w * 0.55],
            rowHeights=[8 * mm] * len(CONTACT_FIELDS),
            style=TableStyle(grid),
        )
        side = [summary, Paragraph(xml_escape(words["radio"]), strong), contacts]
        top = Table(
            [[picture, side]],
            colWidths=[map_w + 4 * mm, side_w],
            style=TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP")]),
        )
        head = [words[k] for k in ("number", "arrive", "depart", "leg", "position", "look_for")]
        head += [words["minutes"], words["outcome"]]
        widths = np.array([0.06, 0.06, 0.06, 0.07, 0.11, 0.42, 0.07, 0.15]) * frame_w
        stops = Table(
            [[para(h, strong) for h in head]]
            + [[para(c) for c in row] + ["", ""] for row in page.rows],
            colWidths=list(widths),
            repeatRows=1,
            style=TableStyle([*grid, ("BACKGROUND", (0, 0), (-1, 0), colors.whitesmoke)]),
        )
        content = [para(page.heading, title), top, stops, para(page.footer)]
        # shrink, never split: a team's brief is one sheet of paper
        story.append(KeepInFrame(frame_w, frame_h, content, mode="shrink"))
        if number < len(plan.teams) - 1:
            story.append(PageBreak())
    buffer = io.BytesIO()
    document = SimpleDocTemplate(
        buffer,
        pagesize=size,
        leftMargin=margin,
        rightMargin=margin,
        topMargin=margin,
        bottomMargin=margin,
        title=words["title"],
        creator="geoint patrol brief",
    )
    document.build(story)
    return buffer.getvalue()


def _fonts() -> tuple[str, str]:
    """Register DejaVu Sans (shipped with matplotlib: Latin, Greek, Cyrillic, accents) once."""
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont

    names = ("GeointSans", "GeointSans-Bold")
    if names[0] not in pdfmetrics.getRegisteredFontNames():
        for name, weight in zip(names, ("normal", "bold"), strict=True):
            path = font_manager.findfont(
                font_manager.FontProperties(family="DejaVu Sans", weight=weight),
                fallback_to_default=False,
            )
            pdfmetrics.registerFont(TTFont(name, path))
    return names
