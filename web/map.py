"""The Folium map of a region and a workspace (SPEC §11), with assets from ``web/static/``.

`build_map` draws the region layers, a day's risk heatmap (explained by its factor contributions),
its Gi* hot spots, the seizures (clustered, by commodity), the day's events and alerts (by
severity), optionally a vehicle's track and a patrol plan, and a filter panel (``map.js``).
Every drawn layer stays under `MAX_POLYGONS` features: the heatmap moves to parent cells (res 7,
6, 5) when the day has more active res-8 cells, then keeps the riskiest. Every string from the
data is HTML-escaped in Python and bound to the layers as popup/tooltip HTML by one small JS
function, so no value is ever pasted into a JS template. The map loads its JS/CSS from
``static_url`` (the API serves ``web/static/`` there); `to_html` inlines them into one
self-contained file. `data_version` tells a server caching pages when their data has changed.
"""

from __future__ import annotations

import base64
import html
import mimetypes
import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, time, timedelta
from datetime import date as Date
from pathlib import Path
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import polars as pl
import shapely
import sqlalchemy as sa
from branca.element import MacroElement
from h3ronpy import vector
from jinja2 import Template

from geoint.alerts.store import AlertStore, alert_dict
from geoint.alerts.store import alerts as alert_table
from geoint.analytics.scoring import FACTORS
from geoint.h3index import cells_to_hex
from geoint.layers import Region
from geoint.schema import COMMODITIES
from geoint.store.workspace import EVENTS_FILE, Workspace, file_version, ingest_ledger

if TYPE_CHECKING:
    import folium

STATIC = Path(__file__).resolve().parent / "static"
STATIC_URL = "/static/web"
MAX_POLYGONS = 5000
PARENT_RESOLUTIONS = (7, 6, 5)
# The cell tables `build_map` reads (`data_version` watches them).
MAP_TABLES = ("days", *(f"days_r{r}" for r in PARENT_RESOLUTIONS), "emerging")

# Only Leaflet and the three plugins used: the map needs none of folium's jQuery, Bootstrap,
# Font Awesome or awesome-markers (no folium.Popup, no icons), so they are not loaded at all.
_ASSETS: dict[str, tuple[list[tuple[str, str]], list[tuple[str, str]]]] = {
    "Map": (
        [("leaflet", "vendor/leaflet/leaflet.js")],
        [("leaflet_css", "vendor/leaflet/leaflet.css"), ("geoint_css", "map.css")],
    ),
    "MarkerCluster": (
        [("markerclusterjs", "vendor/leaflet.markercluster/leaflet.markercluster.js")],
        [
            ("markerclustercss", "vendor/leaflet.markercluster/MarkerCluster.css"),
            ("markerclusterdefaultcss", "vendor/leaflet.markercluster/MarkerCluster.Default.css"),
        ],
    ),
    "Fullscreen": (
        [("Control.Fullscreen.js", "vendor/leaflet.fullscreen/Control.FullScreen.js")],
        [("Control.FullScreen.css", "vendor/leaflet.fullscreen/Control.FullScreen.css")],
    ),
    "MeasureControl": (
        [("leaflet_measure_js", "vendor/leaflet-measure/leaflet-measure.min.js")],
        [("leaflet_measure_css", "vendor/leaflet-measure/leaflet-measure.css")],
    ),
}

# Binds the pre-escaped ``popup``/``tooltip`` properties of each feature.
_BIND = """function (feature, layer) {
    var p = feature.properties;
    if (p.popup) { layer.bindPopup(p.popup, {maxWidth: 380}); }
    if (p.tooltip) { layer.bindTooltip(p.tooltip, {sticky: true}); }
}"""

