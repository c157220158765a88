"""What to look for at each stop, in plain words, from the cells' events, alerts and seizures.

`read_evidence` gathers what a shift's plan is explained by (the events of the last
``look_back_days``, the open alerts, the seizures of the last ``seizure_look_back_days`` and the
region's named places); `describe_stops` writes each stop's ``look_for``, e.g. "night
unofficial crossings on the track 4 km north of Idiroko; 3 in the last 7 days".
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
import polars as pl
import sqlalchemy as sa

from geoint.geodesy import haversine_m
from geoint.h3index import hex_to_cells
from geoint.layers.region import Region
from geoint.patrol.plan import PatrolPlan, Stop, TravelGraph
from geoint.settings import PatrolSettings
from geoint.store.tables import alerts as alerts_table
from geoint.store.workspace import Workspace
from geoint.times import as_utc

# What a field team looks for, by event type (plural, as seen on the ground).
EVENT_WORDS = {
    "border_crossing": "crossings at the post",
    "unofficial_crossing": "unofficial crossings",
    "closed_hours_crossing": "crossings at a closed post",
    "dark_crossing": "crossings with trackers off",
    "signal_gap_near_border": "trackers going silent near the border",
    "border_loiter": "vehicles waiting by the border",
    "rendezvous": "vehicles meeting",
    "off_road_near_border": "off-road driving",
    "shuttle": "vehicles shuttling across",
    "route_deviation": "transit trucks off their corridor",
    "unauthorized_stop": "transit trucks stopping off the corridor",
    "transit_overdue": "overdue transit trucks",
    "watchlist_hit": "watch-listed vehicles",
    "identity_conflict": "cloned plates",
    "gnss_anomaly": "GPS jamming",
}
# When the cells had no event: the strongest risk factor, in words.
FACTOR_WORDS = {
    "events": "suspicious movements",
    "hotspot": "a hot spot of border events",
    "anomaly": "unusual traffic",
    "seizure_prior": "ground where seizures were made",
    "remoteness": "remote ground away from roads and towns",
    "border": "ground close to the border",
    "night": "night traffic",
}
_COMPASS = (
    "north",
    "north-east",
    "east",
    "south-east",
    "south",
    "south-west",
    "west",
    "north-west",
)
_OPEN = ("new", "acknowledged")
_TOWNS = ("town", "city", "village")


@dataclass(frozen=True)
class Evidence:
    """What the stops are described from: ``events`` (event_type, night, cell), ``alerts``
    (cell, severity), ``seizures`` (ts, lat, lon, commodity), ``places`` (name, lat, lon)."""

    events: pl.DataFrame
    alerts: pl.DataFrame
    seizures: pl.DataFrame
    places: pl.DataFrame
    look_back_days: int


def read_evidence(
    workspace: Workspace, region: Region, start: datetime, settings: PatrolSettings
) -> Evidence:
    """The workspace's evidence before a shift starting at `start`."""
    start = as_utc(start)
    since = start - timedelta(days=settings.look_back_days)
    events = workspace.read_events().filter(pl.col("start").is_between(since, start, "left"))
    query = sa.select(alerts_table.c.cell, alerts_table.c.severity).where(
        alerts_table.c.status.in_(_OPEN), alerts_table.c.event_time < start
    )
    with workspace.engine.connect() as conn:
        found = conn.execute(query).all()
    alerts = pl.DataFrame(
        {
            "cell": pl.Series(hex_to_cells([c for c, _ in found]), dtype=pl.UInt64),
            "severity": [s for _, s in found],
        },
        schema={"cell": pl.UInt64, "severity": pl.String},
    )
    seizures = workspace.read_table("seizures", columns=["ts", "lat", "lon", "commodity"]).filter(
        pl.col("ts").is_between(
            start - timedelta(days=settings.seizure_look_back_days), start, "left"
        )
    )
    return Evidence(events, alerts, seizures, _places(region), settings.look_back_days)


def _places(region: Region) -> pl.DataFrame:
    """The region's named towns as points (polygons by a point inside): the landmarks a team
    knows; every named place when the layer has no ``kind`` column."""
    empty = pl.DataFrame(schema={"name": pl.String, "lat": pl.Float64, "lon": pl.Float64})
    if not region.files("places"):
        return empty
    frame = region.read("places")
    if frame.empty or "name" not in frame:
        return empty
    named = frame[frame["name"].notna()].to_crs(4326)
    if "kind" in named:
        named = named[named["kind"].isna() | named["kind"].isin(_TOWNS)]
    points = named.geometry.representative_point()
    return pl.DataFrame(
        {"name": named["name"].astype(str).tolist(), "lat": points.y.values, "lon": points.x.values}
    )


