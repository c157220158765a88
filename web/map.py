"""The Folium map of a region and a workspace (SPEC §11), with assets from ``web/static/``.

`build_map` draws the static region layers with Folium (sectors, corridors, roads, the border,
crossings, a patrol plan) and hands ``map.js`` the rest as data: the offline basemap
(`geoint.web.basemap`), the header, the legends, and the day's layers from `day_layers` (risk,
hot spots, events, alerts, seizures, a vehicle's track), which the served map fetches again
from ``/api/v1/map/day`` when the date changes, without reloading. Served, the risk and the
activity anomaly come from the API's vector tiles (res 8 when zoomed in), so nothing is capped;
an exported file draws the capped risk GeoJSON of the query layer and says so.

It reads no storage. Every string from the data is HTML-escaped in Python and bound to the
features as popup/tooltip HTML by ``map.js``, so no value is ever pasted into a JS template;
the config reaches the page through Jinja's ``tojson`` (``<``, ``>``, ``&`` escaped). Labels
are translated (`geoint.web.i18n`); times shown are local to the region.
"""

from __future__ import annotations

import base64
import html
import json
import mimetypes
import re
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import geopandas as gpd
import numpy as np
import polars as pl
import shapely
from branca.element import Element, Figure, MacroElement
from h3ronpy import vector
from jinja2 import Template

from geoint.analytics.scoring import ADJUSTMENTS, FACTORS
from geoint.h3index import cells_to_hex, parent_cells
from geoint.layers import Region
from geoint.palette import (
    ANOMALY_COLOURS,
    COMMODITY_COLOURS,
    CROSSING_COLOUR,
    EVENT_COLOUR,
    HOTSPOT_COLOURS,
    PARTNER_COLOUR,
    PATROL_COLOURS,
    RISK_COLOURS,
    SEVERITY_COLOURS,
    TRACK_COLOUR,
)
from geoint.serve.map_data import MAX_FEATURES, MapData
from geoint.serve.scope import meets_interior
from geoint.settings import CellSettings
from geoint.web.basemap import basemap
from geoint.web.i18n import DEFAULT, N_, gettext_for
from geoint.web.legend import legend_html

if TYPE_CHECKING:
    import folium

STATIC = Path(__file__).resolve().parent / "static"
STATIC_URL = "/static/web"

