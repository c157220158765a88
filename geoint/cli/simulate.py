"""`geoint simulate`: generated layers and a scenario with ground truth."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from geoint.cli.common import JsonOption, QuietOption, emit, err, load_region, print_summary
from geoint.errors import GeointError
from geoint.settings import GeointSettings

app = typer.Typer()


@app.command(
    "simulate",
    epilog=(
        "Example: geoint simulate --region bn --out scenario --seed 7 --days 3 "
        "--signal typical --json"
    ),
)
def simulate_command(
    region: Annotated[
        Path, typer.Option("--region", help="region folder; generated layers are written into it")
    ],
    out_dir: Annotated[Path, typer.Option("--out", help="folder for the scenario files")],
    seed: Annotated[int, typer.Option(help="random seed: same seed, same files")] = 7,
    vehicles: Annotated[int, typer.Option(help="fleet size, about 30 % planted")] = 150,
    days: Annotated[int, typer.Option(help="days to simulate")] = 3,
    interval: Annotated[int, typer.Option(help="seconds between pings (30-120)")] = 60,
    start: Annotated[str, typer.Option(help="first day, a UTC date")] = "2026-03-02",
    signal: Annotated[
        str,
        typer.Option(help="how trackers report: clean, typical or poor (docs/signals.md)"),
    ] = "clean",
    routes: Annotated[
        int,
        typer.Option(
            help="ways of each kind a planted vehicle keeps to (0: any, drawn afresh each day)"
        ),
    ] = 0,
    as_json: JsonOption = False,
    quiet: QuietOption = False,
) -> None:
    """Generate layers into a region, then a scenario with ground truth into a folder."""
    from datetime import date

    from geoint.layers.queries import RegionIndex
    from geoint.sim.scenery import Geography
    from geoint.sim.simulate import SimulationOptions, simulate
    from geoint.sim.synthetic_layers import add_synthetic_layers

    try:
        options = SimulationOptions(
            seed, vehicles, days, interval, date.fromisoformat(start), signal, routes
        )
    except ValueError as exc:
        raise GeointError(f"simulate: {exc}") from exc
    loaded = load_region(region)
    layers = add_synthetic_layers(loaded, seed)
    geography = Geography.of(loaded)
    log = None if (quiet or as_json) else err.print
    # the index is built after the generated layers are added, so it sees them
    scenario = simulate(RegionIndex(loaded), geography, options, GeointSettings(), log=log)
    files = scenario.write(out_dir)
    payload = {
        "region": str(region),
        "out": str(out_dir),
        "layers": layers,
        "signal": signal,
        "pings": scenario.pings.height,
        "vehicles": scenario.vehicles.height,
        "seizures": scenario.seizures.height,
        "declarations": scenario.declarations.height,
        "watchlist": scenario.watchlist.height,
        "events": scenario.counts(),
        "seconds": {k: round(v, 3) for k, v in scenario.seconds.items()},
        "files": [str(p) for p in files.values()],
    }
    emit(as_json, payload, lambda: print_summary(payload))
