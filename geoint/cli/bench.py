"""`geoint bench ...`: benchmarks that print a figure and its baseline."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from geoint.cli.common import (
    JsonOption,
    RegionOption,
    RequiredRegionOption,
    emit,
    err,
    load_ground,
    load_region,
    open_workspace,
    out,
    print_detection,
    print_summary,
)
from geoint.errors import GeointError
from geoint.settings import GeointSettings

app = typer.Typer()
bench_app = typer.Typer(
    help="Benchmarks that print a figure and its baseline.", no_args_is_help=True
)
app.add_typer(bench_app, name="bench")


@bench_app.command(
    "ingest",
    epilog="Example: geoint bench ingest --pings 1000000 --loop-pings 100000 --repeats 1 --json",
)
def bench_ingest(
    pings: Annotated[int, typer.Option(help="synthetic pings to generate")] = 10_000_000,
    loop_pings: Annotated[
        int, typer.Option(help="pings for the per-row h3 loop baseline")
    ] = 500_000,
    repeats: Annotated[int, typer.Option(min=1, help="runs; medians are reported")] = 3,
    as_json: JsonOption = False,
) -> None:
    """H3 indexing and Parquet ingest throughput, with the per-row h3 loop as the baseline."""
    from geoint.bench.ingest import run_ingest_benchmark

    result = run_ingest_benchmark(pings, loop_pings, repeats, log=None if as_json else err.print)
    emit(as_json, result, lambda: print_summary(result))


@bench_app.command(
    "events",
    epilog="Example: geoint bench events --pings 1000000 --slice-pings 100000 --json",
)
def bench_events(
    pings: Annotated[
        list[int] | None, typer.Option("--pings", help="sizes (repeatable); default 1 M and 10 M")
    ] = None,
    slice_pings: Annotated[
        int, typer.Option(help="pings for the MovingPandas stop-detection comparison")
    ] = 100_000,
    as_json: JsonOption = False,
) -> None:
    """Event detection time and peak memory; stop detection against MovingPandas."""
    import tempfile

    from geoint.bench.events import run_events_benchmark
    from geoint.layers import RegionIndex, build_sample_region
    from geoint.sim.synthetic_layers import add_synthetic_layers

    with tempfile.TemporaryDirectory(prefix="geoint-bench-") as tmp:
        region = build_sample_region(Path(tmp) / "region")
        add_synthetic_layers(region, seed=0)
        corridors = sorted(set(region.read("corridors")["corridor_id"]))
        result = run_events_benchmark(
            RegionIndex(region),
            corridors,
            tuple(pings or (1_000_000, 10_000_000)),
            slice_pings,
            log=None if as_json else err.print,
        )
    emit(as_json, result, lambda: print_summary(result))


@bench_app.command(
    "simulate",
    epilog="Example: geoint bench simulate --pings 1000000 --days 7 --json",
)
def bench_simulate(
    pings: Annotated[
        list[int] | None, typer.Option("--pings", help="sizes (repeatable); default 1 M and 10 M")
    ] = None,
    days: Annotated[int, typer.Option(help="days of every scenario")] = 7,
    interval: Annotated[int, typer.Option(help="seconds between pings (30-120)")] = 60,
    as_json: JsonOption = False,
) -> None:
    """Scenario generation time and pings per second on the sample region."""
    import tempfile

    from geoint.bench.simulate import run_simulate_benchmark
    from geoint.layers import RegionIndex, build_sample_region
    from geoint.sim.scenery import Geography
    from geoint.sim.synthetic_layers import add_synthetic_layers

    with tempfile.TemporaryDirectory(prefix="geoint-bench-") as tmp:
        region = build_sample_region(Path(tmp) / "region")
        add_synthetic_layers(region, seed=0)
        geography = Geography.of(region)
        result = run_simulate_benchmark(
            RegionIndex(region),
            geography,
            tuple(pings or (1_000_000, 10_000_000)),
            days,
            interval,
            log=None if as_json else err.print,
        )
    emit(as_json, result, lambda: print_summary(result))


@bench_app.command(
    "cells",
    epilog="Example: geoint bench cells --pings 1000000 --json",
)
def bench_cells(
    pings: Annotated[int, typer.Option(help="synthetic pings (84 days)")] = 10_000_000,
    as_json: JsonOption = False,
) -> None:
    """All cell analytics at resolution 8; Gi* on every window against esda on one."""
    import tempfile

    from geoint.bench.cells import run_cells_benchmark
    from geoint.layers import RegionIndex, build_sample_region

    with tempfile.TemporaryDirectory(prefix="geoint-bench-") as tmp:
        ground = RegionIndex(build_sample_region(Path(tmp) / "region"))
        result = run_cells_benchmark(ground, pings, log=None if as_json else err.print)
    emit(as_json, result, lambda: print_summary(result))


@bench_app.command(
    "api",
    epilog="Example: geoint bench api --pings 1000000 --clients 20 --rounds 3 --json",
)
def bench_api(
    pings: Annotated[int, typer.Option(help="synthetic pings (7 days; 10000000 for SPEC §14)")] = (
        1_000_000
    ),
    clients: Annotated[int, typer.Option(min=1, help="concurrent clients")] = 20,
    viewports: Annotated[int, typer.Option(min=1, help="map windows per resolution")] = 50,
    rounds: Annotated[int, typer.Option(min=1, help="repeats of the warm (cached) phase")] = 5,
    folder: Annotated[
        Path | None, typer.Option("--dir", help="keep the workspace here (reused when present)")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Heatmap and vector-tile latency of a real server (loopback) under concurrent clients."""
    import os

    from geoint.bench.api import run_api_benchmark

    log = None if as_json else err.print
    result = run_api_benchmark(
        pings, os.environ, clients, viewports, rounds, folder=folder, log=log
    )
    emit(as_json, result, lambda: out.print_json(data=result))