_PALETTE = (
    "#e41a1c #8c564b #ff7f00 #984ea3 #4daf4a #a6761d #000000 #f781bf #377eb8 #666666 #17becf"
    " #bcbd22 #999999"
)  # one per commodity, in COMMODITIES order
COMMODITY_COLOURS: dict[str, str] = dict(zip(COMMODITIES, _PALETTE.split(), strict=True))
HOTSPOT_CLASSES: dict[int, tuple[str, str]] = {
    3: ("hot spot, 99 % confidence", "#b2182b"),
    2: ("hot spot, 95 % confidence", "#ef8a62"),
    1: ("hot spot, 90 % confidence", "#fddbc7"),
    -1: ("cold spot, 90 % confidence", "#d1e5f0"),
    -2: ("cold spot, 95 % confidence", "#67a9cf"),
    -3: ("cold spot, 99 % confidence", "#2166ac"),
}
RISK_COLOURS = ("#ffffb2", "#fecc5c", "#fd8d3c", "#f03b20", "#bd0026")  # risk 0-20, ..., 80-100
SEIZURE_FIELDS = (
    "seizure_id", "ts", "position_precision", "place", "commodity", "quantity", "unit",
    "transport_mode", "concealment", "detection_method", "direction", "origin_country",
    "destination_country", "vehicle_id", "description",
)  # fmt: skip


PATROL_COLOURS = ("#1b9e77", "#d95f02", "#7570b3", "#e7298a", "#66a61e", "#e6ab02")
SEVERITY_COLOURS = {"Extreme": "#67000d", "Severe": "#e31a1c", "Moderate": "#fd8d3c",
                    "Minor": "#fed976"}  # fmt: skip
ALERT_FIELDS = ("status", "severity", "urgency", "certainty", "rule", "type", "event_time",
                "last_seen", "count", "sector", "cell")  # fmt: skip
TRACK_COLOUR = "#0057e7"
# The feature properties the filter panel offers (property, label), in the panel's order.
FILTERS = (("commodity", "commodity"), ("transport_mode", "transport mode"),
           ("concealment", "concealment"), ("severity", "alert severity"))  # fmt: skip


class Controls(MacroElement):
    """The filter control, the served map's date selector and alert acknowledgement.

    ``web/static/map.js`` does the work; this element passes it plain data (layer variable
    names, analysed days, the API's URL) as JSON, never user text.
    """

    _template = Template(
        """{% macro script(this, kwargs) %}
        geointControls({{ this._parent.get_name() }}, {{ this.config|tojson }});
        {% endmacro %}"""
    )

    def __init__(self, config: dict[str, Any]) -> None:
        super().__init__()
        self._name = "Controls"
        self.config = config


def build_map(
    region: Region,
    workspace: Workspace,
    date: Date | None = None,
    m: folium.Map | None = None,
    *,
    static_url: str = STATIC_URL,
    api_url: str | None = None,
    patrol: Mapping[str, Any] | None = None,
    vehicle: str | None = None,
) -> folium.Map:
    """Return the map of `region` and `workspace` for a UTC day (default: the latest analysed).

    Parameters
    ----------
    m
        A map to draw on; a new one without a basemap (offline) when None.
    static_url
        Where the page loads ``web/static/`` from (``to_html`` inlines it for a file).
    api_url
        The API's ``/api/v1`` path when the page is served by it: cell popups then link to
        ``{api_url}/cells/{hex}``, new alerts get an "Acknowledge" button and a date selector
        reloads the page. None (an exported file) leaves all three out: offline, read-only.
    patrol
        A patrol plan as GeoJSON (``PatrolPlan.to_geojson``, ``geoint patrol plan --geojson``)
        drawn as one more layer: each team's route, its waypoints with ETA and reason, the base.
    vehicle
        A vehicle id whose pings of the day are drawn as a track (line and points).
    """
    import folium
    from branca.element import Element, JavascriptLink
    from folium import plugins

    if m is None:
        m = folium.Map(tiles=None, control_scale=True, prefer_canvas=True)
    m.options.setdefault("max_zoom", 18)  # the marker clusters need it when no tiles set it
    _localise(m, static_url)
    # An empty icon: otherwise the browser asks the server for /favicon.ico (a 404).
    m.get_root().header.add_child(Element('<link rel="icon" href="data:,">'), name="favicon")
    # Only defines `geointControls`, so it may load before Leaflet.
    m.get_root().header.add_child(JavascriptLink(f"{static_url.rstrip('/')}/map.js"), name="geoint")
    folium.FeatureGroup(name="No basemap", overlay=False).add_to(m)
    folium.TileLayer(
        "OpenStreetMap", name="OpenStreetMap (online)", overlay=False, show=False
    ).add_to(m)

    border = region.read("border") if region.files("border") else None
    _region_layers(m, region)
    days = _table(workspace, "days")
    analysed: list[str] = []
    filtered: list[dict[str, str | None]] = []
    if days is not None and days.height:
        day = date or days["date"].max()
        analysed = [str(d) for d in days["date"].unique().sort()]
        _risk_layer(m, workspace, days, day, api_url)
        _hotspot_layer(m, workspace, days, day)
        _event_layer(m, workspace, day)
        filtered.append(_alert_layer(m, workspace, day, api_url))
    else:
        day = date
    filtered.append(_seizure_layer(m, workspace, day, static_url))
    if vehicle is not None and day is not None:
        _track_layer(m, workspace, day, vehicle)
    if patrol is not None:
        _patrol_layer(m, patrol)

    config = {
        "layers": filtered,
        "filters": FILTERS,
        "api": api_url,
        "days": analysed if api_url is not None else [],
        "day": str(day) if day is not None else None,
    }
    for control in (
        plugins.Fullscreen(),
        plugins.MeasureControl(primary_length_unit="kilometers", primary_area_unit="hectares"),
    ):
        _localise(control, static_url)
        control.add_to(m)
    Controls(config).add_to(m)
    folium.LayerControl(collapsed=False).add_to(m)
    bounds = region.bbox or (tuple(border.total_bounds) if border is not None else None)
    if bounds:
        m.fit_bounds([[bounds[1], bounds[0]], [bounds[3], bounds[2]]])
    return m


