"""Scenario generator (SPEC §13): legitimate traffic, planted illicit behaviour, ground truth.

`simulate` takes a region's `Ground` (layer queries) and its layers (`Geography`), plans a fleet
day by day (`geoint.sim.traffic` for legitimate vehicles, `geoint.sim.planting` for planted
behaviour of every event type of docs/events.md), samples every device's pings at once
(`geoint.sim.motion`), and computes the ground truth from those pings by the definitions
(`geoint.sim.truth`), side effects included. The same options give the same scenario, byte for
byte once written.
"""

from __future__ import annotations

import json
import string
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path

import numpy as np
import polars as pl

from geoint.errors import RegionError
from geoint.ground import Ground
from geoint.h3index import cells_to_hex, latlng_to_cells
from geoint.schema import UTC_DATETIME, EventType
from geoint.settings import GeointSettings
from geoint.sim.motion import DEVICE_NOISE_M, Pings, Track, sample_pings
from geoint.sim.planting import PLANTED_ROLES, TRANSIT_ROLES, Planter, spike_metres
from geoint.sim.scenery import Geography, Place, Scenery
from geoint.sim.seizures import seizure_frame
from geoint.sim.signal import deliver, profile
from geoint.sim.traffic import CLASSES, Clock, Corridor, LegitTraffic, Vehicle, corridors_of
from geoint.sim.truth import truth_events

Log = Callable[[str], None]
INTERVAL_RANGE_S = (30, 120)
PLANTED_SHARE = 0.3  # of the fleet, spread evenly over the planted roles
LEGIT_MIX = {"car": 0.45, "truck": 0.25, "bus": 0.1, "motorcycle": 0.2}
TRANSIT_SHARE = 0.4  # of legitimate trucks, when the region has corridors
LEGIT_SPIKE_SHARE = 0.3  # of legitimate device-days with one GPS spike
OUTPUT_FILES = (
    "pings.parquet",
    "seizures.csv",
    "watchlist.csv",
    "declarations.csv",
    "truth.csv",
    "illicit_cells.csv",
    "vehicles.csv",
    "scenario.json",
)


@dataclass(frozen=True)
class SimulationOptions:
    """What to generate: seed, fleet size, days from `start` (UTC), reporting interval, signal
    profile (`geoint.sim.signal.PROFILES`) and how many routes of each kind a planted vehicle
    keeps to (0: any, drawn afresh each day; `geoint.sim.planting.Planter._pick`)."""

    seed: int = 7
    vehicles: int = 150
    days: int = 3
    interval_s: int = 60
    start: date = date(2026, 3, 2)
    signal: str = "clean"
    routes: int = 0

    def __post_init__(self) -> None:
        profile(self.signal)
        if self.vehicles < 20:
            raise ValueError(
                f"vehicles must be at least 20 (one per planted role), got {self.vehicles}"
            )
        if self.routes < 0:
            raise ValueError(f"routes must be 0 (any) or more, got {self.routes}")
        if self.days < 1:
            raise ValueError(f"days must be at least 1, got {self.days}")
        low, high = INTERVAL_RANGE_S
        if not low <= self.interval_s <= high:
            raise ValueError(
                f"interval_s must be between {low} and {high} seconds (spikes, stops and "
                f"crossings are planted for that range), got {self.interval_s}"
            )


@dataclass
class Scenario:
    """A generated scenario: inputs for the platform and the ground truth to score it with."""

    pings: pl.DataFrame
    seizures: pl.DataFrame
    watchlist: pl.DataFrame
    declarations: pl.DataFrame
    truth: pl.DataFrame
    illicit_cells: pl.DataFrame
    vehicles: pl.DataFrame
    seconds: dict[str, float] = field(default_factory=dict)
    options: dict = field(default_factory=dict)  # the options and the signal profile used

    def write(self, out: Path) -> dict[str, Path]:
        """Write every file of the scenario into folder `out`; return their paths."""
        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        paths = {name: out / name for name in OUTPUT_FILES}
        self.pings.write_parquet(paths["pings.parquet"], compression="zstd", compression_level=9)
        _write_csv(self.seizures, paths["seizures.csv"])
        _write_csv(self.watchlist, paths["watchlist.csv"])
        _write_csv(self.declarations, paths["declarations.csv"])
        _write_csv(self.truth, paths["truth.csv"])
        _write_csv(self.illicit_cells, paths["illicit_cells.csv"])
        _write_csv(self.vehicles, paths["vehicles.csv"])
        text = json.dumps(self.options, indent=2, sort_keys=True, default=str) + "\n"
        paths["scenario.json"].write_text(text, encoding="utf-8")
        return paths

    def counts(self) -> dict[str, int]:
        """Return the number of truth events of every type (zero for absent types)."""
        found = dict(self.truth.group_by("event_type").len().iter_rows())
        return {str(kind): int(found.get(str(kind), 0)) for kind in EventType}


