"""`geoint bench patrol-season`: does a planner that learns from its debriefs find more?

Per seed, a world of ``days`` days with planted illicit activity is generated on the region
(`geoint simulate`: ``illicit_cells.csv`` says which cells held illicit activity each day; the
planted vehicles repeat their role every day and keep to ``routes`` ways of each kind near
where they live, so activity returns to the same places), ingested and analysed. Without a
base, the unit is posted at the official crossing with the most warm-up risk nearby. The
world's length does not depend on the shifts played: the generator draws every day from the
same random streams, so another length is another world. After
``warmup_days``, a season of evening shifts is played three times, once per planner, from the
same cell tables. The history is the scenario's seizures before the season and, by default,
the unit's habitual past patrols near its base (their finds as seizures, their debriefs as
effort: the record follows past patrols); in the season only the planner's own finds become
seizures:

- **effort-aware**: OR-Tools plans on the risk rescored each day from the history and its own
  finds (seizures) and debriefs (effort per cell-day: patrol seizures weighed by effort in the
  prior, each searched cell moved by its catch per unit effort);
- **effort-blind**: the same planner on risk rescored from its finds only (no effort);
- **greedy**: the greedy baseline on effort-blind risk.

Shift d is planned on the risk of day d − 1 (nothing of day d leaks in). Each stop's minutes
are split among its cells; a cell that holds illicit activity that day is found with
probability 1 − exp(−minutes / ``detect_minutes``), drawn from one uniform number per (seed,
day, cell) shared by the planners (common random numbers: the same visit has the same luck).
A find becomes a seizure at the cell the same evening; every visited cell becomes a debrief
row (minutes, found or not, seizures).

Smugglers adapt (PAWS' adversaries): a smuggler without a tracker whose activity was found,
or whose cells a patrol spent ``presence_minutes`` in that evening, lies low with probability
``displace_share`` (found) or half of it (only seen) for ``displace_days`` days, drawn from
numbers fixed by (seed, day, vehicle): its activity is absent from the world, then it comes
back to its places. Each planner plays its own world: its own finds displace its smugglers.
Tracked smugglers do not adapt: their movements are the pings the platform analysed once,
and moving them would mean another world.

What there is to learn is reported per seed (``recurrence``, from the planted truth, never
planned on): the cells holding activity each evening within the shift's reach, and how many of
them recur, active on at least half of the ``RECUR_DAYS`` evenings before. A planner that
learns where activity was can gain only where it recurs (docs/patrol.md).
"""

from __future__ import annotations

import hashlib
import multiprocessing
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock
from functools import partial
from pathlib import Path

import numpy as np
import polars as pl
from scipy.sparse.csgraph import dijkstra

from geoint.analytics.scoring import EFFORT_COLUMNS, rescore
from geoint.errors import GeointError
from geoint.geodesy import haversine_m
from geoint.h3index import cell_centres, latlng_to_cells
from geoint.layers.gazetteer import build_gazetteer
from geoint.layers.queries import RegionIndex
from geoint.layers.region import Region
from geoint.patrol.plan import PatrolPlan, PatrolRequest, TravelGraph, plan_patrol
from geoint.pipeline.analyze import analyze
from geoint.pipeline.ingest import ingest_pings, ingest_records
from geoint.settings import GeointSettings
from geoint.sim.planting import PLANTED_ROLES, TRANSIT_ROLES
from geoint.sim.scenery import Geography
from geoint.sim.simulate import SimulationOptions, illicit_touches, simulate
from geoint.store.cell_tables import read_table
from geoint.store.workspace import Workspace

PLANNERS = ("effort_aware", "effort_blind", "greedy")
# when a smuggler who has been found or seen lies low, and for how long (docs/patrol.md)
DISPLACE_SHARE = 0.5
PRESENCE_MINUTES = 60.0
DISPLACE_DAYS = (3, 10)
# the past patrols' habit: prize falling to 37 % this far from the base (docs/patrol.md)
HABIT_KM = 10.0
# without a given base, the unit is posted at the official crossing with the most warm-up risk
# within this distance (docs/patrol.md)
STATION_KM = 25.0
# each smuggler keeps to this many routes of each kind (the world's default; docs/patrol.md)
ROUTES = 2
# a place recurs when it held activity on at least half of this many evenings before
RECUR_DAYS = 14
RECURRENCE_KEYS = ("reachable_active", "recurring_active", "recurring_share", "recurring_hit_rate")
SEIZURES = {"ts": pl.Datetime("us", "UTC"), "lat": pl.Float64, "lon": pl.Float64,
            "cell": pl.UInt64}  # fmt: skip
