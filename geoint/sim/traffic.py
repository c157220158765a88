"""Legitimate traffic: cars, trucks, buses and motorcycles going about their business.

Vehicles drive the legitimate roads of the `Scenery` at their class's speed, dwell in places
(reporting, standing still inside them), stop reporting only when parked overnight far from the
border, cross the border only on a road through an official crossing that is open (with half an
hour to spare) after a short customs wait beside it, at most twice in any 24 hours. Declared
transit trucks drive their corridor's centre line, rest only in its stop areas and arrive well
before their deadline. Nothing here satisfies an event definition except `border_crossing`.
Loops run over vehicles and their trips, never over pings.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import shapely

from geoint.ground import Ground
from geoint.sim.motion import Track
from geoint.sim.scenery import Leg, Place, Scenery

HOUR = 3_600.0
MINUTE = 60.0
CUSTOMS_BEFORE_BORDER_M = 150.0
OPEN_MARGIN_S = 30 * MINUTE  # legitimate crossings are this far inside opening hours
TRANSIT_WAITS_S = 45 * MINUTE  # typical rest and customs time of a corridor trip


@dataclass(frozen=True)
class VehicleClass:
    """How a class of vehicle drives: speed factor, trips a day, dwell minutes, reach."""

    name: str
    factor: tuple[float, float]
    trips: tuple[int, int]
    dwell_min: tuple[float, float]
    reach_m: float
    cross_share: float


CLASSES = {
    "car": VehicleClass("car", (0.9, 1.1), (2, 3), (20, 90), 250_000, 0.12),
    "truck": VehicleClass("truck", (0.72, 0.85), (1, 2), (30, 120), 600_000, 0.25),
    "bus": VehicleClass("bus", (0.8, 0.9), (3, 5), (10, 20), 200_000, 0.0),
    "motorcycle": VehicleClass("motorcycle", (0.6, 0.8), (2, 4), (15, 60), 60_000, 0.05),
}


class Clock:
    """Scenario time: float seconds since the start date's midnight UTC, local days and hours."""

    def __init__(self, start: date, days: int, timezone: str) -> None:
        self.epoch = datetime.combine(start, time(0), tzinfo=UTC)
        self.days = days
        self.zone = ZoneInfo(timezone)
        self.start_date = start
        self.end = days * 24 * HOUR

    def local_midnight(self, day: int) -> float:
        """Return the scenario time of local midnight starting `day` (0-based)."""
        local = datetime.combine(self.start_date + timedelta(days=day), time(0), tzinfo=self.zone)
        return (local - self.epoch).total_seconds()

    def datetime64(self, t: np.ndarray) -> np.ndarray:
        """Return numpy UTC datetimes (microseconds) of scenario times."""
        base = np.datetime64(self.epoch.replace(tzinfo=None), "us")
        return base + np.round(np.asarray(t, dtype=float) * 1e6).astype("timedelta64[us]")


@dataclass
class Vehicle:
    """A vehicle and its device, where it stands, and the crossings it has planned."""

    vehicle_id: str
    kind: str
    role: str  # "legit", "transit" or a planted behaviour
    factor: float
    track: Track
    place: Place
    crossings: list[float] = field(default_factory=list)
    corridor: Corridor | None = None  # transit trucks: the corridor they drive

    @property
    def side(self) -> int:
        return self.place.side

    def crossing_budget(self, t_x: float, allowed: int = 1) -> bool:
        """Whether at most `allowed` other crossings fall within 24 h of `t_x`."""
        return sum(abs(c - t_x) < 24 * HOUR for c in self.crossings) <= allowed


def open_departure(
    ground: Ground,
    clock: Clock,
    crossing: int,
    earliest: float,
    to_border_s: float | list[float],
    want_open: bool,
    margin_s: float,
    horizon_s: float = 36 * HOUR,
) -> float | None:
    """Return the first departure ≥ `earliest` (5-minute steps) whose crossing times (seconds
    after departure) are all `margin_s` inside the crossing's open (or closed) hours, or None
    within `horizon_s`."""
    departures = earliest + np.arange(0.0, horizon_s, 5 * MINUTE)
    ok = np.ones(len(departures), dtype=bool)
    rows = np.full(len(departures), crossing)
    for offset in np.atleast_1d(to_border_s):
        for shift in (-margin_s, 0.0, margin_s):
            moment = clock.datetime64(departures + offset + shift)
            ok &= ground.crossing_open(rows, moment) == want_open
    hits = np.flatnonzero(ok)
    return float(departures[hits[0]]) if len(hits) else None


