"""Values the map must draw whatever the data: an event with nothing to measure to."""

from datetime import date
from types import SimpleNamespace

import folium
from support.alerts import events

from geoint.web import map as web_map


def test_an_event_in_a_region_without_crossings_is_drawn():
    # found by `geoint bench soak` on the shipped region (no crossings): /map answered 500
    rows = events({"event_id": "E1"}).with_columns(distance_to_crossing_m=float("inf"))
    m = folium.Map(tiles=None)
    web_map._event_layer(m, SimpleNamespace(events=rows, day=date(2026, 9, 14)))
    page = m.get_root().render()
    assert "to crossing (m)" in page and "none" in page