Log = Callable[[str], None] | None


def run_season_benchmark(
    region: Region,
    graph: TravelGraph,
    base: tuple[float, float] | None,
    seeds: list[int],
    shifts: int = 30,
    vehicles: int = 60,
    days: int = 37,
    tracked_share: float = 0.5,
    warmup_days: int = 7,
    teams: int = 3,
    hours: float = 8,
    detect_minutes: float = 20,
    settings: GeointSettings | None = None,
    log: Log = None,
    planners: tuple[str, ...] = PLANNERS,
    displace_share: float = DISPLACE_SHARE,
    jobs: int = 1,
    past_patrols: bool = True,
    routes: int = ROUTES,
    signal: str = "clean",
) -> dict[str, object]:
    """Play a season per seed and planner; return the cumulative finds and the setup.

    The world of a seed is `days` long whatever the number of `shifts` played in it (at most
    `days` − `warmup_days`): the scenario generator draws every day from the same random
    streams, so a world simulated for another number of days is another world, and seasons
    of different lengths could not be compared. Without a `base`, each seed's unit is posted
    at the official crossing with the most warm-up risk nearby (`_station`).
    """
    if not 1 <= shifts <= days - warmup_days:
        raise GeointError(
            f"shifts: expected 1 to {days - warmup_days} (a {days}-day world after "
            f"{warmup_days} days of warm-up), got {shifts}"
        )
    settings = settings or GeointSettings()
    say = log or (lambda _text: None)
    began = time.perf_counter()
    # every seed's world but its seed (SimulationOptions checks the values)
    try:
        template = SimulationOptions(0, vehicles, days, 60, signal=signal, routes=routes)
    except ValueError as exc:
        raise GeointError(f"patrol-season: {exc}") from exc
    world_args = (template, tracked_share, warmup_days)
    rules = (teams, hours, detect_minutes, displace_share)
    play = partial(
        _play_seed, region, graph, base, shifts, world_args, rules, settings, planners, past_patrols
    )
    if jobs > 1 and len(seeds) > 1:
        # one process per seed (spawned: forking a process that ran polars' threads may hang)
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(min(jobs, len(seeds)), mp_context=context) as pool:
            played = list(pool.map(play, seeds))
    else:
        played = [play(seed, say) for seed in seeds]
    finds = {planner: [found.played[planner].finds for found in played] for planner in planners}
    recurrence = [found.recurrence for found in played]
    displaced = {p: [found.played[p].displaced for found in played] for p in planners}
    bases = [list(found.base) for found in played]
    totals = {p: int(sum(map(sum, v))) for p, v in finds.items()}
    return {
        "shifts": shifts,
        "seeds": seeds,
        **{f"{p}_finds": totals[p] for p in planners},
        "per_seed": {p: [sum(f) for f in v] for p, v in finds.items()},
        "per_shift": finds,
        # smugglers who lay low after this planner's patrols (per seed): its pressure
        "displaced": displaced,
        # what there is to learn per seed, from the planted truth within the shift's reach
        "recurrence": {key: [r[key] for r in recurrence] for key in RECURRENCE_KEYS},
        **(
            {
                "aware_vs_blind": _ratio(totals["effort_aware"], totals["effort_blind"]),
                "aware_vs_greedy": _ratio(totals["effort_aware"], totals["greedy"]),
            }
            if set(planners) == set(PLANNERS)
            else {}
        ),
        "setup": {
            "vehicles": vehicles,
            "days": days,
            "tracked_share": tracked_share,
            "warmup_days": warmup_days,
            "teams": teams,
            "hours": hours,
            "detect_minutes": detect_minutes,
            "displace_share": displace_share,
            "presence_minutes": PRESENCE_MINUTES,
            "displace_days": list(DISPLACE_DAYS),
            "past_patrols": past_patrols,
            "habit_km": HABIT_KM,
            "routes": routes,
            "signal": signal,
            "recur_days": RECUR_DAYS,
            "base": list(base) if base else "per seed: the crossing with most warm-up risk",
            "bases": bases,
        },
        "seconds": round(time.perf_counter() - began, 1),
    }


