"""Values the map must draw whatever the data: an event with nothing to measure to."""

from zoneinfo import ZoneInfo

from support.alerts import events

from geoint.web import map as web_map
from geoint.web.i18n import gettext_for


def test_an_event_in_a_region_without_crossings_is_drawn():
    # found by `geoint bench soak` on the shipped region (no crossings): /map answered 500
    rows = events({"event_id": "E1"}).with_columns(
        distance_to_crossing_m=float("inf"), distance_to_border_m=float("inf")
    )
    layer = web_map._event_layer(rows, ZoneInfo("Africa/Lagos"), gettext_for("en"))
    [feature] = layer["features"]
    popup = feature["properties"]["popup"]
    assert "unofficial crossing" in popup and "inf" not in popup