@bench_app.command(
    "alerts",
    epilog="Example: geoint bench alerts --alerts 10000 --trials 20 --json",
)
def bench_alerts(
    alerts: Annotated[int, typer.Option(min=1, help="alerts stored for the list timing")] = (
        100_000
    ),
    trials: Annotated[int, typer.Option(min=1, help="planted crossings POSTed in turn")] = 100,
    requests: Annotated[int, typer.Option(min=1, help="alert list requests per phase")] = 200,
    clients: Annotated[int, typer.Option(min=1, help="concurrent clients of the list")] = 20,
    as_json: JsonOption = False,
) -> None:
    """Alert list p95 with many alerts stored; POSTed pings → alert on SSE latency (real server)."""
    import os
    import shutil
    import tempfile

    from geoint.bench.alerts import run_alerts_benchmark
    from geoint.layers import shipped_region_path

    log = None if as_json else err.print
    with tempfile.TemporaryDirectory(prefix="geoint-bench-alerts-") as tmp:
        region = Path(shutil.copytree(shipped_region_path(), Path(tmp) / "region"))
        ground = load_ground(region)
        result = run_alerts_benchmark(
            Path(tmp), region, ground, os.environ, alerts, trials, requests, clients, log=log
        )
    emit(as_json, result, lambda: out.print_json(data=result))


@bench_app.command(
    "posts",
    epilog="Example: geoint bench posts --mixed --seconds 20 --json",
)
def bench_posts(
    posts: Annotated[int, typer.Option(min=10, help="positions posted, one per request")] = 20_000,
    devices: Annotated[int, typer.Option(min=1, help="tracking devices")] = 1_000,
    clients: Annotated[
        int | None,
        typer.Option(
            min=1, help="concurrent clients (default: one per device; mixed: 20, split by role)"
        ),
    ] = None,
    mixed: Annotated[
        bool,
        typer.Option(
            "--mixed", help="CSV and OsmAnd posters, readers and alert actions on one server"
        ),
    ] = False,
    seconds: Annotated[float, typer.Option(min=1, help="how long the mixed load runs")] = 30,
    as_json: JsonOption = False,
) -> None:
    """Posts to a real server: OsmAnd posts (latency first vs last, parts read, lost; baseline:
    no merging), or with --mixed the mixed load (posts/s and p95 per request kind, lost)."""
    import os
    import shutil
    import tempfile

    from geoint.bench.posts import run_mixed_benchmark, run_posts_benchmark
    from geoint.layers import shipped_region_path

    log = None if as_json else err.print
    with tempfile.TemporaryDirectory(prefix="geoint-bench-posts-") as tmp:
        region = Path(shutil.copytree(shipped_region_path(), Path(tmp) / "region"))
        if mixed:
            result = run_mixed_benchmark(Path(tmp), region, os.environ, seconds, clients or 20, log)
        else:
            result = run_posts_benchmark(
                Path(tmp), region, os.environ, posts, devices, clients or devices, log
            )
    emit(as_json, result, lambda: out.print_json(data=result))
    if result.get("lost") or any(r.get("lost") for r in result.values() if isinstance(r, dict)):
        raise typer.Exit(1)