def _play_seed(
    region: Region,
    graph: TravelGraph,
    base: tuple[float, float] | None,
    shifts: int,
    world_args: tuple[SimulationOptions, float, int],
    rules_args: tuple[int, float, float, float],
    settings: GeointSettings,
    planners: tuple[str, ...],
    past_patrols: bool,
    seed: int,
    say: Callable[[str], None] = lambda _text: None,
) -> SeedSeason:
    """Simulate one seed's world and play its season with each planner."""
    template, tracked_share, warmup_days = world_args
    options = replace(template, seed=seed)
    with tempfile.TemporaryDirectory(prefix="geoint-season-") as tmp:
        world = _scenario(region, Path(tmp), options, tracked_share, settings, say)
    first = world.days["date"].min() + timedelta(days=warmup_days)
    if base is None:
        base = _station(world, region, first)
        say(f"seed {seed}: the unit's base is the crossing at {base[0]:.5f},{base[1]:.5f}")
    rules = Rules(*rules_args, seed)
    history = _history(world, graph, base, first, rules, settings, past_patrols)
    out = {}
    for planner in planners:
        out[planner] = _season(planner, world, history, graph, base, first, shifts, rules, settings)
        played = out[planner]
        say(
            f"seed {seed}: {planner} found {sum(played.finds)} over {shifts} shifts "
            f"({played.displaced} smugglers lay low)"
        )
    reach = _reach(graph, base, rules, settings)
    recurrence = _recurrence(world.illicit, world.days["date"].min(), first, shifts, reach)
    say(
        f"seed {seed}: activity in {recurrence['reachable_active']:.0f} cells within reach an "
        f"evening, {recurrence['recurring_active']:.0f} of them recurring"
    )
    return SeedSeason(out, recurrence, base)


@dataclass(frozen=True)
class World:
    """A seed's world as the season needs it: the analysed cell-days, the seizures, the
    context of the cells a seizure may fall in, who did what where, and who adapts."""

    days: pl.DataFrame
    seizures: pl.DataFrame
    context: pl.DataFrame
    illicit: pl.DataFrame  # date, cell, vehicle_id: the planted truth, never planned on
    adaptive: frozenset[str]  # the smugglers without a tracker


@dataclass(frozen=True)
class Played:
    """A planner's season in one world: its finds per shift and how many times a smuggler
    lay low after its patrols."""

    finds: list[int]
    displaced: int


@dataclass(frozen=True)
class SeedSeason:
    """A seed's seasons, one per planner, and what its world offered to learn (`_recurrence`)."""

    played: dict[str, Played]
    recurrence: dict[str, float]
    base: tuple[float, float]


@dataclass(frozen=True)
class Rules:
    """How a shift is played: teams, hours, the detection curve and the smugglers' reaction."""

    teams: int
    hours: float
    detect_minutes: float
    displace_share: float
    seed: int


def _scenario(
    region: Region,
    folder: Path,
    options: SimulationOptions,
    tracked_share: float,
    settings: GeointSettings,
    say: Callable[[str], None],
) -> World:
    """Simulate, ingest and analyse a scenario whose smugglers report pings only in part."""
    seed = options.seed
    say(f"seed {seed}: simulating {options.vehicles} vehicles over {options.days} days")
    ground = RegionIndex(region)
    scenario = simulate(ground, Geography.of(region), options, settings)
    # the written truth (ISO times) and the pings as delivered: the cells each smuggler's
    # activity touched as its device reported them, trackers of the untracked included
    truth = scenario.truth.with_columns(
        pl.col("start", "end").str.to_datetime(time_zone="UTC", time_unit="us")
    )
    illicit = illicit_touches(truth, scenario.pings, settings)
    untracked = _untracked(scenario.vehicles, seed, tracked_share)
    scenario.pings = scenario.pings.filter(~pl.col("vehicle_id").is_in(untracked.implode()))
    files = scenario.write(folder / "scenario")
    workspace = Workspace(folder / "W")
    try:
        ingest_pings(workspace, files["pings.parquet"], settings)
        gazetteer = build_gazetteer(region)
        ingest_records(workspace, "seizures", files["seizures.csv"], settings, gazetteer=gazetteer)
        say(f"seed {seed}: analysing {scenario.pings.height:,} pings")
        analyze(workspace, ground, settings)
        table = read_table(workspace.root, "days")
        seizures = workspace.read_table("seizures", columns=["ts", "lat", "lon", "cell"])
    finally:
        workspace.close()
    seizures = seizures.with_columns(pl.col("cell").cast(pl.UInt64))
    # static geography of every cell a seizure (history or find) may fall in
    cells = pl.concat([illicit["cell"], seizures["cell"]]).unique().sort().to_numpy()
    context = ground.cell_context(cells)
    return World(table, seizures, context, illicit, frozenset(untracked.to_list()))


