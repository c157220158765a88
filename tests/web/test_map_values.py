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


def test_an_alert_raised_late_says_so_and_why_in_its_popup():
    alert = {
        "id": 7, "title": "Unofficial crossing", "status": "new", "severity": "Severe",
        "rule": "unofficial-crossing", "event_time": "2026-09-14T02:04:00+00:00",
        "last_seen": "2026-09-14T02:05:00+00:00", "count": 1, "vehicles": ["V1"],
        "sector": "south", "lat": 8.0, "lon": 2.69,
        "raised_late": {"late_s": 8040, "reason": "Raised late: ..."},
    }  # fmt: skip
    tz = ZoneInfo("Africa/Lagos")
    english = web_map._alert_card(alert, None, tz, gettext_for("en"))
    assert "raised late" in english
    assert "arrived after pings of the vehicle 2 h 14 min later (buffered or delayed)" in english
    french = web_map._alert_card(alert, None, tz, gettext_for("fr"))
    assert "levée en retard" in french and "postérieures de 2 h 14 min" in french
    on_time = web_map._alert_card(alert | {"raised_late": None}, None, tz, gettext_for("en"))
    assert "raised late" not in on_time