def dwell(vehicle: Vehicle, place: Place, minutes: float, rng: np.random.Generator) -> None:
    """Stand still (reporting) for a while a little off the place's node, then come back."""
    track = vehicle.track
    angle = rng.uniform(0, 2 * np.pi)
    spot = place.xy + rng.uniform(20, 150) * np.array([np.sin(angle), np.cos(angle)])
    track.move(spot, 15 / 3.6)
    track.wait(minutes * MINUTE)
    track.move(place.xy, 15 / 3.6)


def park(vehicle: Vehicle, until: float) -> None:
    """Stay at the current place until `until`: silent if it is a parking place."""
    track = vehicle.track
    track.report(not vehicle.place.parking)
    track.wait_until(until)


class LegitTraffic:
    """Plans legitimate vehicles day by day (and declared transit trucks on corridors)."""

    def __init__(
        self,
        scenery: Scenery,
        clock: Clock,
        rng: np.random.Generator,
        corridors: list[Corridor],
        customs_m: float = CUSTOMS_BEFORE_BORDER_M,
    ) -> None:
        self.scenery = scenery
        self.clock = clock
        self.rng = rng
        self.corridors = corridors
        self.customs_m = customs_m  # where vehicles wait for customs, before the border line
        self._reach: dict[tuple[int, str], list[Place]] = {}

    def plan(self, vehicle: Vehicle, declare: Callable[[dict], None]) -> None:
        """Plan every day of a vehicle (`declare` receives transit declarations)."""
        if vehicle.corridor is not None:
            transit_days(self, vehicle, vehicle.corridor, declare, lambda *_: None)
            return
        bus_route = self._bus_route(vehicle) if vehicle.kind == "bus" else None
        for day in range(self.clock.days):
            depart = self.clock.local_midnight(day) + self.rng.uniform(5.5, 9) * HOUR
            depart = max(depart, vehicle.track.t + HOUR)
            if depart > self.clock.end - 3 * HOUR:
                break
            park(vehicle, depart)
            vehicle.track.report(True)
            kind = CLASSES[vehicle.kind]
            for trip in range(int(self.rng.integers(kind.trips[0], kind.trips[1] + 1))):
                if vehicle.track.t > self.clock.local_midnight(day) + 21 * HOUR:
                    break
                if bus_route is not None:
                    self._drive_to(vehicle, bus_route[(trip + 1) % 2])
                elif not (self.rng.random() < kind.cross_share and self._cross(vehicle)):
                    self._drive_to(vehicle, self._destination(vehicle))
                dwell(vehicle, vehicle.place, self.rng.uniform(*kind.dwell_min), self.rng)
            self._to_parking(vehicle)
        park(vehicle, vehicle.track.t)
        vehicle.track.finish()

    def _destinations(self, vehicle: Vehicle) -> list[Place]:
        """Return the places of the vehicle's side within its class's reach (cached)."""
        here = vehicle.place
        key = (here.node, vehicle.kind)
        if key not in self._reach:
            reach = CLASSES[vehicle.kind].reach_m
            mask = f"side{here.side}"
            self._reach[key] = [
                p
                for p in self.scenery.places
                if p.side == here.side
                and p.node != here.node
                and np.hypot(*(p.xy - here.xy)) <= reach
                and self.scenery.reachable(here, p.node, mask)
            ]
        return self._reach[key]

    def _destination(self, vehicle: Vehicle) -> Place:
        options = self._destinations(vehicle)
        if not options:
            return vehicle.place
        return options[int(self.rng.integers(len(options)))]

    def _bus_route(self, vehicle: Vehicle) -> tuple[Place, Place]:
        options = [p for p in self._destinations(vehicle) if p.kind == "town"] or [vehicle.place]
        return vehicle.place, options[int(self.rng.integers(len(options)))]

    def _drive_to(self, vehicle: Vehicle, place: Place) -> None:
        if place is vehicle.place:
            return
        vehicle.track.drive(
            self.scenery.leg(vehicle.place, place, f"side{place.side}"), vehicle.factor
        )
        vehicle.place = place

    def _to_parking(self, vehicle: Vehicle) -> None:
        if vehicle.place.parking:
            return
        mask = f"side{vehicle.side}"
        options = [
            p for p in self.scenery.parking(vehicle.side)
            if self.scenery.reachable(vehicle.place, p.node, mask)
        ]  # fmt: skip
        if options:
            target = min(
                options, key=lambda p: self.scenery.paths(vehicle.place, mask).cost[p.node]
            )
            self._drive_to(vehicle, target)

    def _cross(self, vehicle: Vehicle) -> bool:
        """Drive to a place across the border through an open official crossing, if any fits."""
        trip = cross_border_trip(self.scenery, vehicle.place, self.rng, self.customs_m)
        if trip is None:
            return False
        leg, to_customs, target, crossing = trip
        wait = self.rng.uniform(5, 18) * MINUTE
        before = leg.cut(0.0, to_customs)
        rest = leg.cut(to_customs, leg.length)
        to_border = (
            before.seconds(vehicle.factor)
            + wait
            + rest.cut(0.0, self.customs_m).seconds(vehicle.factor)
        )
        track = vehicle.track
        depart = open_departure(
            self.scenery.ground, self.clock, crossing, track.t, to_border, True, OPEN_MARGIN_S
        )
        if depart is None or depart > self.clock.end - 2 * HOUR:
            return False
        if not vehicle.crossing_budget(depart + to_border):
            return False
        if depart > track.t:
            track.wait_until(depart)
        track.drive(before, vehicle.factor)
        track.wait(wait)
        track.drive(rest, vehicle.factor)
        vehicle.crossings.append(depart + to_border)
        vehicle.place = target
        return True


