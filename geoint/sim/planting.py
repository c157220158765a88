"""Planted behaviour: one role per planted vehicle, one episode of it a day, and the watch list
and illicit sites that go with them.

Every episode starts and ends parked at a parking place and keeps its values well clear of the
thresholds of docs/events.md (crossings 8 km or more from official ones, loiters of 35 minutes
or more, gaps of 14-24 or 40+ minutes, spikes several times the implausible distance), so that
GPS noise cannot flip a definition. What the pings then imply, side effects included, is
computed by `geoint.sim.truth`; this module only makes it happen. Loops run over vehicles, days and
candidate sites, never over pings.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

import numpy as np
import polars as pl
import shapely

from geoint.schema import UTC_DATETIME
from geoint.settings import GeointSettings
from geoint.sim.motion import Track
from geoint.sim.scenery import Leg, Place, Scenery, Spot
from geoint.sim.traffic import (
    HOUR,
    MINUTE,
    OPEN_MARGIN_S,
    Clock,
    LegitTraffic,
    TransitTrip,
    Vehicle,
    drive_corridor,
    dwell,
    open_departure,
    park,
    transit_days,
)

# role -> vehicle class of the planted vehicles playing it
PLANTED_ROLES: dict[str, str] = {
    "unofficial_track": "motorcycle",
    "unofficial_offroad": "car",
    "closed_hours": "car",
    "dark_crossing": "truck",
    "signal_gap": "car",
    "border_loiter": "car",
    "rendezvous": "truck",
    "off_road": "car",
    "shuttle": "motorcycle",
    "route_deviation": "truck",
    "unauthorized_stop": "truck",
    "transit_overdue": "truck",
    "watchlist": "car",
    "identity": "car",
    "gnss": "truck",
}
TRANSIT_ROLES = ("route_deviation", "unauthorized_stop", "transit_overdue")
CLOSED_MARGIN_S = 45 * MINUTE
NEAR_CHOICES = 3  # a smuggler's new habitual way is one of the 3 nearest to where it is
SHUTTLE_EDGE_M = 20_000.0  # shuttles go back and forth along a crossing edge this long at most
OFF_ROAD_KMH = (15.0, 25.0)
QUIET_BAND_M = (1_500.0, 8_000.0)  # near the border (10 km) with room to spare
FAR_BAND_M = (12_000.0, 18_000.0)  # within 20 km (rendezvous, watch list), not near
WATCH_REASONS = (
    "prior seizure: fuel",
    "prior seizure: tobacco",
    "stolen vehicle report",
    "intelligence: smuggling network",
    "customs risk profile",
)


@dataclass(frozen=True)
class Site:
    """Where and when a planted episode did something illicit (seizures cluster around it)."""

    xy: np.ndarray
    t: float
    vehicle: Vehicle
    from_side: int
    to_side: int


@dataclass(frozen=True)
class Passage:
    """A way across the border along one edge (a road through a crossing, or a track)."""

    edge: int
    near: int  # node on the vehicle's side
    far: int  # node beyond the border
    beyond: Place  # parking place beyond, nearest to `far`
    crossing: int  # official crossing row (-1 for a track)
    forward: bool  # whether `near` is the edge's first node


@dataclass(frozen=True)
class OffRoadCrossing:
    """A way across the border away from roads: road spot, off-road points, road spot."""

    point: np.ndarray  # on the border
    path: np.ndarray  # spot (side 0) ... point ... spot (side 1)
    spots: tuple[Spot, Spot]


def spike_metres(rng: np.random.Generator, settings: GeointSettings, interval_s: float) -> float:
    """Return how far to throw a GPS spike: implausible to both neighbours with a wide margin,
    never half the identity-conflict distance."""
    low = 1.5 * (settings.ingest.spike_speed_kmh + 130.0) / 3.6 * interval_s
    high = 0.7 * settings.events.identity_conflict_distance_m
    return float(rng.uniform(low, max(low, high)))


class Planter:
    """Plans the planted vehicles; keeps their illicit sites (seizures cluster around them) and
    the watch list that goes with them."""

    def __init__(
        self,
        scenery: Scenery,
        clock: Clock,
        rng: np.random.Generator,
        legit: LegitTraffic,
        settings: GeointSettings,
        interval_s: float,
        routes: int = 0,
    ) -> None:
        self.scenery = scenery
        self.clock = clock
        self.rng = rng
        self.legit = legit
        self.settings = settings
        self.interval_s = interval_s
        self.routes = routes
        self._habits: dict[tuple[str, str], list[tuple]] = {}  # (vehicle, kind) -> option keys
        self.extra_tracks: list[Track] = []  # cloned devices
        self.sites: list[Site] = []
        self.watch: list[dict] = []
        self._offroad: list[OffRoadCrossing] | None = None
        self._quiet: dict[tuple[int, float, float], list[Spot]] = {}

    # ---------------------------------------------------------------------- planning
    def plan(self, vehicles: list[Vehicle], declare: Callable[[dict], None]) -> None:
        """Plan every planted vehicle over every day; transit roles declare their trips."""
        episodes = {
            "unofficial_track": self._unofficial_track,
            "unofficial_offroad": self._unofficial_offroad,
            "closed_hours": self._closed_hours,
            "dark_crossing": self._dark_crossing,
            "signal_gap": self._signal_gap,
            "border_loiter": self._loiter,
            "off_road": self._off_road,
            "shuttle": self._shuttle,
            "watchlist": self._watchlist_trip,
            "identity": self._identity,
            "gnss": self._gnss,
        }
        pairs = [v for v in vehicles if v.role == "rendezvous"]
        for first, second in zip(pairs[::2], pairs[1::2], strict=False):
            self._rendezvous_days(first, second)
        for vehicle in vehicles:
            if vehicle.role in TRANSIT_ROLES:
                self._transit(vehicle, declare)
            elif vehicle.role in episodes:
                every = 2 if vehicle.role == "shuttle" else 1
                self._days(vehicle, episodes[vehicle.role], every)
        self._choose_watchlist(vehicles)

    def _days(
        self, vehicle: Vehicle, episode: Callable[[Vehicle, float, int], None], every: int
    ) -> None:
        latest = self.clock.end - 8 * HOUR
        for day in range(0, self.clock.days, every):
            earliest = self.clock.local_midnight(day) + self.rng.uniform(0, 20) * HOUR
            earliest = max(min(earliest, latest), vehicle.track.t + 2 * HOUR)
            if earliest > latest:
                break
            episode(vehicle, earliest, day)
        self._finish(vehicle)

    def _finish(self, vehicle: Vehicle) -> None:
        park(vehicle, vehicle.track.t)
        vehicle.track.finish()

    def _start(self, vehicle: Vehicle, depart: float) -> None:
        """Wait parked until `depart`, then start reporting."""
        park(vehicle, max(depart, vehicle.track.t))
        vehicle.track.report(True)

    def _mask(self, side: int) -> str:
        return f"side{side}"

    def _go_to_spot(self, vehicle: Vehicle, spot: Spot) -> None:
        vehicle.track.drive(
            self.scenery.leg_to_spot(vehicle.place, spot, self._mask(spot.side)), vehicle.factor
        )

    def _home_from(
        self, vehicle: Vehicle, side: int, node: int | None = None, spot: Spot | None = None
    ) -> bool:
        """Drive from a node or spot of `side` to the nearest parking place; stop reporting."""
        mask = self._mask(side)
        best, best_cost = None, np.inf
        for place in self.scenery.parking(side):
            paths = self.scenery.paths(place, mask)
            if node is not None:
                cost = paths.cost[node]
            else:
                u = int(self.scenery.graph.edge_u[spot.edge])
                v = int(self.scenery.graph.edge_v[spot.edge])
                cost = min(paths.cost[u], paths.cost[v])
            if cost < best_cost:
                best, best_cost = place, cost
        if best is None:
            return False
        if node is not None:
            leg = self.scenery.leg_to_node(best, node, mask).reversed()
        else:
            leg = self.scenery.leg_to_spot(best, spot, mask).reversed()
        if len(leg.coords):  # none when the vehicle is already at that parking place
            vehicle.track.move(leg.coords[0], 15 / 3.6)
            vehicle.track.drive(leg, vehicle.factor)
        vehicle.place = best
        vehicle.track.report(False)
        return True

    def _reachable_spots(self, vehicle: Vehicle, spots: list[Spot]) -> list[Spot]:
        cost = self.scenery.paths(vehicle.place, self._mask(vehicle.side)).cost
        graph = self.scenery.graph
        return [
            s
            for s in spots
            if np.isfinite(min(cost[graph.edge_u[s.edge]], cost[graph.edge_v[s.edge]]))
        ]

    def _pick(self, options: list, vehicle: Vehicle | None = None, kind: str = "") -> object | None:
        """Pick one of `options` at random; with `routes`, among the vehicle's habitual ones.

        A smuggler keeps to the first `routes` ways (or spots, or places) of each `kind` it
        took, as smugglers keep to routes they know; a new one, one of the `NEAR_CHOICES`
        nearest to where it is parked (local knowledge), only while it has fewer, or when none
        of its own can be reached from there.
        """
        if not options:
            return None
        if vehicle is None or not self.routes:
            return options[int(self.rng.integers(len(options)))]
        known = self._habits.setdefault((vehicle.vehicle_id, kind), [])
        own = [o for o in options if _habit_key(o) in known]
        if len(known) < self.routes or not own:
            fresh = [o for o in options if _habit_key(o) not in known] or options
            metres = [np.hypot(*(self._habit_xy(o) - vehicle.place.xy)) for o in fresh]
            near = [fresh[i] for i in np.argsort(metres, kind="stable")[:NEAR_CHOICES]]
            choice = near[int(self.rng.integers(len(near)))]
            known.append(_habit_key(choice))
            return choice
        return own[int(self.rng.integers(len(own)))]

    def _habit_xy(self, option: object) -> np.ndarray:
        """Where a way, spot or place is (metric x, y)."""
        if isinstance(option, Place | Spot):
            return option.xy
        if isinstance(option, OffRoadCrossing):
            return option.point
        return self.scenery.graph.nodes[option.near]

    def _site(self, vehicle: Vehicle, xy: np.ndarray, t: float, to_side: int | None = None) -> None:
        side = vehicle.side
        self.sites.append(
            Site(np.asarray(xy), t, vehicle, side, side if to_side is None else to_side)
        )

    def _offroad_speed(self) -> float:
        return self.rng.uniform(*OFF_ROAD_KMH) / 3.6

    # ------------------------------------------------------------------- crossings
    def _passages(self, vehicle: Vehicle, legit: bool) -> list[Passage]:
        """Return the ways across the border from the vehicle's place: roads through official
        crossings (`legit`) or tracks, each with a parking place reachable beyond."""
        scenery = self.scenery
        here, other = vehicle.side, 1 - vehicle.side
        edges = (
            [
                (r.edge, r.first_side, r.crossing)
                for r in scenery.crossing_roads
                if scenery.masks["legit"][r.edge]
            ]
            if legit
            else [(e, scenery.node_side(int(scenery.graph.edge_u[e])), -1) for e in scenery.tracks]
        )
        options = []
        for edge, first_side, crossing in edges:
            u, v = int(scenery.graph.edge_u[edge]), int(scenery.graph.edge_v[edge])
            near, far = (u, v) if first_side == here else (v, u)
            if not scenery.reachable(vehicle.place, near, self._mask(here)):
                continue
            beyond = [
                p for p in scenery.parking(other) if scenery.reachable(p, far, self._mask(other))
            ]
            if beyond:
                target = min(beyond, key=lambda p: scenery.paths(p, self._mask(other)).cost[far])
                options.append(Passage(edge, near, far, target, crossing, first_side == here))
        return options

    def _through(self, vehicle: Vehicle, passage: Passage) -> tuple[Leg, float]:
        """Return the route through a passage to the parking beyond, and metres to the
        border along it."""
        scenery = self.scenery
        here, other = vehicle.side, 1 - vehicle.side
        before = scenery.leg_to_node(vehicle.place, passage.near, self._mask(here))
        middle = scenery.edge_leg(passage.edge, passage.forward)
        after = scenery.leg_to_node(passage.beyond, passage.far, self._mask(other)).reversed()
        meeting = shapely.intersection(shapely.LineString(middle.coords), scenery.border)
        at = shapely.LineString(middle.coords).project(shapely.get_parts(meeting)[0])
        return before + middle + after, before.length + at

    def _cross(self, vehicle: Vehicle, passage: Passage, t_x: float, point: np.ndarray) -> None:
        vehicle.crossings.append(t_x)
        self._site(vehicle, point, t_x, 1 - vehicle.side)
        vehicle.place = passage.beyond

    def _unofficial_track(self, vehicle: Vehicle, earliest: float, day: int) -> None:
        passage = self._pick(self._passages(vehicle, legit=False), vehicle, "track")
        if passage is None:
            return
        leg, to_border = self._through(vehicle, passage)
        self._start(vehicle, earliest)
        t_x = vehicle.track.t + leg.cut(0, to_border).seconds(vehicle.factor)
        vehicle.track.drive(leg, vehicle.factor)
        self._cross(vehicle, passage, t_x, leg.at(to_border))
        vehicle.track.report(False)

    def _closed_hours(self, vehicle: Vehicle, earliest: float, day: int) -> None:
        passages = [p for p in self._passages(vehicle, legit=True) if self._limited(p.crossing)]
        passage = self._pick(passages, vehicle, "crossing")
        if passage is None:
            return
        leg, to_border = self._through(vehicle, passage)
        to_x = leg.cut(0, to_border).seconds(vehicle.factor)
        depart = open_departure(
            self.scenery.ground,
            self.clock,
            passage.crossing,
            earliest,
            to_x,
            False,
            CLOSED_MARGIN_S,
        )
        if depart is None or depart > self.clock.end - 6 * HOUR:
            return
        self._start(vehicle, depart)
        vehicle.track.drive(leg, vehicle.factor)
        self._cross(vehicle, passage, depart + to_x, leg.at(to_border))
        vehicle.track.report(False)

    def _limited(self, crossing: int) -> bool:
        """Whether an official crossing closes at some hour of the day."""
        hours = self.clock.local_midnight(0) + np.arange(0, 24) * HOUR + 30 * MINUTE
        rows = np.full(len(hours), crossing)
        return not self.scenery.ground.crossing_open(rows, self.clock.datetime64(hours)).all()

    def _dark_crossing(self, vehicle: Vehicle, earliest: float, day: int) -> None:
        """Cross while not reporting: a short gap (dark crossing only) or a long one near the
        border (dark crossing and signal gap), on a road or off-road."""
        long = day % 2 == 1
        gap = self.rng.uniform(40, 90) * MINUTE if long else self.rng.uniform(14, 24) * MINUTE
        if long and self.rng.random() < 0.5 and self._dark_offroad(vehicle, earliest, gap):
            return
        passage = self._pick(self._passages(vehicle, legit=True), vehicle, "crossing")
        if passage is None:
            return
        leg, to_border = self._through(vehicle, passage)
        speed = float(np.median(leg.speed)) * vehicle.factor
        half = min(self.rng.uniform(2_500, 6_000), 0.3 * speed * gap)
        off, on = to_border - half, to_border + half
        if off < 500 or on > leg.length - 500:
            return
        self._start(vehicle, earliest)
        vehicle.track.drive(leg.cut(0, off), vehicle.factor)
        vehicle.track.report(False)
        dark_from = vehicle.track.t
        vehicle.track.drive(leg.cut(off, on), vehicle.factor)
        vehicle.track.wait(gap - (vehicle.track.t - dark_from))
        vehicle.track.report(True)
        vehicle.track.drive(leg.cut(on, leg.length), vehicle.factor)
        self._cross(vehicle, passage, dark_from + gap / 2, leg.at(to_border))
        vehicle.track.report(False)

    def _dark_offroad(self, vehicle: Vehicle, earliest: float, gap: float) -> bool:
        way = self._offroad_way(vehicle)
        if way is None:
            return False
        path, spots = way
        self._start(vehicle, earliest)
        self._go_to_spot(vehicle, spots[0])
        vehicle.track.report(False)
        dark_from = vehicle.track.t
        vehicle.track.drive(Leg.straight(path, self._offroad_speed()))
        vehicle.track.wait(gap - (vehicle.track.t - dark_from))
        vehicle.track.report(True)
        side = spots[1].side
        self.sites.append(Site(self._border_point(path), dark_from, vehicle, vehicle.side, side))
        vehicle.crossings.append(dark_from + gap / 2)
        return self._home_from(vehicle, side, spot=spots[1])

    def _unofficial_offroad(self, vehicle: Vehicle, earliest: float, day: int) -> None:
        way = self._offroad_way(vehicle)
        if way is None:
            return
        path, spots = way
        self._start(vehicle, earliest)
        self._go_to_spot(vehicle, spots[0])
        leg = Leg.straight(path, self._offroad_speed())
        point = self._border_point(path)
        t_x = vehicle.track.t + leg.cut(
            0, shapely.LineString(path).project(shapely.Point(point))
        ).seconds(1.0)
        vehicle.track.drive(leg)
        self.sites.append(Site(point, t_x, vehicle, vehicle.side, spots[1].side))
        vehicle.crossings.append(t_x)
        self._home_from(vehicle, spots[1].side, spot=spots[1])

    def _border_point(self, path: np.ndarray) -> np.ndarray:
        meeting = shapely.intersection(shapely.LineString(path), self.scenery.border)
        return shapely.get_coordinates(meeting)[0]

    def _offroad_way(self, vehicle: Vehicle) -> tuple[np.ndarray, tuple[Spot, Spot]] | None:
        """Return a reachable off-road path across the border from the vehicle's side."""
        ways = [
            w
            for w in self._offroad_crossings()
            if w.spots[0].side == vehicle.side or w.spots[1].side == vehicle.side
        ]
        if self.routes:
            reachable = [
                w for w in ways if self._reachable_spots(vehicle, [_from(w, vehicle)[1][0]])
            ]
            way = self._pick(reachable, vehicle, "offroad")
            return None if way is None else _from(way, vehicle)
        self.rng.shuffle(ways)
        for way in ways[:20]:
            path, spots = _from(way, vehicle)
            if self._reachable_spots(vehicle, [spots[0]]):
                return path, spots
        return None

    def _offroad_crossings(self) -> list[OffRoadCrossing]:
        """Return off-road ways across the border, far from crossings, places and roads."""
        if self._offroad is not None:
            return self._offroad
        scenery = self.scenery
        found: list[OffRoadCrossing] = []
        spots = {side: scenery.spots(side) for side in (0, 1)}
        spot_xy = {side: np.array([s.xy for s in spots[side]]).reshape(-1, 2) for side in (0, 1)}
        for part in shapely.get_parts(scenery.border):
            along = np.arange(5_000.0, part.length - 5_000.0, 4_000.0)
            if not len(along):
                continue
            points = shapely.get_coordinates(shapely.line_interpolate_point(part, along))
            lat, lon = scenery.lonlat(points)
            crossing, _ = scenery.ground.nearest_crossing(lat, lon)
            place = scenery.ground.distance_to_place_m(lat, lon)
            road = scenery.ground.distance_to_road_m(lat, lon)
            good = (crossing > 8_000) & (place > 4_000) & (road > 2_000)
            for a, point in zip(along[good], points[good], strict=True):
                way = self._offroad_path(part, a, point, spots, spot_xy)
                if way is not None:
                    found.append(way)
        self._offroad = found
        return found

    def _offroad_path(self, part, along, point, spots, spot_xy) -> OffRoadCrossing | None:
        scenery = self.scenery
        before = np.asarray(part.interpolate(max(along - 1_000, 0)).coords[0])
        after = np.asarray(part.interpolate(min(along + 1_000, part.length)).coords[0])
        tangent = (after - before) / np.hypot(*(after - before))
        normal = np.array([-tangent[1], tangent[0]])
        inner = np.array([point + normal * 2_500, point - normal * 2_500])
        sides = scenery.side(inner)
        if set(sides.tolist()) != {0, 1}:
            return None
        if sides[0] == 1:
            inner = inner[::-1]
        chosen = []
        for side, q in ((0, inner[0]), (1, inner[1])):
            if not len(spot_xy[side]):
                return None
            distance = np.hypot(*(spot_xy[side] - q).T)
            k = int(np.argmin(distance))
            if distance[k] > 12_000:
                return None
            chosen.append(spots[side][k])
        path = np.array([chosen[0].xy, inner[0], point, inner[1], chosen[1].xy])
        dense = shapely.get_coordinates(shapely.segmentize(shapely.LineString(path), 250.0))
        middle = np.hypot(*(dense - point).T) < 1.0
        sides = scenery.side(dense)
        half = np.cumsum(middle) == 0
        if scenery.meets_border(path) != 1 or not (
            (sides[half] == 0).all() and (sides[~half & ~middle] == 1).all()
        ):
            return None
        return OffRoadCrossing(point, path, (chosen[0], chosen[1]))

    # ---------------------------------------------------------------- stops and gaps
    def _quiet_spot(self, vehicle: Vehicle, band: tuple[float, float]) -> Spot | None:
        """Return a random quiet spot reachable from where the vehicle is parked."""
        key = (vehicle.place.node, *band)
        if key not in self._quiet:
            spots = self.scenery.quiet_spots(vehicle.side, band)
            self._quiet[key] = self._reachable_spots(vehicle, spots)
        return self._pick(self._quiet[key], vehicle, f"quiet{band}")

    def _signal_gap(self, vehicle: Vehicle, earliest: float, day: int) -> None:
        spot = self._quiet_spot(vehicle, QUIET_BAND_M)
        if spot is None:
            return
        self._start(vehicle, earliest)
        self._go_to_spot(vehicle, spot)
        vehicle.track.report(False)
        self._site(vehicle, spot.xy, vehicle.track.t)
        vehicle.track.wait(self.rng.uniform(40, 150) * MINUTE)
        vehicle.track.report(True)
        self._home_from(vehicle, spot.side, spot=spot)

    def _loiter(self, vehicle: Vehicle, earliest: float, day: int) -> None:
        spot = self._quiet_spot(vehicle, QUIET_BAND_M)
        if spot is None:
            return
        self._start(vehicle, earliest)
        self._go_to_spot(vehicle, spot)
        aside = self._aside(
            spot, self.rng.uniform(400, 900) if day % 2 else self.rng.uniform(10, 40)
        )
        vehicle.track.move(aside, 12 / 3.6)
        self._site(vehicle, aside, vehicle.track.t)
        vehicle.track.wait(self.rng.uniform(35, 100) * MINUTE)
        vehicle.track.move(spot.xy, 12 / 3.6)
        self._home_from(vehicle, spot.side, spot=spot)

    def _aside(self, spot: Spot, metres: float) -> np.ndarray:
        """Return a point `metres` to one side of the road at a spot."""
        leg = self.scenery.edge_leg(spot.edge)
        ahead = leg.at(min(spot.along + 20, leg.length)) - leg.at(max(spot.along - 20, 0))
        normal = np.array([-ahead[1], ahead[0]]) / max(np.hypot(*ahead), 1e-9)
        return spot.xy + normal * metres * (1 if self.rng.random() < 0.5 else -1)

    def _rendezvous_days(self, first: Vehicle, second: Vehicle) -> None:
        """Two vehicles (parked on one side) meet, stopped side by side, at a quiet spot daily."""
        for day in range(self.clock.days):
            band = QUIET_BAND_M if day % 2 == 0 else FAR_BAND_M
            spot = self._quiet_spot(first, band) or self._quiet_spot(first, QUIET_BAND_M)
            if spot is None:
                break
            legs = [
                self.scenery.leg_to_spot(v.place, spot, self._mask(spot.side))
                for v in (first, second)
            ]
            travel = max(
                leg.seconds(v.factor) for leg, v in zip(legs, (first, second), strict=True)
            )
            meet = max(
                self.clock.local_midnight(day) + self.rng.uniform(0, 20) * HOUR,
                first.track.t + 2 * HOUR + travel,
                second.track.t + 2 * HOUR + travel,
            )
            if meet > self.clock.end - 6 * HOUR:
                break
            lag = self.rng.uniform(-8, 8) * MINUTE
            stays = (
                self.rng.uniform(35, 60) * MINUTE,
                self.rng.uniform(30, 50) * MINUTE + abs(lag),
            )
            offsets = (self.rng.uniform(5, 20), self.rng.uniform(60, 150))
            for vehicle, leg, arrive, stay, offset in zip(
                (first, second), legs, (meet, meet + lag), stays, offsets, strict=True
            ):
                self._start(vehicle, arrive - leg.seconds(vehicle.factor))
                vehicle.track.drive(leg, vehicle.factor)
                vehicle.track.wait_until(arrive)
                vehicle.track.move(self._aside(spot, offset), 8 / 3.6)
                vehicle.track.wait(stay)
                vehicle.track.move(spot.xy, 8 / 3.6)
                self._home_from(vehicle, spot.side, spot=spot)
            self._site(first, spot.xy, meet)
        self._finish(first)
        self._finish(second)

    def _off_road(self, vehicle: Vehicle, earliest: float, day: int) -> None:
        spot = self._quiet_spot(vehicle, (2_000.0, 6_000.0))
        if spot is None:
            return
        loop = self._off_road_loop(spot)
        if loop is None:
            return
        self._start(vehicle, earliest)
        self._go_to_spot(vehicle, spot)
        self._site(vehicle, loop[1], vehicle.track.t)
        vehicle.track.drive(Leg.straight(loop, self._offroad_speed()))
        self._home_from(vehicle, spot.side, spot=spot)

    def _off_road_loop(self, spot: Spot) -> np.ndarray | None:
        """Return a loop from a road spot through two points away from roads, on its side."""
        scenery = self.scenery
        for _ in range(20):
            angle = self.rng.uniform(0, 2 * np.pi)
            turn = angle + self.rng.choice([-1, 1]) * self.rng.uniform(np.pi / 3, 2 * np.pi / 3)
            w1 = spot.xy + self.rng.uniform(2_500, 4_000) * np.array([np.sin(angle), np.cos(angle)])
            w2 = w1 + self.rng.uniform(2_500, 4_000) * np.array([np.sin(turn), np.cos(turn)])
            loop = np.array([spot.xy, w1, w2, spot.xy])
            dense = shapely.get_coordinates(shapely.segmentize(shapely.LineString(loop), 250.0))
            if (scenery.side(dense) != spot.side).any() or scenery.meets_border(loop):
                continue
            lat, lon = scenery.lonlat(loop[1:3])
            border = scenery.ground.distance_to_border_m(lat, lon)
            road = scenery.ground.distance_to_road_m(lat, lon)
            if ((border >= 1_000) & (border <= 9_000) & (road >= 1_000)).all():
                return loop
        return None

    # ------------------------------------------------------------------------ shuttle
    def _shuttle(self, vehicle: Vehicle, earliest: float, day: int) -> None:
        """Cross back and forth 4-6 times: through an open crossing, or on a track."""
        on_track = (day // 2) % 2 == 1 and bool(self.scenery.tracks)
        scenery = self.scenery
        short = [
            p
            for p in self._passages(vehicle, legit=not on_track)
            if scenery.graph.edge_length[p.edge] <= SHUTTLE_EDGE_M
        ]
        passage = self._pick(short, vehicle, f"shuttle{on_track}")
        if passage is None:
            return
        approach = scenery.leg_to_node(vehicle.place, passage.near, self._mask(vehicle.side))
        there = scenery.edge_leg(passage.edge, passage.forward)
        at = shapely.LineString(there.coords).project(
            shapely.get_parts(
                shapely.intersection(shapely.LineString(there.coords), scenery.border)
            )[0]
        )
        count = int(self.rng.integers(4, 7))
        dwells = self.rng.uniform(3, 8, count) * MINUTE
        crossing_time = there.cut(0, at).seconds(vehicle.factor)
        back_time = there.reversed().cut(0, there.length - at).seconds(vehicle.factor)
        offsets, t = [], approach.seconds(vehicle.factor)
        for k in range(count):
            offsets.append(t + (crossing_time if k % 2 == 0 else back_time))
            t += there.seconds(vehicle.factor) + dwells[k]
        depart = earliest
        if not on_track:
            depart = open_departure(
                scenery.ground, self.clock, passage.crossing, earliest, offsets, True, OPEN_MARGIN_S
            )
            if depart is None or depart > self.clock.end - 8 * HOUR:
                return
        self._start(vehicle, depart)
        vehicle.track.drive(approach, vehicle.factor)
        sides = (vehicle.side, 1 - vehicle.side)
        for k in range(count):
            vehicle.track.drive(there if k % 2 == 0 else there.reversed(), vehicle.factor)
            vehicle.crossings.append(depart + offsets[k])
            vehicle.track.wait(dwells[k])
        if on_track:
            self.sites.append(Site(there.at(at), depart + offsets[0], vehicle, sides[0], sides[1]))
        end_side = sides[count % 2]
        end_node = passage.far if count % 2 else passage.near
        self._home_from(vehicle, end_side, node=end_node)

    # ------------------------------------------------------------------------ transit
    def _transit(self, vehicle: Vehicle, declare: Callable[[dict], None]) -> None:
        if vehicle.corridor is None:
            self._finish(vehicle)
            return
        anomaly = {
            "route_deviation": self._deviate,
            "unauthorized_stop": self._stop_on_the_way,
            "transit_overdue": self._be_late,
        }[vehicle.role]
        transit_days(self.legit, vehicle, vehicle.corridor, declare, anomaly)

    def _deviate(self, trip: TransitTrip, day: int) -> dict | None:
        """Leave the corridor 3-6 km sideways for 6-12 km of it, then rejoin."""
        leg, vehicle = trip.leg, trip.vehicle
        for _ in range(10):
            d1 = self.rng.uniform(0.25, 0.6) * leg.length
            d2 = d1 + self.rng.uniform(6_000, 12_000)
            if abs(d1 - trip.to_border_m) < 20_000 or abs(d2 - trip.to_border_m) < 20_000:
                continue
            k1, k2 = leg.at(d1), leg.at(d2)
            ahead = (k2 - k1) / np.hypot(*(k2 - k1))
            normal = np.array([-ahead[1], ahead[0]]) * self.rng.choice([-1, 1])
            off = self.rng.uniform(3_000, 6_000)
            detour = np.array([k1, k1 + normal * off, k2 + normal * off, k2])
            dense = shapely.get_coordinates(shapely.segmentize(shapely.LineString(detour), 250.0))
            side = self.scenery.side(k1)[0]
            if (self.scenery.side(dense) != side).any() or (
                self.scenery.border_m(dense) < 3_000
            ).any():
                continue
            drive_corridor(self.legit, trip, self.rng.uniform(30, 80) * MINUTE, 0.0, d1)
            self._site(vehicle, detour[1], vehicle.track.t)
            vehicle.track.drive(Leg.straight(detour, self.rng.uniform(30, 45) / 3.6))
            drive_corridor(self.legit, trip, self.rng.uniform(30, 80) * MINUTE, d2)
            return {}
        return None

    def _stop_on_the_way(self, trip: TransitTrip, day: int) -> dict | None:
        """Stop 40-120 minutes beside the corridor away from its stop areas."""
        leg, vehicle = trip.leg, trip.vehicle
        for _ in range(10):
            at = self.rng.uniform(0.2, 0.8) * leg.length
            if len(trip.stops) and np.abs(trip.stops - at).min() < 3_000:
                continue
            if abs(at - trip.to_border_m) < 5_000 or leg.length - at < 5_000:
                continue
            drive_corridor(self.legit, trip, self.rng.uniform(30, 80) * MINUTE, 0.0, at)
            point = vehicle.track.xy.copy()
            vehicle.track.move(point + np.array([30.0, 0.0]), 5 / 3.6)
            self._site(vehicle, point, vehicle.track.t)
            vehicle.track.wait(self.rng.uniform(40, 120) * MINUTE)
            vehicle.track.move(point, 5 / 3.6)
            drive_corridor(self.legit, trip, self.rng.uniform(30, 80) * MINUTE, at)
            return {}
        return None

    def _be_late(self, trip: TransitTrip, day: int) -> dict | None:
        """Miss the deadline: a deadline too tight for the trip, or hours off the air."""
        vehicle = trip.vehicle
        start = vehicle.track.t
        expected = trip.leg.seconds(vehicle.factor)
        if day % 2 == 0:
            drive_corridor(self.legit, trip, self.rng.uniform(30, 80) * MINUTE)
            return {"deadline": start + 0.55 * expected}
        at = self.rng.uniform(0.3, 0.6) * trip.leg.length
        drive_corridor(self.legit, trip, self.rng.uniform(30, 80) * MINUTE, 0.0, at)
        vehicle.track.report(False)
        vehicle.track.wait(self.rng.uniform(3, 5) * HOUR)
        vehicle.track.report(True)
        drive_corridor(self.legit, trip, self.rng.uniform(30, 80) * MINUTE, at)
        return {"deadline": start + 0.9 * expected + HOUR}

    # ------------------------------------------------------------- watch list, clones, gnss
    def _near_places(self, vehicle: Vehicle, limit_m: float) -> list[Place]:
        mask = self._mask(vehicle.side)
        return [
            p for p in self.scenery.places
            if p.side == vehicle.side and p.border_m <= limit_m and p is not vehicle.place
            and self.scenery.reachable(vehicle.place, p.node, mask)
        ]  # fmt: skip

    def _watchlist_trip(self, vehicle: Vehicle, earliest: float, day: int) -> None:
        target = self._pick(self._near_places(vehicle, 15_000), vehicle, "place")
        if target is None:
            return
        self._start(vehicle, earliest)
        self._visit(vehicle, target)

    def _visit(self, vehicle: Vehicle, target: Place) -> None:
        vehicle.track.drive(
            self.scenery.leg(vehicle.place, target, self._mask(target.side)), vehicle.factor
        )
        vehicle.place = target
        dwell(vehicle, target, self.rng.uniform(20, 60), self.rng)
        self._home_from(vehicle, target.side, node=target.node)

    def _gnss(self, vehicle: Vehicle, earliest: float, day: int) -> None:
        """Drive to a place near the border; 3-5 spikes within 40 minutes on the way."""
        target = self._pick(self._near_places(vehicle, 15_000), vehicle, "place")
        if target is None:
            return
        leg = self.scenery.leg(vehicle.place, target, self._mask(target.side))
        duration = leg.seconds(vehicle.factor)
        count = int(self.rng.integers(3, 6))
        gap = self.rng.uniform(max(3 * self.interval_s, 240.0), 540.0)
        if duration < count * gap + 20 * MINUTE:
            return
        self._start(vehicle, earliest)
        first = vehicle.track.t + self.rng.uniform(
            10 * MINUTE, duration - count * gap - 10 * MINUTE
        )
        for k in range(count):
            vehicle.track.spike(
                first + k * gap, spike_metres(self.rng, self.settings, self.interval_s)
            )
        vehicle.track.drive(leg, vehicle.factor)
        vehicle.place = target
        dwell(vehicle, target, self.rng.uniform(20, 60), self.rng)
        self._home_from(vehicle, target.side, node=target.node)

    def _identity(self, vehicle: Vehicle, earliest: float, day: int) -> None:
        """A long trip far from the border while a clone with the same id reports 100 km away."""
        scenery, mask = self.scenery, self._mask(vehicle.side)
        far = [
            p for p in scenery.parking(vehicle.side)
            if p is not vehicle.place and scenery.reachable(vehicle.place, p.node, mask)
            and scenery.leg(vehicle.place, p, mask).seconds(vehicle.factor) >= 2.5 * HOUR
        ]  # fmt: skip
        if not far:
            return
        self.rng.shuffle(far)
        self._start(vehicle, earliest)
        start = vehicle.track.t
        # short enough that the vehicle itself stays well within the conflict distance of
        # where the window starts (its pings must form one group), long enough for many jumps
        length = self.rng.uniform(12, 20) * MINUTE
        for target in far[:4]:
            leg = scenery.leg(vehicle.place, target, mask)
            plan = Track(vehicle.vehicle_id, start, vehicle.track.xy.copy(), 0.0, 0.0)
            plan.drive(leg, vehicle.factor)
            shares = self.rng.uniform(0.05, 0.8, 6)
            begins = start + shares * (plan.t - start)
            if any(self._clone(vehicle, plan.knot_table(), b, length) for b in begins):
                break
        vehicle.track.drive(leg, vehicle.factor)
        vehicle.place = target
        vehicle.track.report(False)

    def _clone(self, vehicle: Vehicle, knots: np.ndarray, begin: float, length: float) -> bool:
        """Add a second device with the vehicle's id reporting on another road for a while,
        if one at least 100 km away throughout can be found (and the vehicle stays far from
        the border meanwhile, so that the hole the clone leaves in its track implies nothing)."""
        scenery = self.scenery
        times = np.arange(begin - 10 * MINUTE, begin + length + 10 * MINUTE, 2 * MINUTE)
        real = _positions_at(knots, times)
        if (scenery.border_m(real) < 15_000).any():
            return False
        candidates = [p for p in scenery.places if np.hypot(*(p.xy - real[0])) > 120_000]
        self.rng.shuffle(candidates)
        phase = (vehicle.track.phase + self.interval_s // 2) % self.interval_s
        for place in candidates[:20]:
            mask = self._mask(place.side)
            other = self._pick(
                [q for q in scenery.places if q.side == place.side and q is not place
                 and scenery.reachable(place, q.node, mask)]
            )  # fmt: skip
            if other is None:
                continue
            clone = Track(
                vehicle.vehicle_id,
                begin,
                place.xy.copy(),
                phase,
                vehicle.track.noise_m,
                legit=False,
            )
            clone.drive(scenery.leg(place, other, mask))
            table = clone.knot_table()
            if (
                table[-1, 0] < begin + length
                or np.hypot(*(_positions_at(table, times) - real).T).min() < 100_000
            ):
                continue
            clone.windows.append((begin, begin + length))
            self.extra_tracks.append(clone)
            return True
        return False

    # --------------------------------------------------------------------- watch list
    def _choose_watchlist(self, vehicles: list[Vehicle]) -> None:
        """List every watch-list vehicle (some entries expiring mid-scenario), a quarter of the
        other planted vehicles, a few with entries expired before the scenario (no hits), and
        two plates never seen. Legitimate vehicles are never listed."""
        for vehicle in vehicles:
            roll = self.rng.random()
            if vehicle.role == "watchlist":
                expires = self._expiry(roll, mid_share=0.2)
            elif roll < 0.25:
                expires = self._expiry(self.rng.random(), mid_share=0.0)
            elif roll < 0.3:
                expires = -self.rng.uniform(10, 100) * 24 * HOUR
            else:
                continue
            self.watch.append({"vehicle_id": vehicle.vehicle_id, "expires": expires})
        for k in range(2):
            self.watch.append({"vehicle_id": f"XX-{1000 + k:04d}-ZZ", "expires": None})

    def _expiry(self, roll: float, mid_share: float) -> float | None:
        """Return never (half), months after the end, or (`mid_share`) during the scenario."""
        if roll < 0.5:
            return None
        if roll < 1.0 - mid_share:
            return self.clock.end + self.rng.uniform(60, 300) * 24 * HOUR
        return self.rng.uniform(0.3, 0.7) * self.clock.end

    def watchlist_frame(self) -> pl.DataFrame:
        """Return the watch list: vehicle_id, reason, expires (UTC, null = never)."""
        epoch = self.clock.epoch
        rows = [
            {
                "vehicle_id": w["vehicle_id"],
                "reason": WATCH_REASONS[i % len(WATCH_REASONS)],
                "expires": None
                if w["expires"] is None
                else epoch + timedelta(seconds=round(w["expires"])),
            }
            for i, w in enumerate(self.watch)
        ]
        schema = {"vehicle_id": pl.String, "reason": pl.String, "expires": UTC_DATETIME}
        return (
            pl.DataFrame(rows, schema=schema, orient="row") if rows else pl.DataFrame(schema=schema)
        )


def _positions_at(knots: np.ndarray, times: np.ndarray) -> np.ndarray:
    """Return positions (x, y) of knots (t, x, y) at times, holding the ends."""
    return np.column_stack(
        [np.interp(times, knots[:, 0], knots[:, 1]), np.interp(times, knots[:, 0], knots[:, 2])]
    )


def _from(way: OffRoadCrossing, vehicle: Vehicle) -> tuple[np.ndarray, tuple[Spot, Spot]]:
    """An off-road crossing's path and end spots, starting on the vehicle's side."""
    if way.spots[0].side != vehicle.side:
        return way.path[::-1], (way.spots[1], way.spots[0])
    return way.path, way.spots


def _habit_key(option: object) -> tuple:
    """What a smuggler remembers of a way it took: the place, spot or border edge."""
    if isinstance(option, Place):
        return ("place", option.node)
    if isinstance(option, Spot):
        return ("spot", option.edge, option.along)
    if isinstance(option, OffRoadCrossing):
        return ("offroad", *sorted(_habit_key(spot) for spot in option.spots))
    return ("edge", option.edge)