def simulate(
    ground: Ground,
    geography: Geography,
    options: SimulationOptions,
    settings: GeointSettings | None = None,
    log: Log | None = None,
) -> Scenario:
    """Generate a scenario on a region (see the module docstring)."""
    settings = settings or GeointSettings()
    say = log or (lambda _text: None)
    seconds: dict[str, float] = {}
    with _timer(seconds, "plan"):
        say("building the road network")
        scenery = Scenery(ground, geography, settings)
        clock = Clock(options.start, options.days, ground.timezone)
        corridors = corridors_of(scenery)
        fleet = _fleet(scenery, corridors, options)
        say(f"planning {len(fleet)} vehicles over {options.days} days")
        declarations: list[dict] = []
        signal = profile(options.signal)
        legit = LegitTraffic(
            scenery, clock, np.random.default_rng([options.seed, 1]), corridors, signal.customs_m
        )
        for vehicle in fleet:
            if vehicle.role in ("legit", "transit"):
                legit.plan(vehicle, declarations.append)
        planter = Planter(
            scenery,
            clock,
            np.random.default_rng([options.seed, 2]),
            legit,
            settings,
            options.interval_s,
            options.routes,
        )
        planter.plan([v for v in fleet if v.role in PLANTED_ROLES], declarations.append)
    with _timer(seconds, "sample"):
        say("sampling pings")
        tracks = [v.track for v in fleet] + planter.extra_tracks
        _legit_spikes(tracks, clock, options, settings, np.random.default_rng([options.seed, 3]))
        max_missing = max(int(0.5 * settings.events.crossing_max_gap_s / options.interval_s) - 1, 0)
        sampled = sample_pings(
            tracks, options.interval_s, np.random.default_rng([options.seed, 4]), max_missing
        )
        pings = _ping_frame(sampled, tracks, scenery, clock)
        del sampled
        delivered = pings
        if not signal.clean:  # the same plans, as the profile's devices report them
            rng = np.random.default_rng([options.seed, 6])
            degraded = sample_pings(tracks, options.interval_s, rng, max_missing, signal=signal)
            delivered = deliver(
                _ping_frame(degraded, tracks, scenery, clock), signal, clock.days, rng
            )
            del degraded
        for track in tracks:  # plans are no longer needed: free their memory for the truth
            track.knots.clear()
    decl_frame = _declaration_frame(declarations, scenery, clock)
    watch = planter.watchlist_frame()
    with _timer(seconds, "truth"):
        # the truth is what the vehicles did: the definitions applied to the clean pings
        say(f"computing the ground truth of {pings.height:,} clean pings")
        truth = truth_events(pings, ground, settings, decl_frame, watch)
    seizure_rng = np.random.default_rng([options.seed, 5])
    seizures = seizure_frame(planter.sites, scenery, clock, geography.countries, seizure_rng)
    return Scenario(
        pings=delivered,
        seizures=seizures,
        watchlist=_watchlist_csv(watch),
        declarations=_declarations_csv(decl_frame),
        truth=_truth_csv(truth),
        illicit_cells=_illicit_cells(truth, pings, settings),
        vehicles=pl.DataFrame(
            {
                "vehicle_id": [v.vehicle_id for v in fleet],
                "vehicle_class": [v.kind for v in fleet],
                "role": [v.role for v in fleet],
            }
        ).sort("vehicle_id"),
        seconds=seconds,
        options={**asdict(options), "signal": asdict(signal)},
    )


@contextmanager
def _timer(into: dict[str, float], name: str) -> Iterator[None]:
    started = time.perf_counter()
    yield
    into[name] = time.perf_counter() - started