# Only Leaflet and the plugins used: the map needs none of folium's jQuery, Bootstrap,
# Font Awesome or awesome-markers (no folium.Popup, no icons), so they are not loaded at all.
_ASSETS: dict[str, tuple[list[tuple[str, str]], list[tuple[str, str]]]] = {
    "Map": (
        [
            ("leaflet", "vendor/leaflet/leaflet.js"),
            ("markerclusterjs", "vendor/leaflet.markercluster/leaflet.markercluster.js"),
        ],
        [
            ("leaflet_css", "vendor/leaflet/leaflet.css"),
            ("markerclustercss", "vendor/leaflet.markercluster/MarkerCluster.css"),
            ("markerclusterdefaultcss", "vendor/leaflet.markercluster/MarkerCluster.Default.css"),
            ("geoint_css", "map.css"),
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
VECTOR_GRID_JS = "vendor/leaflet.vectorgrid/Leaflet.VectorGrid.bundled.min.js"

# Binds the pre-escaped ``popup``/``tooltip`` properties of each feature (region layers).
_BIND = """function (feature, layer) {
    var p = feature.properties;
    if (p.popup) { layer.bindPopup(p.popup, {maxWidth: 380, autoPanPaddingTopLeft: [10, 70]}); }
    if (p.tooltip) { layer.bindTooltip(p.tooltip, {sticky: true}); }
}"""

SEIZURE_FIELDS = (
    "seizure_id", "origin", "ts", "position_precision", "place", "commodity", "quantity", "unit",
    "transport_mode", "concealment", "detection_method", "direction", "origin_country",
    "destination_country", "vehicle_id", "vehicle_type", "description",
)  # fmt: skip
THUMBNAILS_SHOWN = 6  # of a seizure's photos, in its popup
# The feature properties the filter panel offers and their labels, in the panel's order.
FILTER_LABELS = {
    "event_type": N_("event type"),
    "rule": N_("alert rule"),
    "status": N_("alert status"),
    "severity": N_("alert severity"),
    "commodity": N_("commodity"),
    "transport_mode": N_("transport mode"),
    "concealment": N_("concealment"),
    "origin": N_("origin administration"),
}
# Data values shown translated (`_(value)`): marked here for extraction.
# The shipped alert rules' titles (geoint/alerts/rules.toml), translated where shown; a
# region's own rule titles are shown as written.
RULE_TITLES = (
    N_("Unofficial border crossing"), N_("Crossing at a closed official crossing"),
    N_("Border crossed while not reporting"), N_("Two vehicles met near the border"),
    N_("Loitering or driving off-road near the border"),
    N_("Watch-listed vehicle near the border"), N_("Repeated border crossings"),
    N_("Transit declaration breached"), N_("Tracking integrity problem near the border"),
    N_("New or intensifying hot spot"), N_("High-risk cell"),
    N_("High-risk transit declaration started"),
)  # fmt: skip
VOCABULARY = (
    N_("Extreme"), N_("Severe"), N_("Moderate"), N_("Minor"),
    N_("new"), N_("acknowledged"), N_("resolved"), N_("dismissed"),
    N_("drugs"), N_("tobacco"), N_("alcohol"), N_("ipr counterfeit"), N_("wildlife"),
    N_("timber"), N_("weapons"), N_("explosives precursors"), N_("currency"), N_("waste ods"),
    N_("medicines"), N_("fuel"), N_("other"),
    N_("border crossing"), N_("unofficial crossing"), N_("closed hours crossing"),
    N_("dark crossing"), N_("signal gap near border"), N_("border loiter"), N_("rendezvous"),
    N_("off road near border"), N_("shuttle"), N_("route deviation"), N_("unauthorized stop"),
    N_("transit overdue"), N_("watchlist hit"), N_("identity conflict"), N_("gnss anomaly"),
    N_("events"), N_("hotspot"), N_("anomaly"), N_("seizure prior"), N_("remoteness"),
    N_("border"), N_("night"),
    N_("seizure id"), N_("ts"), N_("position precision"), N_("place"), N_("quantity"),
    N_("unit"), N_("detection method"), N_("direction"), N_("origin country"), N_("origin"),
    N_("effort"), N_("searched"),
    N_("destination country"), N_("vehicle id"), N_("vehicle type"), N_("description"),
)  # fmt: skip
# The day's layers `day_layers` fills, in drawing order.
DAY_LAYERS = ("risk", "hotspots", "events", "alerts", "seizures", "partner", "track")
TILE_METRICS = ("risk", "anomaly")


def layer_names(_: Callable[[str], str]) -> dict[str, str]:
    """Each layer's name in the switcher (the key ``map.js`` and the legends use)."""
    return {
        "risk": _("Risk (H3 cells)"),
        "anomaly": _("Activity anomaly (z)"),
        "hotspots": _("Hot spots (Gi*)"),
        "events": _("Track events"),
        "alerts": _("Alerts (by severity)"),
        "seizures": _("Seizures (by commodity)"),
        "partner": _("Partner alerts and events"),
        "track": _("Vehicle track"),
        "sectors": _("Sectors"),
        "corridors": _("Transit corridors"),
        "roads": _("Roads"),
        "border": _("Border"),
        "crossings": _("Crossings (hours)"),
        "patrol": _("Patrol plan"),
        "basemap": _("Offline basemap (Natural Earth)"),
        "none": _("No basemap"),
        "osm": _("OpenStreetMap (online)"),
        "local": _("Local basemap"),
    }


class Verbatim(Element):
    """Text already rendered, put in the page as it is.

    Branca wraps what each element rendered in a new `Element`, whose text is then *compiled and
    rendered as a Jinja template*: data in it (a seizure's description, a place name) holding
    ``{{ ... }}`` or ``{% ... %}`` would be evaluated on the server, or break the page, and the
    compile of the day's megabyte of layers took ~80 ms a page. The trailing newline is dropped
    as Jinja drops it, so plain text comes out the same.
    """

    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text[:-1] if text.endswith("\n") else text

    def render(self, **kwargs: Any) -> str:
        """The text, untouched."""
        return self.text


class Page(Figure):
    """Folium's page with the document's language and a title; what its elements rendered is
    put in the page verbatim, never rendered again as a template (`Verbatim`)."""

    _template = Template(
        '<!DOCTYPE html>\n<html lang="{{ this.lang }}">\n<head>\n'
        "<title>{{ this.title }}</title>\n"
        "    {{ this.header.render(**kwargs) }}\n</head>\n<body>\n"
        "    {{ this.html.render(**kwargs) }}\n</body>\n<script>\n"
        "    {{ this.script.render(**kwargs) }}\n</script>\n</html>\n"
    )

    def __init__(self, lang: str, title: str) -> None:
        super().__init__()
        self.lang = lang
        self.title = title  # the template's autoescape is off: escaped by the caller

    def render(self, **kwargs: Any) -> str:
        """The page: its elements render into the header, body and script, as in branca, and
        the texts they rendered are then kept as they are."""
        for child in self._children.values():
            child.render(**kwargs)
        for part in (self.header, self.html, self.script):
            for name, child in list(part._children.items()):
                if type(child) is Element and child._template_str is not None:
                    part._children[name] = Verbatim(child._template_str)
        return self._template.render(this=self, kwargs=kwargs)


class Controls(MacroElement):
    """Everything ``map.js`` draws: basemap, day layers, header, legends, filters, panel.

    Rendered after the layer control, whose JS name it passes so base layers and overlays can
    join it. The config holds escaped HTML and plain values only, as JSON.
    """

    _template = Template(
        """{% macro script(this, kwargs) %}
        geointMap({{ this._parent.get_name() }}, {{ this.control.get_name() }},
                  {{ this.config|tojson }});
        {% endmacro %}"""
    )

    def __init__(self, control: Any, config: dict[str, Any]) -> None:
        super().__init__()
        self._name = "Controls"
        self.control = control
        self.config = config

    def render(self, **kwargs: Any) -> None:
        """Its script (the day's layers: a megabyte) goes into the page as `Verbatim`, without
        branca's compile of it as a template."""
        script = self._template.module.__dict__["script"](self, kwargs)
        self.get_root().script.add_child(Verbatim(script), name=self.get_name())


def build_map(
    region: Region,
    data: MapData | None,
    m: folium.Map | None = None,
    *,
    sectors: frozenset[str] | None = None,
    static_url: str = STATIC_URL,
    api_url: str | None = None,
    patrol: Mapping[str, Any] | None = None,
    lang: str = DEFAULT,
    local_basemap: Mapping[str, str] | None = None,
    weights: Mapping[str, float] | None = None,
) -> folium.Map:
    """Return the map of `region` with the rows of one day (`geoint.serve.map_data.map_data`),
    or, served (`api_url`, `data` None), the page that fetches its days from the API.

    Parameters
    ----------
    data
        The day drawn into the page (an exported file). None for a served page: it then holds
        nothing that changes with the data, and asks ``{api_url}/map/day`` for the day in its
        address (``?day=``, ``?date=``, ``?vehicle=``; the latest complete day by default).
    m
        A map to draw on; a new one (the offline basemap below everything) when None.
    sectors
        The scope of a served page without `data` (None: every sector); else `data.sectors`.
    static_url
        Where the page loads ``web/static/`` from (``to_html`` inlines it for a file).
    api_url
        The API's ``/api/v1`` path when the page is served by it: the risk then comes from its
        vector tiles, cells open a panel of what happened there, new alerts get an
        "Acknowledge" button, links show a vehicle's track and the date selector fetches the
        day's layers. None (an exported file) leaves all of it out: offline, read-only.
    patrol
        A patrol plan as GeoJSON (``PatrolPlan.to_geojson``, ``geoint patrol plan --geojson``)
        drawn as one more layer: each team's route, its waypoints with ETA and reason, the base.
    lang
        The language of every label (`geoint.web.i18n.LANGUAGES`).
    local_basemap
        ``{"url": ".../{z}/{x}/{y}.png", "format": "png"}`` of a post's own tiles
        (``geoint serve --basemap``), offered as a base layer.
    weights
        The risk weights (each factor's most points); default `CellSettings`'.
    """
    import folium
    from branca.element import JavascriptLink
    from folium import plugins

    if data is None and api_url is None:
        raise ValueError("an exported map needs its day's data")
    _ = gettext_for(lang)
    names = layer_names(_)
    scope = _scope(region, data.sectors if data is not None else sectors)
    whole = region.bbox or _border_bounds(region)
    bounds = scope.bounds if scope is not None and not scope.is_empty else whole
    if m is None:
        # starts on the region (not the world), so no tile is asked for at zoom 1; SVG, not
        # canvas: an SVG pane lets clicks on its empty parts through to the cell tiles below
        centre = [(bounds[1] + bounds[3]) / 2, (bounds[0] + bounds[2]) / 2] if bounds else None
        m = folium.Map(location=centre, zoom_start=7, tiles=None, control_scale=True)
    m.options.setdefault("max_zoom", 18)  # the marker clusters need it when no tiles set it
    _localise(m, static_url)
    if api_url is not None:  # after Leaflet, which it extends
        m.default_js.append(("vectorgrid", f"{static_url.rstrip('/')}/{VECTOR_GRID_JS}"))
    Page(lang, html.escape(f"geoint · {region.name}")).add_child(m)
    root = m.get_root()
    # An empty icon: otherwise the browser asks the server for /favicon.ico (a 404).
    root.header.add_child(Element('<link rel="icon" href="data:,">'), name="favicon")
    # Only defines functions, so it may load before Leaflet.
    root.header.add_child(JavascriptLink(f"{static_url.rstrip('/')}/map.js"), name="geoint")
    legends = _region_layers(m, region, names, scope, _)
    if patrol is not None:
        legends[names["patrol"]] = _patrol_layer(m, patrol, names["patrol"], _)
    for control in (
        plugins.Fullscreen(),
        plugins.MeasureControl(primary_length_unit="kilometers", primary_area_unit="hectares"),
    ):
        _localise(control, static_url)
        control.add_to(m)
    layer_control = folium.LayerControl(collapsed=False).add_to(m)
    legends |= _day_legends(names, _)
    legends[names["basemap"]] = legend_html(names["basemap"], [
        ("#f4efe1", _("land (country names)"), "box"), ("#cfe2f3", _("sea"), "box"),
        ("#5b8db8", _("coast"), "line"), ("#6fa3cf", _("rivers"), "line"),
        ("#a9cce3", _("lakes and reservoirs"), "box"),
        ("#333333", _("towns (more as you zoom in)"), "dot"),
    ])  # fmt: skip
    config = {
        "lang": lang,
        "names": names,
        "api": api_url,
        "region": region.name,  # shown as text
        "timezone": region.timezone,
        # served, the page fetches its day from the API (so the page itself never changes
        # with the data and stays cached); an exported file holds its day
        "data": day_layers(region, data, api_url, lang, weights) if data is not None else None,
        "tiles": _tiles(api_url, names) if api_url is not None else None,
        "legends": legends,
        "filters": {name: _(label) for name, label in FILTER_LABELS.items()},
        "basemap": basemap(region).to_json(),
        "localBasemap": dict(local_basemap) if local_basemap else None,
        "strings": _js_strings(_),
        "vocabulary": {k: _(v) for v in VOCABULARY for k in (v, v.replace(" ", "_"))},
    }
    Controls(layer_control, config).add_to(m)
    if bounds:
        m.fit_bounds([[bounds[1], bounds[0]], [bounds[3], bounds[2]]])
    return m


def day_layers(
    region: Region,
    data: MapData,
    api_url: str | None = None,
    lang: str = DEFAULT,
    weights: Mapping[str, float] | None = None,
) -> dict[str, Any]:
    """The day's header and layers as GeoJSON with escaped popups (``map.js`` draws them).

    Served (`api_url`), the risk is left to the vector tiles.
    """
    _ = gettext_for(lang)
    tz = ZoneInfo(region.timezone)
    weights = weights or CellSettings().risk_weights
    layers: dict[str, Any] = {name: None for name in DAY_LAYERS}
    if data.analysed_days:
        if api_url is None:
            layers["risk"] = _risk_layer(data, weights, tz, _)
        layers["hotspots"] = _hotspot_layer(data, _)
        layers["events"] = _event_layer(data.events, tz, _)
        layers["alerts"] = _alert_layer(data, api_url, tz, _)
    layers["seizures"] = _seizure_layer(data.seizures, api_url, tz, _)
    if data.partner.height:
        layers["partner"] = _partner_layer(data.partner, tz, _)
    if data.track is not None and data.vehicle is not None:
        vehicle_events = data.events.filter(pl.col("vehicle_id") == data.vehicle)
        layers["track"] = _track_layer(data.track, vehicle_events, data.vehicle, tz, _)
    return {"header": _header(region, data, api_url, tz, _), "layers": layers}


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


def _border_bounds(region: Region) -> tuple[float, ...] | None:
    return tuple(region.read("border").total_bounds) if region.files("border") else None


def _scope(region: Region, sectors: frozenset[str] | None) -> shapely.Geometry | None:
    """The union of the scope's sector polygons (None: no scope)."""
    if sectors is None:
        return None
    frame = region.read("sectors") if region.files("sectors") else None
    if frame is None:
        return shapely.Polygon()
    return shapely.union_all(frame[frame["sector_id"].astype(str).isin(sectors)].geometry)


def _in_scope(frame: gpd.GeoDataFrame, scope: shapely.Geometry | None) -> gpd.GeoDataFrame:
    """The features meeting the scope's interior (the OGC collections' rule for units)."""
    if scope is None:
        return frame
    return frame[meets_interior(frame.geometry.to_numpy(), scope)]


def _escape(value: object, tz: ZoneInfo | None = None) -> str:
    """HTML text of a value (empty for missing ones); datetimes in `tz` (else UTC). Braces
    become entities too: folium compiles some rendered HTML (a marker's popup) as a Jinja
    template, where ``{%`` would fail the page (`Verbatim` keeps it from being run)."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return ""
    if isinstance(value, datetime):
        value = _local(value, tz) if tz is not None else value.strftime("%Y-%m-%d %H:%M UTC")
    elif isinstance(value, float):
        value = f"{value:.6g}"
    return html.escape(str(value)).replace("{", "&#123;").replace("}", "&#125;")


def _local(value: datetime, tz: ZoneInfo) -> str:
    """A time in the region's zone, with its abbreviation (``2026-03-04 22:12 WAT``)."""
    return value.astimezone(tz).strftime("%Y-%m-%d %H:%M %Z")


def _card(
    title: object, rows: Iterable[tuple[str, object]], foot: str = "", tz: ZoneInfo | None = None
) -> str:
    """A popup: an escaped title and a two-column table of escaped values."""
    body = "".join(
        f"<tr><th>{_escape(k)}</th><td>{_escape(v, tz)}</td></tr>"
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
    interactive: bool = True,
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
        style_function=style_function,
        on_each_feature=JsCode(_BIND),
        marker=folium.CircleMarker(radius=radius, fill=True) if radius else None,
        interactive=interactive,
    ).add_to(parent)


def _region_layers(
    m: folium.Map,
    region: Region,
    names: Mapping[str, str],
    scope: shapely.Geometry | None,
    _: Callable[[str], str],
) -> dict[str, str]:
    """Sectors, corridors, roads, the border and the crossings (drawn in that order), limited
    to what meets the scope; returns their legends by layer name."""
    layers: list[tuple[str, Any, dict[str, Any], str]] = [
        ("sectors", lambda r: _card(_("Sector") + " " + str(r.sector_id), [(_("unit"), r.unit)]),
         {"weight": 1, "fillOpacity": 0.03, "color": "#555555", "dashArray": "4 4"}, "dash"),
        ("corridors",
         lambda r: _card(_("Corridor") + " " + str(r.corridor_id), [(_("width (m)"), r.width_m)]),
         {"weight": 4, "opacity": 0.6, "color": "#6a3d9a"}, "line"),
        ("roads", lambda r: _card(r.get("name") or _("road"), [(_("class"), r["class"])]),
         {"weight": 1.5, "color": "#7f7f7f"}, "line"),
        ("border", lambda r: _card(_("Border"), [(_("left"), r.left), (_("right"), r.right)]),
         {"weight": 3, "color": "#000000"}, "line"),
    ]  # fmt: skip
    legends: dict[str, str] = {}
    for kind, popup, style, shape in layers:
        if not region.files(kind):
            continue
        frame = _in_scope(region.read(kind).to_crs(4326), scope)
        rows = [popup(row) for _row, row in frame.iterrows()]
        # a sector's fill would catch every click meant for the cells below it
        _add(m, _geojson(frame.geometry, rows), names[kind], style, style.get("color"),
             interactive=kind != "sectors")  # fmt: skip
        legends[names[kind]] = legend_html(names[kind], [(style["color"], "", shape)])
    if region.files("crossings"):
        frame = _in_scope(region.read("crossings").to_crs(4326), scope)
        popups = [
            _card(row["name"], [(_("hours"), row["hours"])]) for _row, row in frame.iterrows()
        ]
        tooltips = [_escape(f"{row['name']} ({row['hours']})") for _row, row in frame.iterrows()]
        style = {"fillOpacity": 1.0, "weight": 2.5, "color": "#000000"}
        layer = _add(m, _geojson(frame.geometry, popups, tooltips), names["crossings"], style,
                     radius=6)  # fmt: skip
        layer.style_function = lambda _f: {**style, "fillColor": CROSSING_COLOUR}
        legends[names["crossings"]] = legend_html(
            names["crossings"], [(CROSSING_COLOUR, _("official crossing"), "ring")]
        )
    return legends


def _day_legends(names: Mapping[str, str], _: Callable[[str], str]) -> dict[str, str]:
    """The legends of the day's layers by layer name."""
    bins = [f"{20 * i}–{20 * (i + 1)}" for i in range(5)]
    hotspot_labels = {
        3: _("hot spot, confidence 99 %"), 2: _("hot spot, confidence 95 %"),
        1: _("hot spot, confidence 90 %"), -1: _("cold spot, confidence 90 %"),
        -2: _("cold spot, confidence 95 %"), -3: _("cold spot, confidence 99 %"),
    }  # fmt: skip
    anomaly_bins = ["< 1", "1–2", "2–3", "3–4", "≥ 4"]
    return {
        names["risk"]: legend_html(_("Risk score"), list(zip(RISK_COLOURS, bins, strict=True))),
        names["anomaly"]: legend_html(
            _("Activity anomaly (z)"), list(zip(ANOMALY_COLOURS, anomaly_bins, strict=True))
        ),
        names["hotspots"]: legend_html(
            names["hotspots"], [(HOTSPOT_COLOURS[b], label) for b, label in hotspot_labels.items()]
        ),
        names["events"]: legend_html(names["events"], [(EVENT_COLOUR, _("track event"), "dot")]),
        names["alerts"]: legend_html(
            _("Alert severity"),
            [(c, _(s)) for s, c in SEVERITY_COLOURS.items()],
            shape="dot",
        ),
        names["seizures"]: legend_html(
            names["seizures"],
            [(c, _(k.replace("_", " "))) for k, c in COMMODITY_COLOURS.items()],
            shape="dot",
        ),
        names["track"]: legend_html(
            names["track"], [(TRACK_COLOUR, _("pings in time order"), "line")]
        ),
        names["partner"]: legend_html(
            names["partner"], [(PARTNER_COLOUR, _("sent by a partner administration"), "dot")]
        ),
    }


def _tiles(api_url: str, names: Mapping[str, str]) -> dict[str, Any]:
    """The vector-tile overlays of the served map (``map.js`` appends ``?date=``)."""
    root = api_url.removesuffix("/api/v1")
    return {
        metric: {
            "url": f"{root}/tiles/{metric}/{{z}}/{{x}}/{{y}}.mvt",
            "name": names[metric],
            "colours": RISK_COLOURS if metric == "risk" else ANOMALY_COLOURS,
            "breaks": [20, 40, 60, 80] if metric == "risk" else [1, 2, 3, 4],
            "show": metric == "risk",
        }
        for metric in TILE_METRICS
    }


def _header(
    region: Region, data: MapData, api_url: str | None, tz: ZoneInfo, _: Callable[[str], str]
) -> dict[str, Any]:
    """The header's facts: region, day, counts, latest ping, and what an export leaves out."""
    counts = data.counts
    note = None
    if api_url is None and data.risk.height and data.risk_cells > data.risk.height:
        note = _("exported file: risk drawn for the {shown} riskiest of {total} cells (H3 res "
                 "{res}); the served map draws every cell from vector tiles")  # fmt: skip
        note = note.format(shown=data.risk.height, total=data.risk_cells, res=data.risk_resolution)
    elif api_url is None and data.risk.height and data.risk_resolution < 8:
        note = _("exported file: risk drawn at H3 res {res} (the day has too many res-8 cells);"
                 " the served map draws every cell from vector tiles").format(
            res=data.risk_resolution)  # fmt: skip
    partial = data.day is not None and data.day not in data.complete_days
    return {
        "day": str(data.day) if data.day else None,
        # the date selector's days (served only: an exported file holds one day)
        "days": [str(d) for d in data.analysed_days] if api_url is not None else [],
        "completeDays": [str(d) for d in data.complete_days],
        "partial": partial,
        "counts": counts,
        "latestPing": _local(data.latest_ping, tz) if data.latest_ping else None,
        "note": html.escape(note) if note else None,
        "vehicle": html.escape(data.vehicle) if data.vehicle else None,
    }


def _cell_polygons(cells: np.ndarray) -> np.ndarray:
    """The boundary polygons of uint64 cells."""
    return shapely.from_wkb(np.asarray(vector.cells_to_wkb_polygons(cells)))


def risk_colour(risk: float) -> str:
    """The viridis class of a 0-100 risk score."""
    return RISK_COLOURS[min(int(risk // 20), 4)]


def _risk_layer(
    data: MapData, weights: Mapping[str, float], tz: ZoneInfo, _: Callable[[str], str]
) -> dict | None:
    """The day's risk per cell (the query layer's resolution and cap), explained."""
    rows = data.risk
    if not rows.height:
        return None
    cells = rows["cell"].to_numpy().astype(np.uint64)
    hexes = cells_to_hex(cells)
    events = _events_by_cell(data.events, cells, data.risk_resolution)
    popups = [
        _risk_card(hexid, data.risk_resolution, row, weights, events.get(int(cell), []), tz, _)
        for hexid, cell, row in zip(hexes, cells, rows.iter_rows(named=True), strict=True)
    ]
    tooltips = [_("risk {risk:.1f}").format(risk=risk) for risk in rows["risk"]]
    colours = [risk_colour(risk) for risk in rows["risk"]]
    risk = rows["risk"].round(1).to_list()
    return _geojson(_cell_polygons(cells), popups, tooltips, colour=colours, cell=hexes, risk=risk)


def _events_by_cell(events: pl.DataFrame, cells: np.ndarray, resolution: int) -> dict[int, list]:
    """The day's events located in each of `cells` (at `resolution`), earliest first."""
    if events.height == 0:
        return {}
    located = parent_cells(events["cell"].to_numpy().astype(np.uint64), resolution)
    found = events.with_columns(pl.Series("at", located)).filter(pl.col("at").is_in(cells))
    grouped: dict[int, list] = {}
    for row in found.sort("start").iter_rows(named=True):
        grouped.setdefault(int(row["at"]), []).append(row)
    return grouped


def _risk_card(
    hexid: str,
    resolution: int,
    row: Mapping[str, Any],
    weights: Mapping[str, float],
    events: list[Mapping[str, Any]],
    tz: ZoneInfo,
    _: Callable[[str], str],
) -> str:
    """What happened in a cell on the day and its risk explained: each factor's points of its
    maximum, adding up to the score."""
    factor_names = {f: _(f.replace("_", " ")) for f in (*FACTORS, *ADJUSTMENTS)}
    # adjustments (patrol effort, searched with nothing found) only lower the score: no maximum
    parts = "".join(
        f"<tr><th>{_escape(factor_names[f])}</th><td>{row[f'c_{f}']:.1f}"
        + (f" / {weights.get(f, 0):.0f}" if f in FACTORS else "")
        + "</td></tr>"
        for f in (*FACTORS, *ADJUSTMENTS)
        if f"c_{f}" in row and (f in FACTORS or row[f"c_{f}"])
    )
    note = ""
    if "children" in row:
        note = "<p>" + _escape(_("riskiest of {n} active res-8 cells").format(n=row["children"]))
        note += "</p>"
    kinds = [_(e["event_type"].replace("_", " ")) for e in events[:20]]
    happened = "".join(
        f"<li>{_escape(kind)}: {_escape(e['vehicle_id'])}, "
        f"{_escape(e['start'], tz)}, {_escape(_distance(e['distance_to_border_m'], _))}</li>"
        for kind, e in zip(kinds, events[:20], strict=False)
    )
    on_day, cell, risk = _("events on the day"), _("Cell"), _("risk")
    explained = _("factor points of their maximum")
    listed = f"<p>{_escape(on_day)}</p><ul class='geoint-list'>{happened}</ul>" if happened else ""
    return (
        f'<div class="geoint-card"><b>{_escape(cell)} {hexid}</b> '
        f"(res {resolution}, {row['date']})"
        f"<table><tr><th>{_escape(risk)}</th><td><b>{row['risk']:.1f}</b> / 100</td></tr>"
        f'<tr><td colspan="2">{_escape(explained)}</td></tr>{parts}'
        f"</table>{note}{listed}</div>"
    )


def _distance(metres: float | None, _: Callable[[str], str]) -> str:
    """A distance to the border in words."""
    if metres is None or not np.isfinite(metres):  # no border to measure to
        return ""
    if metres < 1000:
        return _("{m:.0f} m from the border").format(m=metres)
    return _("{km:.1f} km from the border").format(km=metres / 1000)


def _hotspot_layer(data: MapData, _: Callable[[str], str]) -> dict:
    """The day's significant Gi* cells by confidence class, with their emerging class."""
    rows = data.hotspots
    cells = rows["cell"].to_numpy().astype(np.uint64) if rows.height else np.empty(0, np.uint64)
    popups, colours, cell = [], [], _("Cell")
    for hexid, row in zip(cells_to_hex(cells), rows.iter_rows(named=True), strict=True):
        confidence = {1: 90, 2: 95, 3: 99}[abs(row["gi_bin"])]
        kind = _("hot spot") if row["gi_bin"] > 0 else _("cold spot")
        fields = [(_("class"), f"{kind}, {confidence} %"), ("Gi* z", row["gi_z"]),
                  (_("p (FDR)"), row["gi_p_fdr"]), (_("severity"), row["severity"]),
                  (_("emerging"), row.get("emerging"))]  # fmt: skip
        popups.append(_card(f"{cell} {hexid}", fields))
        colours.append(HOTSPOT_COLOURS[row["gi_bin"]])
    return _geojson(_cell_polygons(cells), popups, None, colour=colours)


def _event_layer(events: pl.DataFrame, tz: ZoneInfo, _: Callable[[str], str]) -> dict:
    """The track events that started on the day (local times, measures in words)."""
    popups = [
        _card(
            _(row["event_type"].replace("_", " ")),
            [
                (_("vehicle"), row["vehicle_id"]),
                (_("with vehicle"), row["other_vehicle_id"]),
                (_("start"), row["start"]),
                (_("end"), row["end"]),
                (_("at night"), _("yes") if row["night"] else None),
                (_("measures"), measures(row, _)),
            ],
            tz=tz,
        )
        for row in events.iter_rows(named=True)
    ]
    tooltips = [_escape(_(t.replace("_", " "))) for t in events["event_type"]]
    points = shapely.points(events["lon"].to_numpy(), events["lat"].to_numpy())
    return _geojson(
        points,
        popups,
        tooltips,
        event_type=events["event_type"].to_list(),
        vehicle=events["vehicle_id"].to_list(),
        event_id=events["event_id"].to_list(),
    )


def measures(event: Mapping[str, Any], _: Callable[[str], str]) -> str:
    """An event's measured values in words (``waited 42 min, 180 m from the border``)."""
    detail = json.loads(event["detail"]) if event.get("detail") else {}
    words: list[str] = []
    if "duration_s" in detail:
        verbs = {
            "border_loiter": _("waited {min} min"),
            "unauthorized_stop": _("stopped {min} min"),
            "off_road_near_border": _("off road for {min} min"),
            "watchlist_hit": _("near the border for {min} min"),
        }
        verb = verbs.get(event["event_type"], _("for {min} min"))
        words.append(verb.format(min=round(detail["duration_s"] / 60)))
    if "dt_s" in detail and event["event_type"] in ("dark_crossing", "signal_gap_near_border"):
        words.append(_("silent for {min} min").format(min=round(detail["dt_s"] / 60)))
    if "overlap_s" in detail:
        words.append(
            _("together {min} min, {m:.0f} m apart").format(
                min=round(detail["overlap_s"] / 60), m=detail.get("apart_m", 0)
            )
        )
    if "crossings" in detail:
        words.append(
            _("{n} crossings in {h:.1f} h").format(
                n=detail["crossings"], h=detail.get("span_s", 0) / 3600
            )
        )
    if "spikes" in detail:
        words.append(_("{n} position jumps").format(n=detail["spikes"]))
    if "jumps" in detail:
        words.append(_("{n} jumps between two places").format(n=detail["jumps"]))
    if "corridor_id" in detail:
        words.append(_("corridor {id}").format(id=detail["corridor_id"]))
    words.append(_distance(event.get("distance_to_border_m"), _))
    crossing = event.get("distance_to_crossing_m")
    if crossing is not None and not np.isnan(crossing) and crossing < 1e7:
        words.append(_("{km:.1f} km from an official crossing").format(km=crossing / 1000))
    return ", ".join(w for w in words if w)


def _patrol_layer(
    m: folium.Map, plan: Mapping[str, Any], name: str, _: Callable[[str], str]
) -> str:
    """A patrol plan: routes and waypoints coloured by team, and the base; returns its legend."""
    import folium

    group = folium.FeatureGroup(name=name).add_to(m)
    features = plan.get("features", [])
    routes = [f for f in features if f["properties"].get("kind") == "route"]
    stops = [f for f in features if f["properties"].get("kind") in ("waypoint", "base")]
    teams = [r["properties"]["team"] for r in routes]
    colour = {team: PATROL_COLOURS[i % len(PATROL_COLOURS)] for i, team in enumerate(teams)}
    team_word = _("team")
    route_cards = [
        _card(
            f"{team_word} {p['team']}",
            [
                (_("hours"), p.get("duration_h")),
                (_("km"), p.get("distance_km")),
                (_("stops"), p.get("stops")),
                (_("risk"), p.get("collected_risk")),
            ],
        )
        for p in (r["properties"] for r in routes)
    ]
    routes_data = _geojson(
        [shapely.geometry.shape(r["geometry"]) for r in routes],
        route_cards,
        [_escape(f"{team_word} {team}") for team in teams],
        colour=[colour[team] for team in teams],
    )
    _add(group, routes_data, None, {"weight": 4, "opacity": 0.9})
    for feature in stops:
        p = feature["properties"]
        lon, lat = feature["geometry"]["coordinates"][:2]
        base = p["kind"] == "base"
        title = (
            _("patrol base")
            if base
            else f"{team_word} {p.get('team')}, {_('stop')} {p.get('order')}"
        )
        card = _card(
            title,
            [
                (_("arrive"), p.get("arrive") or p.get("eta")),
                (_("depart"), p.get("depart")),
                (_("look for"), p.get("look_for")),
                (_("risk"), p.get("risk")),
                (_("why"), p.get("reason")),
            ],
        )
        number = "B" if base else html.escape(str(p.get("order", "")))
        fill = "#000000" if base else colour.get(p.get("team"), "#000000")
        css = "geoint-stop geoint-base" if base else "geoint-stop"
        folium.Marker(
            [lat, lon],
            icon=folium.DivIcon(
                html=f'<div class="{css}" style="background:{fill}">{number}</div>',
                icon_size=(22, 22),
                icon_anchor=(11, 11),
                class_name="geoint-stop-icon",
            ),
            popup=folium.Popup(card, max_width=360),
            tooltip=folium.Tooltip(_escape(title)),
        ).add_to(group)
    summary = {r["properties"]["team"]: r["properties"] for r in routes}
    entries = []
    for team in teams:
        count = sum(1 for f in stops if f["properties"].get("team") == team)
        km = summary.get(team, {}).get("distance_km")
        label = _("{team}: {count} stops").format(
            team=f"{team_word.capitalize()} {team}", count=count
        )
        entries.append((colour[team], label + (f", {km} km" if km else ""), "line"))
    title = _("{name} (numbered stops; B: base)").format(name=name)
    return legend_html(title, entries)


def _seizure_layer(
    seizures: pl.DataFrame, api_url: str | None, tz: ZoneInfo, _: Callable[[str], str]
) -> dict:
    """Seizures up to the day, coloured by commodity, with their CEN fields and photos."""
    rows = list(seizures.iter_rows(named=True))
    title = _("Seizure")
    popups = [
        _card(f"{title} {r['seizure_id']}",
              [(_(f.replace("_", " ")), r.get(f)) for f in SEIZURE_FIELDS], tz=tz,
              foot=_thumbnails(r.get("photos") or [], api_url, _))
        for r in rows
    ]  # fmt: skip
    kinds = [_((r["commodity"] or "other").replace("_", " ")) for r in rows]
    tooltips = [_escape(f"{kind} {r['ts']:%Y-%m-%d}") for kind, r in zip(kinds, rows, strict=True)]
    colours = [COMMODITY_COLOURS.get(r["commodity"], COMMODITY_COLOURS["other"]) for r in rows]
    points = shapely.points(seizures["lon"].to_numpy(), seizures["lat"].to_numpy())
    # Filter values are plain properties: map.js puts them in the DOM as text only.
    filtered = ("seizure_id", "commodity", "transport_mode", "concealment", "origin")
    values = {k: seizures[k].to_list() for k in filtered if k in seizures.columns}
    return _geojson(points, popups, tooltips, colour=colours, **values)


def _partner_layer(partner: pl.DataFrame, tz: ZoneInfo, _: Callable[[str], str]) -> dict:
    """Alerts and events received from partner administrations, as received, with their
    origin (the record's fields are the partner's, redacted by its policy)."""
    titles = {"alerts": _("Partner alert"), "events": _("Partner event")}
    rows = list(partner.iter_rows(named=True))
    popups = []
    for r in rows:
        record = json.loads(r["content"])
        record.pop("position", None)  # drawn as the point
        fields = [(_("origin"), r["origin"]), (_("ts"), r["ts"])]
        fields += [(k.replace("_", " "), _record_value(v)) for k, v in record.items()]
        popups.append(_card(f"{titles[r['kind']]} {r['record_id']}", fields, tz=tz))
    tooltips = [_escape(f"{titles[r['kind']]} · {r['origin']}") for r in rows]
    points = shapely.points(partner["lon"].to_numpy(), partner["lat"].to_numpy())
    return _geojson(
        points, popups, tooltips, colour=[PARTNER_COLOUR] * len(rows), origin=partner["origin"]
    )


def _record_value(value: object) -> object:
    """A received field as shown: lists joined, objects as compact JSON (escaped later)."""
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False)
    return value


def _thumbnails(photos: list[int], api_url: str | None, _: Callable[[str], str]) -> str:
    """A seizure's photo thumbnails, each linking to its photo (served maps only: the offline
    export holds no photos and says how many there are)."""
    if not photos:
        return ""
    if api_url is None:
        note = _("photos: {count} (on the served map only)").format(count=len(photos))
        return f'<p class="geoint-photos">{_escape(note)}</p>'
    word = _escape(_("photo"))
    links = "".join(
        f'<a href="{_escape(f"{api_url}/photos/{p}")}" target="_blank" rel="noopener">'
        f'<img class="geoint-thumb" src="{_escape(f"{api_url}/photos/{p}/thumbnail")}" '
        f'alt="{word} {p}" loading="lazy"></a>'
        for p in photos[:THUMBNAILS_SHOWN]
    )
    return f'<div class="geoint-photos">{links}</div>'


def _alert_layer(data: MapData, api_url: str | None, tz: ZoneInfo, _: Callable[[str], str]) -> dict:
    """The alerts open on the day (event time to last seen), coloured by severity."""
    found = data.alerts
    popups = [_alert_card(alert, api_url, tz, _) for alert in found]
    severities = [_(a["severity"]) for a in found]
    tooltips = [_escape(f"{s}: {a['title']}") for s, a in zip(severities, found, strict=True)]
    points = shapely.points([a["lon"] for a in found], [a["lat"] for a in found])
    return _geojson(
        points,
        popups,
        tooltips,
        colour=[SEVERITY_COLOURS.get(a["severity"], "#999999") for a in found],
        severity=[a["severity"] for a in found],
        rule=[a["rule"] for a in found],
        status=[a["status"] for a in found],
        alert_id=[a["id"] for a in found],
        cell=[a["cell"] for a in found],
        event_id=[(a["event"] or {}).get("event_id") for a in found],
    )


def _alert_card(
    alert: Mapping[str, Any], api_url: str | None, tz: ZoneInfo, _: Callable[[str], str]
) -> str:
    """An alert in words: local times, what was measured, links to its vehicles' tracks and its
    cell, and an acknowledge button when served."""
    event = alert.get("event")
    fields = [
        (_("status"), _(alert["status"])),
        (_("severity"), _(alert["severity"])),
        (_("rule"), alert["rule"]),
        (_("from"), datetime.fromisoformat(alert["event_time"])),
        (_("last seen"), datetime.fromisoformat(alert["last_seen"])),
        (_("times"), alert["count"] if alert["count"] > 1 else None),
        (_("vehicles"), ", ".join(alert["vehicles"])),
        (_("measures"), measures(event, _) if event else None),
        (_("sector"), alert["sector"]),
        (_("raised late"), _late_words(alert.get("raised_late"), _)),
    ]
    lat, lon = float(alert["lat"]), float(alert["lon"])
    zoom, track, ack = _("zoom to the cell"), _("track of {vehicle}"), _("Acknowledge")
    foot = (
        f'<p><button type="button" class="geoint-zoom" data-lat="{lat}" data-lon="{lon}">'
        f"{_escape(zoom)}</button>"
    )
    if api_url is not None:
        for vehicle in alert["vehicles"][:4]:
            foot += (
                f' <button type="button" class="geoint-track" data-vehicle="'
                f'{html.escape(vehicle, quote=True)}">'
                f"{_escape(track.format(vehicle=vehicle))}</button>"
            )
    foot += "</p>"
    if api_url is not None and alert["status"] == "new":
        foot += f'<button type="button" class="geoint-ack" data-alert="{int(alert["id"])}">'
        foot += f"{_escape(ack)}</button>"
    word = _("Alert")
    title = f"{word} {alert['id']}: {_(alert['title'])}"
    return _card(title, fields, foot, tz)


def _late_words(late: Mapping[str, Any] | None, _: Callable[[str], str]) -> str | None:
    """Why an alert came late, in words (None when it did not)."""
    if not late:
        return None
    hours, minutes = divmod(round(late["late_s"] / 60), 60)
    text = _("its pings arrived after pings of the vehicle {hours} h {minutes} min later")
    return (
        text.format(hours=hours, minutes=f"{minutes:02d}") + " (" + _("buffered or delayed") + ")"
    )


def _track_layer(
    pings: pl.DataFrame,
    events: pl.DataFrame,
    vehicle: str,
    tz: ZoneInfo,
    _: Callable[[str], str],
) -> dict:
    """A vehicle's pings of the day in time order (one line and numbered points, thinned to
    `MAX_FEATURES`) and its events of the day."""
    step = max(1, -(-pings.height // MAX_FEATURES))
    points = pings.with_row_index("order", 1).gather_every(step)
    label = _escape(_("vehicle {vehicle}").format(vehicle=vehicle))
    lons, lats = pings["lon"].to_numpy(), pings["lat"].to_numpy()
    lines = [shapely.linestrings(lons, lats)] if pings.height > 1 else []
    popups = [_card(label, [(_("pings"), pings.height)])] * len(lines)
    cards = [
        _card(label, [(_("ping"), f"{order} / {pings.height}"), (_("time"), ts)], tz=tz)
        for order, ts in points.select("order", "ts").iter_rows()
    ]
    event_cards = [
        _card(_(row["event_type"].replace("_", " ")),
              [(_("start"), row["start"]), (_("measures"), measures(row, _))], tz=tz)
        for row in events.iter_rows(named=True)
    ]  # fmt: skip
    geometry = [
        *lines,
        *shapely.points(points["lon"].to_numpy(), points["lat"].to_numpy()),
        *shapely.points(events["lon"].to_numpy(), events["lat"].to_numpy()),
    ]
    kinds = ["line"] * len(lines) + ["ping"] * points.height + ["event"] * events.height
    colours = [TRACK_COLOUR] * (len(lines) + points.height) + [EVENT_COLOUR] * events.height
    return _geojson(
        geometry,
        [*popups, *cards, *event_cards],
        [label] * len(geometry),
        kind=kinds,
        colour=colours,
    )


def _js_strings(_: Callable[[str], str]) -> dict[str, str]:
    """The texts ``map.js`` writes itself (as text, never as HTML)."""
    return {
        "date": _("date"),
        "all": _("all"),
        "none": _("(none)"),
        "events": _("events"),
        "alerts": _("alerts"),
        "seizures": _("seizures on the day"),
        "latestPing": _("latest ping"),
        "partial": _("partial day: the data does not cover it whole"),
        "loading": _("loading…"),
        "failed": _("could not load: "),
        "close": _("close"),
        "layers": _("Layers"),
        "legend": _("Legend"),
        "legendToggle": _("Show or hide the legend"),
        "filters": _("Filters"),
        "filtersToggle": _("Show or hide the filters"),
        "cell": _("Cell"),
        "risk": _("risk"),
        "factors": _("factor points of their maximum"),
        "cellEvents": _("events in the cell"),
        "noEvents": _("no events"),
        "openAlerts": _("open alerts"),
        "noAlerts": _("no open alerts"),
        "nearbySeizures": _("seizures within {km} km"),
        "noSeizures": _("no seizures nearby"),
        "fromBorder": _("{km} km from the border"),
        "fromBorderM": _("{m} m from the border"),
        "away": _("{km} km away"),
        "acknowledged": _("acknowledged (version {version})"),
        "notAcknowledged": _("not acknowledged: "),
        # the cell panel's factors and patrol adjustments (marked in VOCABULARY)
        **{f"factor_{f}": _(f.replace("_", " ")) for f in (*FACTORS, *ADJUSTMENTS)},
    }