@bench_app.command(
    "soak",
    epilog="Example: geoint bench soak --minutes 1 --json",
)
def bench_soak(
    minutes: Annotated[float, typer.Option(min=0.1, help="how long the mixed load runs")] = 10,
    devices: Annotated[int, typer.Option(min=1, help="tracking devices posting")] = 8,
    readers: Annotated[int, typer.Option(min=0, help="clients reading lists and feeds")] = 2,
    as_json: JsonOption = False,
) -> None:
    """Mixed load on a real server (posts, reads, alert actions, an analysis); lost / doubled."""
    import os
    import shutil
    import tempfile

    from geoint.bench.soak import run_soak
    from geoint.layers import shipped_region_path

    with tempfile.TemporaryDirectory(prefix="geoint-bench-soak-") as tmp:
        region = Path(shutil.copytree(shipped_region_path(), Path(tmp) / "region"))
        result = run_soak(
            Path(tmp), region, os.environ, minutes, devices, readers,
            None if as_json else err.print,
        )  # fmt: skip
    emit(as_json, result, lambda: out.print_json(data=result))
    if result["errors_5xx"] or result["lost"] or result["doubled"] or result["analysis_exit"]:
        raise typer.Exit(1)


@bench_app.command(
    "patrol",
    epilog="Example: geoint bench patrol --workspace ws --shifts 5 --json",
)
def bench_patrol(
    workspace: Annotated[Path, typer.Option("--workspace", "-w", help="a 'geoint demo' workspace")],
    region: RegionOption = None,
    base: Annotated[
        str | None, typer.Option(help="LAT,LON; default the crossing nearest the riskiest cell")
    ] = None,
    start: Annotated[
        str | None, typer.Option(help="ISO start; default 18:00 UTC before the last risk day")
    ] = None,
    shifts: Annotated[int, typer.Option(min=1, help="seeded shifts for the repeat rate")] = 10,
    as_json: JsonOption = False,
) -> None:
    """A 3-team, 8-hour plan (graph and solve, target ≤ 10 s), its greedy ratio and repeats."""
    from geoint.bench.patrol import default_start, nearest_to_risk, run_patrol_benchmark
    from geoint.patrol.plan import PatrolRequest, parse_base, parse_start, read_risk_tables
    from geoint.patrol.travel import build_travel_graph

    loaded = load_region(region or workspace / "region")
    settings, store = open_workspace(workspace)
    risk, emerging = read_risk_tables(store)
    moment = default_start(risk) if start is None else parse_start(start)
    if base is None:
        crossings = loaded.read("crossings").geometry
        lat_lon = nearest_to_risk(risk, moment, crossings.y.to_numpy(), crossings.x.to_numpy())
    else:
        lat_lon = parse_base(base)
    request = PatrolRequest(*lat_lon, teams=3, hours=8, start=moment)
    result = run_patrol_benchmark(
        lambda: build_travel_graph(loaded, settings.patrol, settings.h3_resolution),
        risk,
        emerging,
        request,
        settings.patrol,
        shifts,
        log=None if as_json else err.print,
    )
    emit(as_json, result, lambda: out.print_json(data=result))