def cross_border_trip(
    scenery: Scenery,
    start: Place,
    rng: np.random.Generator,
    customs_m: float = CUSTOMS_BEFORE_BORDER_M,
) -> tuple[Leg, float, Place, int] | None:
    """Return a random route from a place to a parking place across the border through an
    official crossing: (leg, metres to the customs stop, destination, crossing row)."""
    here = start.side
    options = []
    for road in scenery.crossing_roads:
        if not scenery.masks["legit"][road.edge]:
            continue
        u, v = int(scenery.graph.edge_u[road.edge]), int(scenery.graph.edge_v[road.edge])
        near, far = (u, v) if road.first_side == here else (v, u)
        if scenery.reachable(start, near, f"side{here}"):
            options.append((road, near, far))
    if not options:
        return None
    road, near, far = options[int(rng.integers(len(options)))]
    other = 1 - here
    targets = [p for p in scenery.parking(other) if scenery.reachable(p, far, f"side{other}")]
    if not targets:
        return None
    target = min(targets, key=lambda p: scenery.paths(p, f"side{other}").cost[far])
    forward = road.first_side == here
    approach = scenery.leg_to_node(start, near, f"side{here}")
    edge = scenery.edge_leg(road.edge, forward)
    beyond = scenery.leg_to_node(target, far, f"side{other}").reversed()
    border_at = approach.length + (road.at if forward else edge.length - road.at)
    leg = approach + edge + beyond
    return leg, border_at - customs_m, target, road.crossing


# --------------------------------------------------------------------------- transit
@dataclass(frozen=True)
class Corridor:
    """A transit corridor as a drivable leg, its authorised stop areas and end places."""

    corridor_id: str
    leg: Leg
    stops: np.ndarray  # metres along the leg of each stop area's centre
    ends: tuple[Place, Place]
    crossing: int  # official crossing row on the way, -1 if none
    to_border_m: float  # metres along the leg to the border, inf if none


def corridors_of(scenery: Scenery) -> list[Corridor]:
    """Return the corridors of the region that start and end at reachable places."""
    geography = scenery.geography
    lines = scenery.metric(geography.corridors.geometry.to_numpy())
    areas = scenery.metric(geography.stop_areas.geometry.to_numpy())
    centres = shapely.get_coordinates(shapely.centroid(areas)).reshape(-1, 2)
    found = []
    for corridor_id, line in zip(geography.corridors["corridor_id"], lines, strict=True):
        if line.geom_type != "LineString":
            continue
        coords = shapely.get_coordinates(line)
        ends = [_place_at(scenery, coords[0]), _place_at(scenery, coords[-1])]
        if ends[0] is None or ends[1] is None:
            continue
        leg = Leg.straight(coords, 75 / 3.6)
        mine = (geography.stop_areas["corridor_id"] == corridor_id).to_numpy()
        along = shapely.line_locate_point(line, shapely.points(centres[mine]))
        close = shapely.distance(line, shapely.points(centres[mine])) < 200
        meeting = shapely.get_parts(shapely.intersection(line, scenery.border))
        meeting = meeting[~shapely.is_empty(meeting)]
        crossing, to_border = -1, np.inf
        if len(meeting) == 1:
            lat, lon = scenery.lonlat(shapely.get_coordinates(meeting[0]))
            _, row = scenery.ground.nearest_crossing(lat, lon, 2_000)
            crossing, to_border = int(row[0]), float(line.project(meeting[0]))
        elif len(meeting) > 1:
            continue
        found.append(
            Corridor(
                str(corridor_id),
                leg,
                np.sort(along[close]),
                (ends[0], ends[1]),
                crossing,
                to_border,
            )
        )
    return found


