"""What to look for at each stop, in plain words, from the cells' events, alerts and seizures.

`read_evidence` gathers what a shift's plan is explained by (the events of the last
``look_back_days``, the open alerts, the seizures of the last ``seizure_look_back_days`` and the
region's named places); `describe_stops` writes each stop's ``look_for``, e.g. "night
unofficial crossings on the track 4 km north of Idiroko; 3 in the last 7 days", and its
``look_for_fr`` in French for the brief on paper ("franchissements hors poste de nuit sur la
piste à 4 km au nord de Idiroko ; 3 ces 7 derniers jours").
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
# The same in French, for briefs of French-speaking units (geoint patrol brief --lang fr).
EVENT_WORDS_FR = {
    "border_crossing": "franchissements au poste",
    "unofficial_crossing": "franchissements hors poste",
    "closed_hours_crossing": "franchissements à un poste fermé",
    "dark_crossing": "franchissements balise éteinte",
    "signal_gap_near_border": "balises muettes près de la frontière",
    "border_loiter": "véhicules en attente à la frontière",
    "rendezvous": "rencontres de véhicules",
    "off_road_near_border": "conduite hors piste",
    "shuttle": "navettes à travers la frontière",
    "route_deviation": "camions en transit hors corridor",
    "unauthorized_stop": "camions en transit arrêtés hors corridor",
    "transit_overdue": "camions en transit en retard",
    "watchlist_hit": "véhicules signalés",
    "identity_conflict": "plaques clonées",
    "gnss_anomaly": "brouillage GPS",
}
FACTOR_WORDS_FR = {
    "events": "mouvements suspects",
    "hotspot": "point chaud d'événements frontaliers",
    "anomaly": "trafic inhabituel",
    "seizure_prior": "zone de saisies passées",
    "remoteness": "terrain isolé, loin des routes et des villes",
    "border": "terrain proche de la frontière",
    "night": "trafic de nuit",
}
_COMPASS_FR = (
    "au nord",
    "au nord-est",
    "à l'est",
    "au sud-est",
    "au sud",
    "au sud-ouest",
    "à l'ouest",
    "au nord-ouest",
)
_ROADS_FR = {
    "motorway": "l'autoroute",
    "trunk": "la route nationale",
    "primary": "la route principale",
    "secondary": "la route secondaire",
    "tertiary": "la route tertiaire",
}
_SEVERITY_FR = {"Extreme": "extrême", "Severe": "sévère", "Moderate": "modérée", "Minor": "mineure"}
_COMMODITIES_FR = {
    "drugs": "drogues",
    "tobacco": "tabac",
    "alcohol": "alcool",
    "ipr_counterfeit": "contrefaçons",
    "wildlife": "faune sauvage",
    "timber": "bois",
    "weapons": "armes",
    "explosives_precursors": "précurseurs d'explosifs",
    "currency": "devises",
    "waste_ods": "déchets et SAO",
    "medicines": "médicaments",
    "fuel": "carburant",
    "other": "autres",
}
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
            stop.look_for_fr = look_for(stop, evidence, road, settings, "fr")


def look_for(
    stop: Stop, evidence: Evidence, road: str | None, settings: PatrolSettings, lang: str = "en"
) -> str:
    """One stop in words (English, or French with `lang` "fr"): what happened in its cells,
    where, how often, alerts and seizures."""
    fr = lang == "fr"
    names = EVENT_WORDS_FR if fr else EVENT_WORDS
    cells = pl.Series(stop.cells or [stop.cell], dtype=pl.UInt64).implode()
    events = evidence.events.filter(
        pl.col("cell").is_in(cells), pl.col("event_type") != "border_crossing"
    )
    where = f"{_on(road, fr)} {_near(stop.lat, stop.lon, evidence.places, fr)}".strip()
    days = evidence.look_back_days
    if events.height:
        counts = events.group_by("event_type").agg(
            pl.len().alias("n"), pl.col("night").mean().alias("night")
        )
        counts = counts.sort(["n", "event_type"], descending=[True, False])
        kind, n, night = counts.row(0)
        words = names.get(kind, kind.replace("_", " "))
        if kind == "off_road_near_border":
            where = where.removeprefix("hors piste" if fr else "off-road").strip()
        if fr:
            text = f"{words}{' de nuit' if night >= 0.5 else ''} {where} ; {n} ces {days} "
            text += "derniers jours"
        else:
            text = f"{'night ' if night >= 0.5 else ''}{words} {where}; {n} in the last {days} days"
        if counts.height > 1:
            others = [f"{names.get(k, k)} ({m})" for k, m, _ in counts.rows()[1:3]]
            text += (" ; aussi " if fr else "; also ") + ", ".join(others)
    else:
        factors = FACTOR_WORDS_FR if fr else FACTOR_WORDS
        fallback = "activité" if fr else "activity"
        text = f"{factors.get(_top_factor(stop.reason), fallback)} {where}"
    alerts = evidence.alerts.filter(pl.col("cell").is_in(cells))
    if alerts.height:
        worst = alerts["severity"].to_list()
        order = ("Extreme", "Severe", "Moderate", "Minor")
        severest = min(worst, key=lambda s: order.index(s) if s in order else len(order))
        plural = "s" if alerts.height > 1 else ""
        if fr:
            grade = _SEVERITY_FR.get(severest, severest)
            text += f" ; {alerts.height} alerte{plural} ouverte{plural} ({grade})"
        else:
            text += f"; {alerts.height} open alert{plural} ({severest})"
    return text + _seizures(stop, evidence.seizures, settings, fr)


def _on(road: str | None, fr: bool = False) -> str:
    if road is None:
        return "hors piste" if fr else "off-road"
    if road == "track":
        return "sur la piste" if fr else "on the track"
    return f"sur {_ROADS_FR.get(road, road)}" if fr else f"on the {road} road"


def _near(lat: float, lon: float, places: pl.DataFrame, fr: bool = False) -> str:
    """'4 km north of Idiroko' (the nearest named place), 'at Idiroko' within 1 km."""
    if places.is_empty():
        return ""
    metres = haversine_m(lat, lon, places["lat"].to_numpy(), places["lon"].to_numpy())
    i = int(np.argmin(metres))
    name = places["name"][i]
    if metres[i] < 1000:
        return f"à {name}" if fr else f"at {name}"
    east = (lon - places["lon"][i]) * np.cos(np.radians(lat))
    north = lat - places["lat"][i]
    sector = int((np.degrees(np.arctan2(east, north)) % 360 + 22.5) // 45) % 8
    if fr:
        return f"à {metres[i] / 1000:.0f} km {_COMPASS_FR[sector]} de {name}"
    return f"{metres[i] / 1000:.0f} km {_COMPASS[sector]} of {name}"


def _top_factor(reason: str) -> str | None:
    """The first factor named in a stop's reason ('risk 41.3 on D: events 18.5, ...')."""
    _, _, factors = reason.partition(": ")
    return factors.split(" ")[0] if factors else None


def _seizures(stop: Stop, seizures: pl.DataFrame, settings: PatrolSettings, fr: bool) -> str:
    """'; 4 seizures within 5 km in 90 days, mostly tobacco' (empty when none)."""
    if seizures.is_empty():
        return ""
    metres = haversine_m(stop.lat, stop.lon, seizures["lat"].to_numpy(), seizures["lon"].to_numpy())
    near = seizures.filter(pl.Series(metres <= settings.seizure_radius_m))
    if near.is_empty():
        return ""
    radius = f"{settings.seizure_radius_m / 1000:g} km"
    days = settings.seizure_look_back_days
    plural = "s" if near.height > 1 else ""
    if fr:
        text = f" ; {near.height} saisie{plural} à moins de {radius} en {days} jours"
    else:
        text = f"; {near.height} seizure{plural} within {radius} in {days} days"
    commodity = near["commodity"].drop_nulls().mode().sort()
    if not len(commodity):
        return text
    name = _COMMODITIES_FR.get(commodity[0], commodity[0]) if fr else commodity[0]
    mostly = ("surtout " if fr else "mostly ") if near.height > 1 else ""
    return f"{text}, {mostly}{name}"