def _station(world: World, region: Region, first: date) -> tuple[float, float]:
    """Where a unit would be posted: the official crossing with the most risk of the warm-up's
    analysed cell-days within `STATION_KM` (what the platform showed, never the truth)."""
    crossings = region.read("crossings").geometry
    if crossings.empty:
        raise GeointError(f"{region.path}: no crossings layer to post the unit at; give --base")
    warm = world.days.filter(pl.col("date") < first).group_by("cell").agg(pl.col("risk").sum())
    lat, lon = cell_centres(warm["cell"].to_numpy())
    risk = warm["risk"].to_numpy()
    near = [
        risk[haversine_m(lat, lon, y, x) <= STATION_KM * 1e3].sum()
        for y, x in zip(crossings.y.to_numpy(), crossings.x.to_numpy(), strict=True)
    ]  # tens of crossings
    best = int(np.argmax(near))
    return float(crossings.y.iloc[best]), float(crossings.x.iloc[best])


def _untracked(vehicles: pl.DataFrame, seed: int, tracked_share: float) -> pl.Series:
    """The planted vehicles that report no pings: all but a seeded `tracked_share` of them.

    Transit trucks are always tracked (the transit regime requires it); other smugglers carry
    no tracker the platform reads, so their activity shows only when a patrol finds it.
    """
    smugglers = vehicles.filter(
        pl.col("role").is_in(list(PLANTED_ROLES)), ~pl.col("role").is_in(list(TRANSIT_ROLES))
    )["vehicle_id"].sort()
    rng = np.random.default_rng([seed, 20])
    return smugglers.filter(pl.Series(rng.random(len(smugglers)) >= tracked_share))


@dataclass(frozen=True)
class History:
    """What the unit knows before the season: seizures (the scenario's records and the finds of
    its past patrols) and the effort of those patrols (their debriefs)."""

    seizures: pl.DataFrame
    effort: pl.DataFrame


def _history(
    world: World,
    graph: TravelGraph,
    base: tuple[float, float],
    first: date,
    rules: Rules,
    settings: GeointSettings,
    past_patrols: bool,
) -> History:
    """The warm-up's record: the scenario's seizures, and with `past_patrols` the unit's habit.

    Before the season the unit patrolled where it was easy (PAWS: the historical record
    follows past patrols): each warm-up evening, its teams went greedily to the trafficked
    cells nearest the base (prize 100 · exp(−km / `HABIT_KM`) on the cells with pings the day
    before), and found activity present there as in the season (same detection curve and
    luck). Its finds are seizures every planner knows; its effort, the debriefs only the
    effort-aware planner reads. The habit ignores the planted truth, as the planners do.
    """
    seizures = world.seizures.filter(pl.col("ts") < _moment(first)).cast(SEIZURES)
    effort = pl.DataFrame(schema=EFFORT_COLUMNS | {"ts": pl.Datetime("us", "UTC")})
    start = world.days["date"].min() + timedelta(days=1)
    for offset in range((first - start).days if past_patrols else 0):
        day = start + timedelta(days=offset)
        traffic = world.days.filter(pl.col("date") == day - timedelta(days=1)).select("cell")
        lat, lon = cell_centres(traffic["cell"].to_numpy())
        km = haversine_m(lat, lon, np.full(len(lat), base[0]), np.full(len(lat), base[1])) / 1e3
        habit = traffic.with_columns(date=pl.lit(day), risk=pl.Series(100 * np.exp(-km / HABIT_KM)))
        request = PatrolRequest(*base, rules.teams, rules.hours, _moment(day, clock(18)))
        plan = plan_patrol(graph, habit, None, request, settings.patrol, greedy_only=True)
        present = set(world.illicit.filter(pl.col("date") == day)["cell"].to_list())
        effort = pl.concat([effort, _visits(plan, present, rules, day)])
    finds = _as_seizures(effort.filter(pl.col("seizures") > 0))
    return History(pl.concat([seizures, finds]), effort.select(list(EFFORT_COLUMNS)))