def data_version(workspace: Workspace, alerts: AlertStore, vehicle: str | None = None) -> tuple:
    """A value that changes whenever something `build_map` reads from `workspace` changes.

    The cell tables and the events file by modification time and size (None when missing), the
    alerts by their latest change, the seizures by count and latest batch and, with a `vehicle`,
    the latest committed ingest (its track reads the pings). The region is not included: the
    service loads it once.
    """
    files = [workspace.root / "cells" / f"{name}.parquet" for name in MAP_TABLES]
    files.append(workspace.root / EVENTS_FILE)
    stats = tuple(file_version(path) for path in files)
    committed = sa.select(sa.func.max(ingest_ledger.c.batch)).where(
        ingest_ledger.c.status == "committed"
    )
    pings = None
    if vehicle is not None:
        with workspace.engine.connect() as conn:
            pings = conn.execute(committed).scalar()
    return stats, alerts.last_seq(), workspace.table_version("seizures"), pings


def to_html(m: folium.Map, static_url: str = STATIC_URL) -> str:
    """The page of `m` with every asset under `static_url` inlined (CSS images as data URIs)."""
    page = m.get_root().render()
    prefix = re.escape(static_url.rstrip("/") + "/")

    def script(match: re.Match[str]) -> str:
        code = (STATIC / match[1]).read_text(encoding="utf-8")
        return (
            "<script>" + re.sub(r"</(script)", r"<\\/\1", code, flags=re.IGNORECASE) + "</script>"
        )

    def style(match: re.Match[str]) -> str:
        return "<style>" + _inline_css(STATIC / match[1]) + "</style>"

    page = re.sub(rf'<script src="{prefix}([^"]+)"></script>', script, page)
    return re.sub(rf'<link rel="stylesheet" href="{prefix}([^"]+)"/>', style, page)


def _inline_css(path: Path) -> str:
    """The CSS file with its relative ``url(...)`` images replaced by data URIs."""

    def data_uri(match: re.Match[str]) -> str:
        target = path.parent / match[1]
        if match[1].startswith(("#", "data:")) or not target.is_file():
            return match[0]
        kind = mimetypes.guess_type(target.name)[0] or "application/octet-stream"
        return f"url(data:{kind};base64,{base64.b64encode(target.read_bytes()).decode()})"

    return re.sub(r"url\(['\"]?([^)'\"]+)['\"]?\)", data_uri, path.read_text(encoding="utf-8"))


def _localise(element: Any, static_url: str) -> None:
    """Point an element's JS/CSS links at ``static_url`` instead of folium's CDNs."""
    js, css = _ASSETS[type(element).__name__]
    base = static_url.rstrip("/")
    element.default_js = [(name, f"{base}/{path}") for name, path in js]
    element.default_css = [(name, f"{base}/{path}") for name, path in css]


