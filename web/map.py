"""The Folium map of a region and a workspace (SPEC §11), with assets from ``web/static/``.

`build_map` draws the region layers and the rows it is handed (`geoint.serve.map_data.MapData`:
a day's risk heatmap, explained by its factor contributions, its Gi* hot spots, the seizures
(clustered, by commodity), the day's events and alerts (by severity), optionally a vehicle's
track) and a patrol plan, with a filter panel (``map.js``). It reads no storage: the query
layer caps every layer and picks the heatmap's resolution. Every string from the
data is HTML-escaped in Python and bound to the layers as popup/tooltip HTML by one small JS
function, so no value is ever pasted into a JS template. The map loads its JS/CSS from
``static_url`` (the API serves ``web/static/`` there); `to_html` inlines them into one
self-contained file.
"""

from __future__ import annotations

import base64
import html
import math
import mimetypes
import re
from collections.abc import Iterable, Mapping
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import polars as pl
import shapely
from branca.element import MacroElement
from h3ronpy import vector
from jinja2 import Template

from geoint.analytics.scoring import FACTORS
from geoint.h3index import cells_to_hex
from geoint.layers import Region
from geoint.schema import COMMODITIES
from geoint.serve.map_data import MAX_FEATURES, MapData
from geoint.web.legend import Legend

if TYPE_CHECKING:
    import folium

STATIC = Path(__file__).resolve().parent / "static"
STATIC_URL = "/static/web"

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
    data: MapData,
    m: folium.Map | None = None,
    *,
    static_url: str = STATIC_URL,
    api_url: str | None = None,
    patrol: Mapping[str, Any] | None = None,
) -> folium.Map:
    """Return the map of `region` with the rows of one day (`geoint.serve.map_data.map_data`).

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
    day = data.day
    filtered: list[dict[str, str | None]] = []
    if data.analysed_days:
        _risk_layer(m, data, api_url)
        _hotspot_layer(m, data)
        _event_layer(m, data)
        filtered.append(_alert_layer(m, data, api_url))
    filtered.append(_seizure_layer(m, data.seizures, static_url))
    if data.track is not None and data.vehicle is not None:
        _track_layer(m, data.track, day, data.vehicle)
    if patrol is not None:
        _patrol_layer(m, patrol)

    config = {
        "layers": filtered,
        "filters": FILTERS,
        "api": api_url,
        "days": [str(d) for d in data.analysed_days] if api_url is not None else [],
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


def _cell_polygons(cells: np.ndarray) -> np.ndarray:
    """The boundary polygons of uint64 cells."""
    return shapely.from_wkb(np.asarray(vector.cells_to_wkb_polygons(cells)))


def _risk_layer(m: folium.Map, data: MapData, api_url: str | None) -> None:
    """The day's risk per cell (at the resolution the query layer chose), with a legend."""
    rows, resolution, day = data.risk, data.risk_resolution, data.day
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


def _hotspot_layer(m: folium.Map, data: MapData) -> None:
    """The day's significant Gi* cells by confidence class, with their emerging class."""
    rows = data.hotspots
    cells = rows["cell"].to_numpy().astype(np.uint64)
    popups, colours = [], []
    for hexid, row in zip(cells_to_hex(cells), rows.iter_rows(named=True), strict=True):
        label, colour = HOTSPOT_CLASSES[row["gi_bin"]]
        fields = [("class", label), ("Gi* z", row["gi_z"]), ("p (FDR)", row["gi_p_fdr"])]
        fields += [("severity", row["severity"]), ("emerging", row.get("emerging"))]
        popups.append(_card(f"Cell {hexid}", fields))
        colours.append(colour)
    style = {"weight": 1, "fillOpacity": 0.7}
    layer = _geojson(_cell_polygons(cells), popups, None, colour=colours)
    _add(m, layer, f"Hot spots {data.day} (Gi*)", style, show=False)


def _metres(distance: float | None) -> int | str:
    """A distance rounded to the metre; "none" when there is nothing to measure to (a region
    without crossings gives infinity)."""
    return round(distance) if distance is not None and math.isfinite(distance) else "none"


def _event_layer(m: folium.Map, data: MapData) -> None:
    """The track events that started on the day."""
    events = data.events
    fields = ("vehicle_id", "other_vehicle_id", "start", "end", "night")
    popups = [
        _card(
            row["event_type"].replace("_", " "),
            [(f.replace("_", " "), row[f]) for f in fields]
            + [
                ("to border (m)", _metres(row["distance_to_border_m"])),
                ("to crossing (m)", _metres(row["distance_to_crossing_m"])),
            ],
        )
        for row in events.iter_rows(named=True)
    ]
    tooltips = [_escape(t.replace("_", " ")) for t in events["event_type"]]
    points = shapely.points(events["lon"].to_numpy(), events["lat"].to_numpy())
    style = {"weight": 1, "fillOpacity": 0.9}
    _add(m, _geojson(points, popups, tooltips), f"Events {data.day}", style, "#ff00ff", radius=4)


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


def _seizure_layer(m: folium.Map, seizures: pl.DataFrame, static_url: str) -> dict[str, str | None]:
    """Seizures up to the day, clustered and coloured by commodity, with their CEN fields.

    Returns the layer's and its cluster's JS names for the filter control.
    """
    from folium import plugins

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


def _alert_layer(m: folium.Map, data: MapData, api_url: str | None) -> dict[str, str | None]:
    """The alerts open on the day (event time to last seen), coloured by severity.

    Served (`api_url`), a new alert's popup has an "Acknowledge" button (``map.js`` posts it
    with the session cookie). Returns the layer's JS name for the filter control.
    """
    found = data.alerts
    popups = [_alert_card(alert, api_url) for alert in found]
    tooltips = [_escape(f"{a['severity']}: {a['title']}") for a in found]
    points = shapely.points([a["lon"] for a in found], [a["lat"] for a in found])
    features = _geojson(
        points,
        popups,
        tooltips,
        colour=[SEVERITY_COLOURS.get(a["severity"], "#999999") for a in found],
        severity=[a["severity"] for a in found],
        alert_id=[a["id"] for a in found],
    )
    style = {"weight": 2, "fillOpacity": 0.95, "color": "#000000"}
    layer = _add(m, features, f"Alerts {data.day} (by severity)", style, radius=8)
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


def _track_layer(m: folium.Map, pings: pl.DataFrame, day: object, vehicle: str) -> None:
    """A vehicle's pings of the day: one line and its points (thinned to `MAX_FEATURES`)."""
    step = max(1, -(-pings.height // MAX_FEATURES))
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