def _season(
    planner: str,
    world: World,
    history: History,
    graph: TravelGraph,
    base: tuple[float, float],
    first: date,
    shifts: int,
    rules: Rules,
    settings: GeointSettings,
) -> Played:
    """Play `shifts` evening shifts from `first` with one planner."""
    # in the season only the planner's own finds become seizures (the scenario's later
    # records would leak the planted sites)
    seizures, effort = history.seizures, history.effort
    away: dict[str, date] = {}  # smuggler -> the day it is back
    found: list[int] = []
    displaced = 0
    for shift in range(shifts):
        day = first + timedelta(days=shift)
        # yesterday's cell-days, scored as of this morning: seizures and debriefs up to last
        # night count (each counts from the day after its own)
        yesterday = world.days.filter(pl.col("date") == day - timedelta(days=1)).with_columns(
            date=pl.lit(day)
        )
        if yesterday.is_empty():
            found.append(0)
            continue
        known = seizures.filter(pl.col("ts") < _moment(day))
        aware = planner == "effort_aware"
        risk = rescore(yesterday, known, effort if aware else None, settings.cells, world.context)
        request = PatrolRequest(*base, rules.teams, rules.hours, _moment(day, clock(18)))
        plan = plan_patrol(
            graph, risk, None, request, settings.patrol, greedy_only=planner == "greedy"
        )
        active = world.illicit.filter(
            pl.col("date") == day,
            ~pl.col("vehicle_id").is_in([v for v, back in away.items() if back > day]),
        )
        visits = _visits(plan, set(active["cell"].to_list()), rules, day)
        if visits.is_empty():
            found.append(0)
            continue
        effort = pl.concat([effort, visits.select(list(EFFORT_COLUMNS))])
        lying_low = _displaced(active, visits, world.adaptive, rules, day)
        displaced += len(lying_low)
        away |= lying_low
        hits = visits.filter(pl.col("seizures") > 0)
        found.append(hits.height)
        seizures = pl.concat([seizures, _as_seizures(hits)])
    return Played(found, displaced)


def _reach(
    graph: TravelGraph, base: tuple[float, float], rules: Rules, settings: GeointSettings
) -> np.ndarray:
    """The graph's cells a team can reach, stop at and come back from within a shift (sorted
    uint64), as `plan_patrol` keeps its targets: there and back on the graph plus the dwell."""
    cell = latlng_to_cells(np.array([base[0]]), np.array([base[1]]), graph.resolution)
    row = int(graph.index(cell)[0])
    if row < 0:
        return np.array([], dtype=np.uint64)
    shift = rules.hours * 60
    minutes = dijkstra(graph.matrix, indices=row, limit=shift)
    return graph.cells[2 * minutes + settings.patrol.dwell_min <= shift]