@bench_app.command(
    "patrol-season",
    epilog="Example: geoint bench patrol-season --region ws/region --seeds 1,2,3 --shifts 30 "
    "--tracked-share 0.5 --json",
)
def bench_patrol_season(
    region: RequiredRegionOption,
    base: Annotated[
        str | None,
        typer.Option(
            help="the teams' base, LAT,LON; default per seed the official crossing with the "
            "most warm-up risk within 25 km"
        ),
    ] = None,
    seeds: Annotated[str, typer.Option(help="scenario seeds, comma-separated")] = "1,2,3",
    shifts: Annotated[int, typer.Option(min=1, help="evening shifts per season")] = 30,
    vehicles: Annotated[int, typer.Option(min=20, help="vehicles per scenario")] = 60,
    days: Annotated[
        int, typer.Option(min=8, help="days of each seed's world: 7 of warm-up, then the shifts")
    ] = 37,
    tracked_share: Annotated[
        float,
        typer.Option(min=0, max=1, help="share of smugglers whose pings the platform receives"),
    ] = 0.5,
    detect_minutes: Annotated[
        float, typer.Option(min=1, help="a search of this long finds present activity at 63 %")
    ] = 20,
    teams: Annotated[int, typer.Option(min=1, help="teams per shift")] = 3,
    displace_share: Annotated[
        float,
        typer.Option(
            min=0, max=1, help="chance that an untracked smuggler found lies low for 3-10 days"
        ),
    ] = 0.5,
    routes: Annotated[
        int,
        typer.Option(
            min=0, help="ways of each kind a smuggler keeps to (0: any, drawn afresh each day)"
        ),
    ] = 2,
    signal: Annotated[
        str, typer.Option(help="how trackers report: clean, typical or poor (docs/signals.md)")
    ] = "clean",
    jobs: Annotated[int, typer.Option(min=1, help="seeds played at once, one process each")] = 1,
    past_patrols: Annotated[
        bool,
        typer.Option(
            help="the warm-up's record holds the unit's habitual patrols near the base "
            "(their finds and debriefs)"
        ),
    ] = True,
    as_json: JsonOption = False,
) -> None:
    """A simulated season: effort-aware vs effort-blind planner vs greedy, cumulative finds."""
    from geoint.bench.season import run_season_benchmark
    from geoint.patrol.plan import parse_base
    from geoint.patrol.travel import build_travel_graph

    try:
        seed_list = [int(s) for s in seeds.split(",") if s.strip()]
    except ValueError:
        expected = "integers separated by commas"
        raise GeointError(f"--seeds: expected {expected}, got {seeds!r}") from None
    loaded = load_region(region)
    log = None if as_json else err.print
    if not loaded.files("roads") or not loaded.files("crossings"):
        # the worlds need roads and crossings: generated as `geoint simulate` does; said on
        # stderr even with --json, as it writes into the user's region
        from geoint.sim.synthetic_layers import add_synthetic_layers

        counts = add_synthetic_layers(loaded, seed=0)
        err.print(f"{region}: no roads or crossings; generated into the region: {counts}")
    settings = GeointSettings()  # GEOINT_PATROL__SOLVER_TIME_S shortens every plan
    graph = build_travel_graph(loaded, settings.patrol, settings.h3_resolution)
    result = run_season_benchmark(
        loaded,
        graph,
        parse_base(base) if base else None,
        seed_list,
        shifts,
        vehicles,
        days,
        tracked_share,
        teams=teams,
        detect_minutes=detect_minutes,
        settings=settings,
        displace_share=displace_share,
        jobs=jobs,
        past_patrols=past_patrols,
        routes=routes,
        signal=signal,
        log=log,
    )
    emit(as_json, result, lambda: out.print_json(data=result))