def _escape(value: object) -> str:
    """HTML text of a value (empty for missing ones)."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return ""
    if isinstance(value, datetime):
        value = value.strftime("%Y-%m-%d %H:%M UTC")
    elif isinstance(value, float):
        value = f"{value:.6g}"
    return html.escape(str(value))


def _card(title: object, rows: Iterable[tuple[str, object]], foot: str = "") -> str:
    """A popup: an escaped title and a two-column table of escaped values."""
    body = "".join(
        f"<tr><th>{_escape(k)}</th><td>{_escape(v)}</td></tr>"
        for k, v in rows
        if v is not None and v != ""
    )
    return f'<div class="geoint-card"><b>{_escape(title)}</b><table>{body}</table>{foot}</div>'


def _geojson(
    geometry: Iterable[Any],
    popups: Iterable[str] | None = None,
    tooltips: Iterable[str] | None = None,
    **columns: Iterable[Any],
) -> dict:
    """A FeatureCollection of lng/lat geometries with the given (already escaped) properties."""
    frame = gpd.GeoDataFrame(geometry=list(geometry), crs=4326)
    if popups is not None:
        frame["popup"] = list(popups)
    if tooltips is not None:
        frame["tooltip"] = list(tooltips)
    for name, values in columns.items():
        frame[name] = list(values)
    return frame.__geo_interface__


def _add(
    parent: Any,
    data: dict,
    name: str | None,
    style: Mapping[str, Any] | None = None,
    colour: str | None = None,
    radius: int | None = None,
    show: bool = True,
) -> folium.GeoJson:
    """Add a GeoJSON layer whose features carry ``popup``/``tooltip`` HTML (and ``colour``)."""
    import folium
    from folium.utilities import JsCode

    def style_function(feature: dict) -> dict:
        fill = feature["properties"].get("colour", colour)
        return {"color": fill, "fillColor": fill, **(style or {})}

    return folium.GeoJson(
        data,
        name=name,
        control=name is not None,
        show=show,
        style_function=style_function,
        on_each_feature=JsCode(_BIND),
        marker=folium.CircleMarker(radius=radius, fill=True) if radius else None,
    ).add_to(parent)


def _region_layers(m: folium.Map, region: Region) -> None:
    """Sectors, corridors, roads, the border and the crossings (drawn in that order)."""
    layers: list[tuple[str, str, Any, dict[str, Any]]] = [
        ("sectors", "Sectors", lambda r: _card("Sector " + str(r.sector_id), [("unit", r.unit)]),
         {"weight": 1, "fillOpacity": 0.03, "color": "#555555", "dashArray": "4 4"}),
        ("corridors", "Transit corridors",
         lambda r: _card("Corridor " + str(r.corridor_id), [("width (m)", r.width_m)]),
         {"weight": 4, "opacity": 0.6, "color": "#6a3d9a"}),
        ("roads", "Roads", lambda r: _card(r.get("name") or "road", [("class", r["class"])]),
         {"weight": 1.5, "color": "#7f7f7f"}),
        ("border", "Border", lambda r: _card("Border", [("left", r.left), ("right", r.right)]),
         {"weight": 3, "color": "#000000"}),
    ]  # fmt: skip
    for kind, name, popup, style in layers:
        if not region.files(kind):
            continue
        frame = region.read(kind).to_crs(4326)
        rows = [popup(row) for _, row in frame.iterrows()]
        _add(m, _geojson(frame.geometry, rows), name, style, style.get("color"))
    if region.files("crossings"):
        frame = region.read("crossings").to_crs(4326)
        popups = [_card(row["name"], [("hours", row["hours"])]) for _, row in frame.iterrows()]
        tooltips = [_escape(f"{row['name']} ({row['hours']})") for _, row in frame.iterrows()]
        _add(m, _geojson(frame.geometry, popups, tooltips), "Crossings (hours)",
             {"fillOpacity": 0.9, "weight": 2}, "#1a9850", radius=6)  # fmt: skip


def _table(workspace: Workspace, name: str) -> pl.DataFrame | None:
    """A cell table of the workspace, or None before the analysis has written it."""
    target = workspace.root / "cells" / f"{name}.parquet"
    return pl.read_parquet(target) if target.is_file() else None


def _cell_polygons(cells: np.ndarray) -> np.ndarray:
    """The boundary polygons of uint64 cells."""
    return shapely.from_wkb(np.asarray(vector.cells_to_wkb_polygons(cells)))


def _risk_layer(
    m: folium.Map, workspace: Workspace, days: pl.DataFrame, day: Date, api_url: str | None
) -> None:
    """The day's risk per cell, coarsened to parents above `MAX_POLYGONS`, with a legend."""
    resolution, rows = 8, days.filter(pl.col("date") == day)
    for parent in PARENT_RESOLUTIONS:
        if rows.height <= MAX_POLYGONS:
            break
        table = _table(workspace, f"days_r{parent}")
        if table is None:
            break
        resolution, rows = parent, table.filter(pl.col("date") == day)
    rows = rows.sort("risk", descending=True).head(MAX_POLYGONS)
    if not rows.height:
        return
    cells = rows["cell"].to_numpy().astype(np.uint64)
    popups = [
        _risk_card(hexid, resolution, row, api_url)
        for hexid, row in zip(cells_to_hex(cells), rows.iter_rows(named=True), strict=True)
    ]
    tooltips = [f"risk {risk:.1f}" for risk in rows["risk"]]
    colours = [RISK_COLOURS[min(int(risk // 20), 4)] for risk in rows["risk"]]
    name = f"Risk {day} (H3 res {resolution})"
    style = {"weight": 0.5, "fillOpacity": 0.55, "opacity": 0.7}
    _add(m, _geojson(_cell_polygons(cells), popups, tooltips, colour=colours), name, style)
    from geoint.web.legend import Legend

    Legend(
        f"Risk score {day}",
        [(colour, f"{20 * i}–{20 * (i + 1)}") for i, colour in enumerate(RISK_COLOURS)],
    ).add_to(m)


def _risk_card(
    hexid: str, resolution: int, row: Mapping[str, Any], api_url: str | None = None
) -> str:
    """A cell's risk explained: each factor's contribution, adding up to the score.

    Served (`api_url`), it links to the cell's detail; in a file it stands alone.
    """
    parts = "".join(
        f"<tr><th>{f}</th><td>{row[f'c_{f}']:.2f}</td></tr>" for f in FACTORS if f"c_{f}" in row
    )
    note = f"<p>riskiest of {row['children']} active res-8 cells</p>" if "children" in row else ""
    if api_url is not None:
        href = _escape(f"{api_url}/cells/{hexid}")
        note += f'<p><a href="{href}" target="_blank" rel="noopener">cell detail (JSON)</a></p>'
    return (
        f'<div class="geoint-card"><b>Cell {hexid}</b> (res {resolution}, {row["date"]})'
        f"<table><tr><th>risk</th><td><b>{row['risk']:.2f}</b></td></tr>"
        f'<tr><td colspan="2">factor contributions (points)</td></tr>{parts}</table>{note}</div>'
    )


def _hotspot_layer(m: folium.Map, workspace: Workspace, days: pl.DataFrame, day: Date) -> None:
    """The day's significant Gi* cells by confidence class, with their emerging class."""
    rows = (
        days.filter((pl.col("date") == day) & (pl.col("gi_bin") != 0))
        .sort(pl.col("gi_z").abs(), descending=True)
        .head(MAX_POLYGONS)
    )
    emerging = _table(workspace, "emerging")
    if emerging is not None:
        rows = rows.join(
            emerging.select("cell", pl.col("emerging").cast(pl.String)), on="cell", how="left"
        )
    cells = rows["cell"].to_numpy().astype(np.uint64)
    popups, colours = [], []
    for hexid, row in zip(cells_to_hex(cells), rows.iter_rows(named=True), strict=True):
        label, colour = HOTSPOT_CLASSES[row["gi_bin"]]
        fields = [("class", label), ("Gi* z", row["gi_z"]), ("p (FDR)", row["gi_p_fdr"])]
        fields += [("severity", row["severity"]), ("emerging", row.get("emerging"))]
        popups.append(_card(f"Cell {hexid}", fields))
        colours.append(colour)
    style = {"weight": 1, "fillOpacity": 0.7}
    data = _geojson(_cell_polygons(cells), popups, None, colour=colours)
    _add(m, data, f"Hot spots {day} (Gi*)", style, show=False)


def _event_layer(m: folium.Map, workspace: Workspace, day: Date) -> None:
    """The track events that started on the day."""
    events = workspace.read_events().filter(pl.col("start").dt.date() == day).head(MAX_POLYGONS)
    fields = ("vehicle_id", "other_vehicle_id", "start", "end", "night")
    popups = [
        _card(
            row["event_type"].replace("_", " "),
            [(f.replace("_", " "), row[f]) for f in fields]
            + [
                ("to border (m)", round(row["distance_to_border_m"] or 0)),
                ("to crossing (m)", round(row["distance_to_crossing_m"] or 0)),
            ],
        )
        for row in events.iter_rows(named=True)
    ]
    tooltips = [_escape(t.replace("_", " ")) for t in events["event_type"]]
    points = shapely.points(events["lon"].to_numpy(), events["lat"].to_numpy())
    style = {"weight": 1, "fillOpacity": 0.9}
    _add(m, _geojson(points, popups, tooltips), f"Events {day}", style, "#ff00ff", radius=4)


def _patrol_layer(m: folium.Map, plan: Mapping[str, Any]) -> None:
    """A patrol plan: routes and waypoints coloured by team, and the base."""
    import folium

    group = folium.FeatureGroup(name="Patrol plan").add_to(m)
    features = plan.get("features", [])
    routes = [f for f in features if f["properties"].get("kind") == "route"]
    stops = [f for f in features if f["properties"].get("kind") in ("waypoint", "base")]
    teams = [r["properties"]["team"] for r in routes]
    colour = {team: PATROL_COLOURS[i % len(PATROL_COLOURS)] for i, team in enumerate(teams)}
    route_cards = [
        _card(f"team {p['team']}", [("hours", p["duration_h"]), ("risk", p["collected_risk"])])
        for p in (r["properties"] for r in routes)
    ]
    routes_data = _geojson(
        [shapely.geometry.shape(r["geometry"]) for r in routes],
        route_cards,
        [_escape(f"team {team}") for team in teams],
        colour=[colour[team] for team in teams],
    )
    _add(group, routes_data, None, {"weight": 4, "opacity": 0.9})
    stop_cards = [
        _card(
            "patrol base" if p["kind"] == "base" else f"team {p['team']} stop {p['order']}",
            [("ETA", p.get("eta")), ("risk", p.get("risk")), ("why", p.get("reason"))],
        )
        for p in (s["properties"] for s in stops)
    ]
    stops_data = _geojson(
        [shapely.geometry.shape(s["geometry"]) for s in stops],
        stop_cards,
        [_escape(s["properties"]["kind"]) for s in stops],
        colour=[colour.get(s["properties"].get("team"), "#000000") for s in stops],
    )
    _add(group, stops_data, None, {"weight": 2, "fillOpacity": 1.0}, radius=6)


def _seizure_layer(
    m: folium.Map, workspace: Workspace, day: Date | None, static_url: str
) -> dict[str, str | None]:
    """Seizures up to the day, clustered and coloured by commodity, with their CEN fields.

    Returns the layer's and its cluster's JS names for the filter control.
    """
    from folium import plugins

    seizures = workspace.read_table("seizures")
    if day is not None:
        seizures = seizures.filter(pl.col("ts").dt.date() <= day)
    seizures = seizures.sort("ts", descending=True).head(MAX_POLYGONS)
    rows = list(seizures.iter_rows(named=True))
    popups = [
        _card(f"Seizure {r['seizure_id']}", [(f.replace("_", " "), r[f]) for f in SEIZURE_FIELDS])
        for r in rows
    ]
    tooltips = [_escape(f"{r['commodity'] or 'unknown'} {r['ts']:%Y-%m-%d}") for r in rows]
    colours = [COMMODITY_COLOURS.get(r["commodity"], "#999999") for r in rows]
    points = shapely.points(seizures["lon"].to_numpy(), seizures["lat"].to_numpy())
    cluster = plugins.MarkerCluster(name="Seizures (by commodity)")
    _localise(cluster, static_url)
    cluster.add_to(m)
    style = {"weight": 1, "fillOpacity": 0.9}
    # Filter values are plain properties: map.js puts them in the DOM as text only.
    values = {k: seizures[k].to_list() for k in ("commodity", "transport_mode", "concealment")}
    data = _geojson(points, popups, tooltips, colour=colours, **values)
    layer = _add(cluster, data, None, style, radius=7)
    return {"layer": layer.get_name(), "parent": cluster.get_name()}


def _alert_layer(
    m: folium.Map, workspace: Workspace, day: Date, api_url: str | None
) -> dict[str, str | None]:
    """The alerts open on the day (event time to last seen), coloured by severity.

    Served (`api_url`), a new alert's popup has an "Acknowledge" button (``map.js`` posts it
    with the session cookie). Returns the layer's JS name for the filter control.
    """
    from geoint.web.legend import Legend

    start = datetime.combine(day, time.min, UTC)
    query = (
        sa.select(alert_table)
        .where(alert_table.c.event_time < start + timedelta(days=1))
        .where(alert_table.c.last_seen >= start)
        .order_by(alert_table.c.id.desc())
        .limit(MAX_POLYGONS)
    )
    AlertStore(workspace)  # creates the alert tables if no analysis has raised alerts yet
    with workspace.engine.connect() as conn:
        found = [alert_dict(row) for row in conn.execute(query).mappings()]
    popups = [_alert_card(alert, api_url) for alert in found]
    tooltips = [_escape(f"{a['severity']}: {a['title']}") for a in found]
    points = shapely.points([a["lon"] for a in found], [a["lat"] for a in found])
    data = _geojson(
        points,
        popups,
        tooltips,
        colour=[SEVERITY_COLOURS.get(a["severity"], "#999999") for a in found],
        severity=[a["severity"] for a in found],
        alert_id=[a["id"] for a in found],
    )
    style = {"weight": 2, "fillOpacity": 0.95, "color": "#000000"}
    layer = _add(m, data, f"Alerts {day} (by severity)", style, radius=8)
    Legend("Alert severity", [(c, s) for s, c in SEVERITY_COLOURS.items()]).add_to(m)
    return {"layer": layer.get_name(), "parent": None}


def _alert_card(alert: Mapping[str, Any], api_url: str | None) -> str:
    """An alert's fields and escaped explanation, with an acknowledge button when served."""
    fields = [(f.replace("_", " "), alert[f]) for f in ALERT_FIELDS]
    fields.append(("vehicles", ", ".join(alert["vehicles"])))
    foot = f'<p class="geoint-explanation">{_escape(alert["explanation"])}</p>'
    if api_url is not None and alert["status"] == "new":
        foot += f'<button type="button" class="geoint-ack" data-alert="{int(alert["id"])}">'
        foot += "Acknowledge</button>"
    return _card(f"Alert {alert['id']}: {alert['title']}", fields, foot)


def _track_layer(m: folium.Map, workspace: Workspace, day: Date, vehicle: str) -> None:
    """A vehicle's pings of the day: one line and its points (thinned to `MAX_POLYGONS`)."""
    pings = (
        workspace.scan_pings(day, day)
        .filter(pl.col("vehicle_id") == vehicle)
        .select("ts", "lat", "lon")
        .sort("ts")
        .collect()
    )
    step = max(1, -(-pings.height // MAX_POLYGONS))
    points = pings.gather_every(step)
    name = f"Vehicle track {day}"  # the id goes in escaped popups, not in the layer's JS name
    label = _escape(f"vehicle {vehicle}")
    lons, lats = pings["lon"].to_numpy(), pings["lat"].to_numpy()
    lines = [shapely.linestrings(lons, lats)] if pings.height > 1 else []
    popups = [_card(f"vehicle {vehicle}", [("date", day), ("pings", pings.height)])] * len(lines)
    import folium

    group = folium.FeatureGroup(name=name).add_to(m)
    data = _geojson(lines, popups, [label] * len(lines))
    _add(group, data, None, {"weight": 3, "opacity": 0.9}, TRACK_COLOUR)
    cards = [
        _card(f"vehicle {vehicle}", [("time", ts), ("lat", lat), ("lon", lon)])
        for ts, lat, lon in points.iter_rows()
    ]
    pts = shapely.points(points["lon"].to_numpy(), points["lat"].to_numpy())
    style = {"weight": 1, "fillOpacity": 0.9}
    _add(group, _geojson(pts, cards, [label] * points.height), None, style, TRACK_COLOUR, 3)