# ---------------------------------------------------------------------------------- fleet
def _fleet(
    scenery: Scenery, corridors: list[Corridor], options: SimulationOptions
) -> list[Vehicle]:
    """Return the vehicles: ids, classes, roles, home places and devices.

    Transit trucks (legitimate or planted) start at an end of their corridor; the two
    vehicles of a rendezvous pair share a home, so that they meet on their side.
    """
    rng = np.random.default_rng([options.seed, 0])
    per_role = max(1, round(options.vehicles * PLANTED_SHARE / (len(PLANTED_ROLES) + 1)))
    roles = [
        role for role in PLANTED_ROLES for _ in range(per_role * (2 if role == "rendezvous" else 1))
    ]
    legit = max(options.vehicles - len(roles), 0)
    kinds = rng.choice(list(LEGIT_MIX), size=legit, p=list(LEGIT_MIX.values()))
    ids = _plates(rng, len(roles) + legit)
    homes = [p for side in (0, 1) for p in scenery.parking(side)]
    if not homes:
        raise RegionError(
            "the region has no town on its roads far enough from the border to park vehicles; "
            "expected places (generated roads join them) more than 12 km from the border"
        )
    fleet = []
    for i, kind in enumerate(kinds):
        role, corridor = "legit", None
        home = homes[int(rng.integers(len(homes)))]
        if kind == "truck" and corridors and rng.random() < TRANSIT_SHARE:
            corridor = corridors[int(rng.integers(len(corridors)))]
            role, home = "transit", corridor.ends[int(rng.integers(2))]
        fleet.append(_vehicle(ids[i], str(kind), role, home, rng, options, corridor))
    for i, role in enumerate(roles):
        corridor = None
        home = homes[int(rng.integers(len(homes)))]
        if role in TRANSIT_ROLES and corridors:
            corridor = corridors[int(rng.integers(len(corridors)))]
            home = corridor.ends[int(rng.integers(2))]
        partners = sum(v.role == "rendezvous" for v in fleet)
        if role == "rendezvous" and partners % 2:  # the second of a pair
            home = fleet[-1].place
        kind = PLANTED_ROLES[role]
        fleet.append(
            _vehicle(ids[legit + i], kind, role, home, rng, options, corridor, legit=False)
        )
    return fleet


def _vehicle(
    vehicle_id: str,
    kind: str,
    role: str,
    home: Place,
    rng: np.random.Generator,
    options: SimulationOptions,
    corridor: Corridor | None,
    legit: bool = True,
) -> Vehicle:
    track = Track(
        vehicle_id,
        t=0.0,
        xy=home.xy.copy(),
        phase=float(rng.integers(options.interval_s)),
        noise_m=float(rng.uniform(*DEVICE_NOISE_M)),
        legit=legit,
    )
    factor = float(rng.uniform(*CLASSES[kind].factor))
    return Vehicle(vehicle_id, kind, role, factor, track, home, corridor=corridor)


def _plates(rng: np.random.Generator, count: int) -> list[str]:
    """Return unique plate-like vehicle ids (letters, digits, letters)."""
    letters = np.array(list(string.ascii_uppercase))
    taken: set[str] = set()
    plates = []
    while len(plates) < count:
        head = "".join(rng.choice(letters, 2))
        plate = f"{head}-{int(rng.integers(1000, 10000))}-{''.join(rng.choice(letters, 2))}"
        if plate not in taken:
            taken.add(plate)
            plates.append(plate)
    return plates


# -------------------------------------------------------------------------------- outputs
def _legit_spikes(
    tracks: list[Track],
    clock: Clock,
    options: SimulationOptions,
    settings: GeointSettings,
    rng: np.random.Generator,
) -> None:
    """Give legitimate devices an occasional single spike: at most one a day, mid-window."""
    margin = 3 * options.interval_s
    for track in tracks:
        if not track.legit:
            continue
        for day in range(clock.days):
            if rng.random() >= LEGIT_SPIKE_SHARE:
                continue
            low, high = clock.local_midnight(day), clock.local_midnight(day + 1)
            spans = [
                (max(a, low) + margin, min(b, high) - margin)
                for a, b in track.windows
                if min(b, high) - max(a, low) > 4 * margin
            ]
            if spans:
                a, b = spans[int(rng.integers(len(spans)))]
                track.spike(
                    float(rng.uniform(a, b)), spike_metres(rng, settings, options.interval_s)
                )


def _ping_frame(
    sampled: Pings, tracks: list[Track], scenery: Scenery, clock: Clock
) -> pl.DataFrame:
    """Return the pings as written: vehicle_id, ts (UTC), lat, lon, speed_kmh, heading."""
    ids = pl.Series("vehicle_id", [t.vehicle_id for t in tracks], dtype=pl.String)
    rank = ids.rank("dense").cast(pl.UInt32).to_numpy()  # tracks sharing an id share a rank
    micros = np.round(sampled.t * 1e6).astype(np.int64) + int(clock.epoch.timestamp() * 1e6)
    order = (
        pl.DataFrame({"rank": rank[sampled.track], "ts": micros})
        .with_row_index("row")
        .sort("rank", "ts")["row"]
        .to_numpy()
    )
    lat, lon = scenery.lonlat(np.column_stack([sampled.x[order], sampled.y[order]]))
    heading = np.round(sampled.heading[order], 1).astype(np.float32)
    return pl.DataFrame(
        {
            "vehicle_id": ids.gather(sampled.track[order]),
            "ts": pl.Series(micros[order]).cast(pl.Datetime("us")).dt.replace_time_zone("UTC"),
            "lat": np.round(lat, 6),
            "lon": np.round(lon, 6),
            "speed_kmh": np.round(sampled.speed_ms[order] * 3.6, 1).astype(np.float32),
            "heading": pl.Series(heading, nan_to_null=True),
        }
    )