@bench_app.command(
    "detection",
    epilog=(
        'Example: geoint bench detection --countries "Ghana,Togo" --signal typical '
        "--vehicles 60 --days 2 --json"
    ),
)
def bench_detection(
    countries: Annotated[
        list[str] | None,
        typer.Option(
            "--countries",
            help='two countries of the bundled world data (repeatable); default "France,Spain" '
            'and "Kenya,Tanzania"',
        ),
    ] = None,
    signal: Annotated[
        list[str] | None,
        typer.Option("--signal", help="signal profiles (repeatable); default clean, typical, poor"),
    ] = None,
    seed: Annotated[int, typer.Option(help="scenario seed")] = 5,
    vehicles: Annotated[int, typer.Option(help="fleet size of every scenario")] = 150,
    days: Annotated[int, typer.Option(help="days of every scenario")] = 3,
    as_json: JsonOption = False,
) -> None:
    """Recall and precision per event type for each signal profile on two borders."""
    import tempfile

    from geoint.bench.detection import run_detection_benchmark
    from geoint.layers import init_region
    from geoint.sim.signal import PROFILES

    pairs = countries or ["France,Spain", "Kenya,Tanzania"]
    profiles = signal or list(PROFILES)
    unknown = [name for name in profiles if name not in PROFILES]
    if unknown:
        raise GeointError(f"--signal must be one of {', '.join(PROFILES)}, got {unknown[0]!r}")
    with tempfile.TemporaryDirectory(prefix="geoint-bench-") as tmp:
        regions = []
        for k, pair in enumerate(pairs):
            names = tuple(name.strip() for name in pair.split(","))
            if len(names) != 2:
                raise GeointError(f'--countries takes two names, e.g. "France,Spain"; got {pair!r}')
            regions.append(init_region(Path(tmp) / f"region-{k}", names))
        result = run_detection_benchmark(
            regions, profiles, seed, vehicles, days, log=None if as_json else err.print
        )
    emit(as_json, result, lambda: print_detection(result))


@bench_app.command(
    "exchange",
    epilog="Example: geoint bench exchange --seizures 10000 --json",
)
def bench_exchange(
    seizures: Annotated[int, typer.Option(min=1, help="seizures exported and imported")] = 100_000,
    as_json: JsonOption = False,
) -> None:
    """Export and import of 100 k seizures (each ≤ 10 s); baseline: ingesting them from CSV."""
    import tempfile

    from geoint.bench.exchange import run_exchange_benchmark

    with tempfile.TemporaryDirectory(prefix="geoint-bench-exchange-") as tmp:
        result = run_exchange_benchmark(Path(tmp), seizures, None if as_json else err.print)
    emit(as_json, result, lambda: out.print_json(data=result))


@bench_app.command(
    "scale",
    epilog="Example: geoint bench scale --pings 1000000 --engine dask --workers 2 --json",
)
def bench_scale(
    pings: Annotated[int, typer.Option(min=1, help="pings to generate, ingest and analyse")] = (
        10_000_000
    ),
    engine: Annotated[
        str, typer.Option("--engine", help="local, or dask (also a 2-worker LocalCluster run)")
    ] = "local",
    workers: Annotated[int, typer.Option(min=1, help="workers of the local Dask cluster")] = 2,
    baseline_max: Annotated[
        int, typer.Option(help="the one-partition baseline runs up to this many pings")
    ] = 10_000_000,
    directory: Annotated[
        Path | None, typer.Option("--dir", help="folder for the workspace (default: temporary)")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Ingest and analysis of N pings of thousands of trackers: time, peak memory of the
    process tree, the unpartitioned engine as the baseline (and the Dask engine)."""
    import tempfile

    from geoint.bench.scale import run_scale_benchmark
    from geoint.layers import RegionIndex, build_sample_region
    from geoint.sim.synthetic_layers import add_synthetic_layers

    if engine not in ("local", "dask"):
        raise GeointError(f"--engine: expected local or dask, got {engine!r}")
    if directory is not None:
        directory.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="geoint-bench-scale-", dir=directory) as tmp:
        region = build_sample_region(Path(tmp) / "region")
        add_synthetic_layers(region, seed=0)
        result = run_scale_benchmark(
            RegionIndex(region),
            region.path,
            Path(tmp),
            pings,
            engine,
            workers,
            baseline_max,
            log=None if as_json else err.print,
        )
    emit(as_json, result, lambda: print_summary(result))