def describe_stops(
    plan: PatrolPlan, evidence: Evidence, graph: TravelGraph, settings: PatrolSettings
) -> None:
    """Write every stop's ``look_for`` (in place)."""
    by_speed = {}
    for name, speed in sorted(settings.road_speed_kmh.items(), key=lambda kv: kv[1]):
        by_speed.setdefault(speed, name)
    for team in plan.teams:
        for stop in team.stops:
            row = graph.index(np.array([stop.cell], dtype=np.uint64))[0]
            road = (
                by_speed.get(float(graph.speed_kmh[row]), "track")
                if row >= 0 and graph.road[row]
                else None
            )
            stop.look_for = look_for(stop, evidence, road, settings)


def look_for(stop: Stop, evidence: Evidence, road: str | None, settings: PatrolSettings) -> str:
    """One stop in words: what happened in its cells, where, how often, alerts and seizures."""
    cells = pl.Series(stop.cells or [stop.cell], dtype=pl.UInt64).implode()
    events = evidence.events.filter(
        pl.col("cell").is_in(cells), pl.col("event_type") != "border_crossing"
    )
    where = f"{_on(road)} {_near(stop.lat, stop.lon, evidence.places)}".strip()
    if events.height:
        counts = events.group_by("event_type").agg(
            pl.len().alias("n"), pl.col("night").mean().alias("night")
        )
        counts = counts.sort(["n", "event_type"], descending=[True, False])
        kind, n, night = counts.row(0)
        words = EVENT_WORDS.get(kind, kind.replace("_", " "))
        if kind == "off_road_near_border":
            where = where.removeprefix("off-road").strip()
        text = f"{'night ' if night >= 0.5 else ''}{words} {where}; {n} in the last "
        text += f"{evidence.look_back_days} days"
        if counts.height > 1:
            others = [f"{EVENT_WORDS.get(k, k)} ({m})" for k, m, _ in counts.rows()[1:3]]
            text += "; also " + ", ".join(others)
    else:
        text = f"{FACTOR_WORDS.get(_top_factor(stop.reason), 'activity')} {where}"
    alerts = evidence.alerts.filter(pl.col("cell").is_in(cells))
    if alerts.height:
        worst = alerts["severity"].to_list()
        order = ("Extreme", "Severe", "Moderate", "Minor")
        severest = min(worst, key=lambda s: order.index(s) if s in order else len(order))
        plural = "s" if alerts.height > 1 else ""
        text += f"; {alerts.height} open alert{plural} ({severest})"
    return text + _seizures(stop, evidence.seizures, settings)


def _on(road: str | None) -> str:
    if road is None:
        return "off-road"
    return "on the track" if road == "track" else f"on the {road} road"


def _near(lat: float, lon: float, places: pl.DataFrame) -> str:
    """'4 km north of Idiroko' (the nearest named place), 'at Idiroko' within 1 km."""
    if places.is_empty():
        return ""
    metres = haversine_m(lat, lon, places["lat"].to_numpy(), places["lon"].to_numpy())
    i = int(np.argmin(metres))
    name = places["name"][i]
    if metres[i] < 1000:
        return f"at {name}"
    east = (lon - places["lon"][i]) * np.cos(np.radians(lat))
    north = lat - places["lat"][i]
    bearing = np.degrees(np.arctan2(east, north)) % 360
    return f"{metres[i] / 1000:.0f} km {_COMPASS[int((bearing + 22.5) // 45) % 8]} of {name}"


def _top_factor(reason: str) -> str | None:
    """The first factor named in a stop's reason ('risk 41.3 on D: events 18.5, ...')."""
    _, _, factors = reason.partition(": ")
    return factors.split(" ")[0] if factors else None


def _seizures(stop: Stop, seizures: pl.DataFrame, settings: PatrolSettings) -> str:
    """'; 4 seizures within 5 km in 90 days, mostly tobacco' (empty when none)."""
    if seizures.is_empty():
        return ""
    metres = haversine_m(stop.lat, stop.lon, seizures["lat"].to_numpy(), seizures["lon"].to_numpy())
    near = seizures.filter(pl.Series(metres <= settings.seizure_radius_m))
    if near.is_empty():
        return ""
    radius = f"{settings.seizure_radius_m / 1000:g} km"
    days = settings.seizure_look_back_days
    text = f"; {near.height} seizure{'s' if near.height > 1 else ''} within {radius} in {days} days"
    commodity = near["commodity"].drop_nulls().mode().sort()
    if not len(commodity):
        return text
    return text + (f", mostly {commodity[0]}" if near.height > 1 else f", {commodity[0]}")