def _declaration_frame(rows: list[dict], scenery: Scenery, clock: Clock) -> pl.DataFrame:
    """Return declarations with UTC times and destination lat/lon, sorted by start."""
    schema = {
        "vehicle_id": pl.String,
        "corridor_id": pl.String,
        "start": UTC_DATETIME,
        "deadline": UTC_DATETIME,
        "dest_lat": pl.Float64,
        "dest_lon": pl.Float64,
    }
    if not rows:
        return pl.DataFrame(schema=schema)
    dest = np.array([r["destination"] for r in rows])
    lat, lon = scenery.lonlat(dest)
    return pl.DataFrame(
        {
            "vehicle_id": [r["vehicle_id"] for r in rows],
            "corridor_id": [r["corridor_id"] for r in rows],
            "start": _moments(clock, [r["start"] for r in rows]),
            "deadline": _moments(clock, [r["deadline"] for r in rows]),
            "dest_lat": np.round(lat, 6),
            "dest_lon": np.round(lon, 6),
        },
        schema=schema,
    ).sort("start", "vehicle_id")


def _moments(clock: Clock, seconds: list[float]) -> pl.Series:
    """Return UTC datetimes, whole seconds, of scenario times."""
    micros = np.round(np.array(seconds)).astype(np.int64) * 1_000_000
    epoch = int(clock.epoch.timestamp() * 1e6)
    return pl.Series(micros + epoch).cast(pl.Datetime("us")).dt.replace_time_zone("UTC")


def _iso(column: str) -> pl.Expr:
    return pl.col(column).dt.strftime("%Y-%m-%dT%H:%M:%S%.fZ").str.replace(r"\.000000Z$", "Z")


def _watchlist_csv(watch: pl.DataFrame) -> pl.DataFrame:
    return watch.with_columns(_iso("expires"))


def _declarations_csv(declarations: pl.DataFrame) -> pl.DataFrame:
    return declarations.with_columns(_iso("start"), _iso("deadline"))


def _truth_csv(truth: pl.DataFrame) -> pl.DataFrame:
    return truth.with_columns(
        _iso("start"), _iso("end"), pl.col("lat").round(6), pl.col("lon").round(6)
    )


def _illicit_cells(
    truth: pl.DataFrame, pings: pl.DataFrame, settings: GeointSettings
) -> pl.DataFrame:
    """Return (date, cell) of every cell illicit activity touched each UTC day (hex cells)."""
    frame = illicit_touches(truth, pings, settings).select("date", "cell").unique()
    frame = frame.sort("date", "cell")
    return pl.DataFrame(
        {
            "date": frame["date"].dt.strftime("%Y-%m-%d"),
            "cell": cells_to_hex(frame["cell"].to_numpy()),
        }
    )


def illicit_touches(
    truth: pl.DataFrame, pings: pl.DataFrame, settings: GeointSettings
) -> pl.DataFrame:
    """Return (date, cell, vehicle_id) of every cell each vehicle's illicit activity touched
    each UTC day, unique.

    Illicit activity is every truth event but `border_crossing`: its location, and the pings
    of its vehicle(s) between its start and end.
    """
    illicit = truth.filter(pl.col("event_type") != str(EventType.BORDER_CROSSING))
    involved = pl.concat(
        [
            illicit.select("vehicle_id", "start", "end"),
            illicit.filter(pl.col("other_vehicle_id").is_not_null()).select(
                pl.col("other_vehicle_id").alias("vehicle_id"), "start", "end"
            ),
        ]
    ).with_row_index("event")
    touched = (
        pings.lazy()
        .select("vehicle_id", "ts", "lat", "lon")
        .join(involved.lazy(), on="vehicle_id")
        .filter(pl.col("ts").is_between(pl.col("start"), pl.col("end")))
        .select(pl.col("ts").dt.date().alias("date"), "lat", "lon", "vehicle_id")
        .collect()
    )
    points = pl.concat(
        [
            touched,
            illicit.select(pl.col("start").dt.date().alias("date"), "lat", "lon", "vehicle_id"),
        ]
    )
    cells = latlng_to_cells(
        points["lat"].to_numpy(), points["lon"].to_numpy(), settings.h3_resolution
    )
    return pl.DataFrame(
        {"date": points["date"], "cell": pl.Series(cells, dtype=pl.UInt64),
         "vehicle_id": points["vehicle_id"]}
    ).unique()  # fmt: skip


def _write_csv(frame: pl.DataFrame, path: Path) -> None:
    frame.write_csv(path, null_value="")
