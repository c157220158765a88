"""The ``/trends`` page (CEN-style seizure trends): filters, charts, a small map, data quality.

The page is a static shell: ``web/static/trends.js`` asks the API for the numbers
(``/api/v1/seizures/trends``, ``/summary``, ``/api/v1/quality``) with the browser's session and
draws them with Vega-Lite (vendored under ``web/static/vendor``, nothing from a CDN); each chart's
menu exports it as PNG or SVG. The region's border for the map and the vocabularies go into
the page as JSON (Jinja's ``tojson`` escapes ``<``, ``>``, ``&`` and quotes), never as markup.
"""

from __future__ import annotations

from typing import Any

import orjson
import shapely
from jinja2 import Environment, select_autoescape

from geoint.layers import Region
from geoint.palette import COMMODITY_COLOURS
from geoint.schema import COMMODITIES, DIRECTIONS, SEIZURE_TREND_FIELDS, TRANSPORT_MODES

BORDER_TOLERANCE_DEG = 0.005  # about 500 m: a map a few hundred pixels wide needs no more

_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Seizure trends</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="{{ static }}/trends.css">
<script src="{{ static }}/vendor/vega/vega.min.js"></script>
<script src="{{ static }}/vendor/vega-lite/vega-lite.min.js"></script>
<script src="{{ static }}/vendor/vega-embed/vega-embed.min.js"></script>
<script id="geoint-config" type="application/json">{{ config|tojson }}</script>
</head>
<body>
<header><h1>Seizure trends</h1><nav><a href="{{ map_url }}">map</a></nav></header>
<form id="filters" autocomplete="off">
  <label>group by <select name="by">{% for f in fields %}
    <option value="{{ f }}">{{ f.replace("_", " ") }}</option>{% endfor %}</select></label>
  <label>period <select name="period"><option value="day">day</option>
    <option value="week">week</option>
    <option value="month" selected>month</option></select></label>
  <label>from <input type="date" name="from"></label>
  <label>to <input type="date" name="to"></label>
  {% for name, values in vocabularies %}
  <label>{{ name.replace("_", " ") }} <select name="{{ name }}"><option value="">any</option>
    {% for v in values %}<option value="{{ v }}">{{ v }}</option>{% endfor %}</select></label>
  {% endfor %}
  {% for name in free_text %}
  <label>{{ name.replace("_", " ") }} <input type="text" name="{{ name }}" size="12"></label>
  {% endfor %}
  <label>text <input type="search" name="q" size="14"></label>
</form>
<p id="status" role="status"></p>
<main class="grid">
  <figure class="wide"><figcaption>Seizures per period</figcaption>
    <div id="chart-series"></div></figure>
  <figure><figcaption>By means of transport</figcaption><div id="chart-transport"></div></figure>
  <figure><figcaption>By concealment method</figcaption><div id="chart-concealment"></div></figure>
  <figure><figcaption>Top routes (origin → destination)</figcaption>
    <div id="chart-routes"></div></figure>
  <figure><figcaption>Where (latest seizures)</figcaption><div id="chart-map"></div></figure>
  <figure class="wide"><figcaption>Data quality (WCO Data Quality Charter)</figcaption>
    <div id="quality"></div></figure>
</main>
<script src="{{ static }}/trends.js"></script>
</body>
</html>
"""
_ENV = Environment(autoescape=select_autoescape(default=True, default_for_string=True))


def build_trends_page(region: Region, static_url: str, api_url: str, map_url: str) -> str:
    """The page's HTML for `region`; assets under `static_url`, data from `api_url`."""
    border = region.read("border").geometry.to_numpy()
    simplified = shapely.simplify(border, BORDER_TOLERANCE_DEG)
    config: dict[str, Any] = {
        "api": api_url.rstrip("/"),
        "colours": COMMODITY_COLOURS,
        "border": {
            "type": "FeatureCollection",
            "features": [
                {"type": "Feature", "properties": {}, "geometry": orjson.loads(g)}
                for g in shapely.to_geojson(simplified)
            ],
        },
    }
    return _ENV.from_string(_PAGE).render(
        static=static_url.rstrip("/"),
        map_url=map_url,
        config=config,
        fields=SEIZURE_TREND_FIELDS,
        vocabularies=(
            ("commodity", COMMODITIES),
            ("transport_mode", TRANSPORT_MODES),
            ("direction", DIRECTIONS),
        ),
        free_text=(
            "concealment",
            "detection_method",
            "origin_country",
            "destination_country",
            "crossing",
            "origin",
        ),
    )