def _place_at(scenery: Scenery, xy: np.ndarray) -> Place | None:
    near = [p for p in scenery.places if np.hypot(*(p.xy - xy)) < 1_000]
    return near[0] if near else None


@dataclass
class TransitTrip:
    """One corridor trip being planned: the truck, its leg (oriented) and declaration."""

    vehicle: Vehicle
    corridor: Corridor
    forward: bool
    leg: Leg
    stops: np.ndarray
    to_border_m: float


def transit_days(
    traffic: LegitTraffic,
    vehicle: Vehicle,
    corridor: Corridor,
    declare: Callable[[dict], None],
    anomaly: Callable[[TransitTrip, int], dict | None],
) -> None:
    """Drive a corridor end to end once a day (alternating directions), declared each time.

    `anomaly(trip, day)` may plant behaviour on the trip (it drives the truck and returns the
    declaration fields it changes) or return None for a compliant trip.
    """
    rng, clock = traffic.rng, traffic.clock
    forward = vehicle.place is corridor.ends[0]
    for day in range(clock.days):
        depart = max(
            clock.local_midnight(day) + rng.uniform(3, 12) * HOUR, vehicle.track.t + 4 * HOUR
        )
        leg = corridor.leg if forward else corridor.leg.reversed()
        stops = corridor.stops if forward else np.sort(leg.length - corridor.stops)
        to_border = corridor.to_border_m if forward else leg.length - corridor.to_border_m
        trip = TransitTrip(vehicle, corridor, forward, leg, stops, to_border)
        expected = leg.seconds(vehicle.factor) + 2 * HOUR
        to_x = np.inf
        if corridor.crossing >= 0:
            # a rest and the customs wait may come before the border: allow for them roughly,
            # and keep the crossing hours away from closing time
            to_x = leg.cut(0.0, to_border).seconds(vehicle.factor) + TRANSIT_WAITS_S
            depart = open_departure(
                traffic.scenery.ground, clock, corridor.crossing, depart, to_x, True, 2 * HOUR
            )
            if depart is None or not vehicle.crossing_budget(depart + to_x):
                break
        if depart + expected > clock.end - HOUR:
            break
        park(vehicle, depart)
        vehicle.track.report(True)
        start = vehicle.track.t - rng.uniform(1, 4) * MINUTE
        declaration = {
            "vehicle_id": vehicle.vehicle_id,
            "corridor_id": corridor.corridor_id,
            "start": start,
            "deadline": start + expected * rng.uniform(1.5, 2.0) + HOUR,
            "destination": leg.end,
        }
        changes = anomaly(trip, day)
        if changes is None:
            drive_corridor(traffic, trip, rng.uniform(30, 80) * MINUTE)
        else:
            declaration |= changes
        if np.isfinite(to_x):
            vehicle.crossings.append(depart + to_x)
        declare(declaration)
        end = corridor.ends[1] if forward else corridor.ends[0]
        if np.hypot(*(vehicle.track.xy - end.xy)) < 1_000:
            vehicle.place = end
            dwell(vehicle, end, rng.uniform(20, 60), rng)
        forward = not forward
    park(vehicle, vehicle.track.t)
    vehicle.track.finish()


def drive_corridor(
    traffic: LegitTraffic,
    trip: TransitTrip,
    rest_s: float,
    start_m: float = 0.0,
    stop_m: float | None = None,
) -> None:
    """Drive the corridor between two distances, resting in the first stop area on the way
    for `rest_s` and waiting at customs when crossing the border."""
    vehicle, leg = trip.vehicle, trip.leg
    stop_m = leg.length if stop_m is None else stop_m
    customs = trip.to_border_m - traffic.customs_m
    marks = sorted(
        [(m, "rest") for m in trip.stops[(trip.stops > start_m) & (trip.stops < stop_m)][:1]]
        + ([(customs, "customs")] if start_m < customs < stop_m else [])
    )
    at = start_m
    for mark, what in marks:
        vehicle.track.drive(leg.cut(at, mark), vehicle.factor)
        vehicle.track.wait(rest_s if what == "rest" else traffic.rng.uniform(5, 18) * MINUTE)
        at = mark
    vehicle.track.drive(leg.cut(at, stop_m), vehicle.factor)