def _recurrence(
    illicit: pl.DataFrame, start: date, first: date, shifts: int, reach: np.ndarray
) -> dict[str, float]:
    """What a planner could learn of where activity is, from the planted truth (never planned
    on), over the season's evenings and the cells within `reach`.

    A cell recurs on an evening when it held activity on at least half of the `RECUR_DAYS`
    evenings before (those of the world since `start`). Returns the cells holding activity per
    evening (``reachable_active``), those of them that recur (``recurring_active``), their
    share (``recurring_share``) and how often a recurring cell holds activity that evening
    (``recurring_hit_rate``: what knowing every past place perfectly is worth per search).
    """
    cells = pl.Series("cell", reach, dtype=pl.UInt64)
    truth = illicit.select("date", "cell").unique().filter(pl.col("cell").is_in(cells.implode()))
    active = recurring = hits = 0
    for shift in range(shifts):  # 30 evenings at most
        day = first + timedelta(days=shift)
        window = min(RECUR_DAYS, (day - start).days)
        past = truth.filter(pl.col("date") < day, pl.col("date") >= day - timedelta(days=window))
        counts = past.group_by("cell").len()
        places = counts.filter(2 * pl.col("len") >= max(window, 1))["cell"]
        tonight = truth.filter(pl.col("date") == day)["cell"]
        active += tonight.len()
        recurring += places.len()
        hits += tonight.is_in(places.implode()).sum()
    return {
        "reachable_active": round(active / max(shifts, 1), 1),
        "recurring_active": round(hits / max(shifts, 1), 1),
        "recurring_share": _ratio(hits, active),
        "recurring_hit_rate": _ratio(hits, recurring),
    }


def _visits(plan: PatrolPlan, present: set[int], rules: Rules, day: date) -> pl.DataFrame:
    """The plan's visits as debrief rows with their arrival (`EFFORT_COLUMNS`, ts).

    A stop's minutes are split among its cells; a cell holding activity (`present`) is found
    with probability 1 − exp(−minutes / detect_minutes), from the luck of (seed, day, cell).
    """
    rows = []
    for team in plan.teams:
        for stop in team.stops:
            minutes = (stop.depart - stop.eta).total_seconds() / 60 / len(stop.cells)
            for cell in stop.cells:
                hit = cell in present and _luck(rules.seed, day, cell) < 1 - np.exp(
                    -minutes / rules.detect_minutes
                )
                rows.append((cell, day, minutes, 0.0 if hit else minutes, int(hit), stop.eta))
    schema = EFFORT_COLUMNS | {"ts": pl.Datetime("us", "UTC")}
    return pl.DataFrame(rows, schema=schema, orient="row")


def _as_seizures(hits: pl.DataFrame) -> pl.DataFrame:
    """Finds as seizures at their cells' centres (ts, lat, lon, cell)."""
    lat, lon = cell_centres(hits["cell"].to_numpy())
    return pl.DataFrame(
        {"ts": hits["ts"], "lat": lat, "lon": lon, "cell": hits["cell"]}, schema=SEIZURES
    )


def _displaced(
    active: pl.DataFrame, visits: pl.DataFrame, adaptive: frozenset[str], rules: Rules, day: date
) -> dict[str, date]:
    """The smugglers who lie low after this evening's patrols, and the day each comes back.

    A smuggler without a tracker whose activity was found lies low with probability
    `displace_share`; one whose cells patrols spent `PRESENCE_MINUTES` in, without a find,
    with half that; for `DISPLACE_DAYS` days (uniform), from numbers fixed by (seed, day,
    vehicle) so that the same patrols meet the same reaction whatever the planner.
    """
    seen = (
        active.filter(pl.col("vehicle_id").is_in(list(adaptive)))
        .join(visits.select("cell", "minutes", "seizures"), on="cell")
        .group_by("vehicle_id")
        .agg(pl.col("seizures").sum().alias("found"), pl.col("minutes").sum())
    )
    out = {}
    low, high = DISPLACE_DAYS
    for vehicle, hits, minutes in seen.iter_rows():  # a few smugglers per evening
        share = rules.displace_share * (1.0 if hits else 0.5 if minutes >= PRESENCE_MINUTES else 0)
        if _luck(rules.seed, day, f"flee:{vehicle}") < share:
            stay = low + int(_luck(rules.seed, day, f"away:{vehicle}") * (high - low + 1))
            out[vehicle] = day + timedelta(days=stay + 1)
    return out


def _ratio(a: int, b: int) -> float:
    return round(a / max(b, 1), 3)


def _moment(day: date, at: clock = clock(0)) -> datetime:
    return datetime.combine(day, at, UTC)


def _luck(seed: int, day: date, what: int | str) -> float:
    """A uniform number fixed by (seed, day, cell or event): the same visit draws the same luck."""
    digest = hashlib.sha256(f"{seed}:{day}:{what}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64
