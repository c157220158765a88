"""`geoint region ...` and `geoint layers`: derive, extend, inspect and query a region."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from geoint.cli.common import (
    JsonOption,
    RequiredRegionOption,
    emit,
    load_ground,
    load_region,
    out,
    print_summary,
)
from geoint.errors import GeointError

app = typer.Typer()
region_app = typer.Typer(help="Region layers: derive, extend, inspect.", no_args_is_help=True)
app.add_typer(region_app, name="region")

OverwriteOption = Annotated[
    bool, typer.Option("--overwrite", help="replace an existing region in the folder")
]


@region_app.command(
    "init",
    epilog="Example: geoint region init bn --countries Benin,Nigeria --json",
)
def region_init(
    directory: Path,
    countries: Annotated[str, typer.Option(help='two countries, e.g. "Benin,Nigeria"')],
    timezone: Annotated[str | None, typer.Option(help="IANA zone; default from the border")] = None,
    crs: Annotated[str | None, typer.Option(help="metric CRS; default the UTM zone")] = None,
    overwrite: OverwriteOption = False,
    as_json: JsonOption = False,
) -> None:
    """Derive a region (border, sides, places, elevation) from the bundled world data."""
    from geoint.layers import init_region

    names = [c.strip() for c in countries.split(",") if c.strip()]
    if len(names) != 2:
        raise GeointError(
            f'--countries: expected two names separated by a comma, got "{countries}"'
        )
    region = init_region(
        directory, (names[0], names[1]), timezone=timezone, crs=crs, overwrite=overwrite
    )
    emit(as_json, region.summary(), lambda: print_summary(region.summary()))


@region_app.command(
    "sample",
    epilog="Example: geoint region sample sample-region --overwrite --json",
)
def region_sample(
    directory: Path, overwrite: OverwriteOption = False, as_json: JsonOption = False
) -> None:
    """Build the Benin–Nigeria sample region (border, sides, places, elevation, rivers, roads)."""
    from geoint.layers import build_sample_region

    region = build_sample_region(directory, overwrite=overwrite)
    emit(as_json, region.summary(), lambda: print_summary(region.summary()))


@region_app.command(
    "add-layer",
    epilog="Example: geoint region add-layer bn roads roads.geojson --json",
)
def region_add_layer(
    directory: Path,
    kind: Annotated[
        str,
        typer.Argument(
            help="roads, crossings, corridors, stop_areas, sectors, places, elevation, rivers"
        ),
    ],
    file: Path,
    as_json: JsonOption = False,
) -> None:
    """Validate a layer file, store it normalised in the region and list it in the manifest."""
    region = load_region(directory)
    region.add_layer(kind, file)
    emit(as_json, region.summary(), lambda: print_summary(region.summary()))


@region_app.command(
    "show",
    epilog="Example: geoint region show ws/region --json",
)
def region_show(directory: Path, as_json: JsonOption = False) -> None:
    """Print a region's manifest and layer sizes."""
    summary = load_region(directory).summary()
    emit(as_json, summary, lambda: print_summary(summary))


@app.command(
    "layers",
    epilog="Example: geoint layers --region ws/region 6.37,2.43 6.45,3.40 --json",
)
def layers_query(
    region: RequiredRegionOption,
    points: Annotated[list[str], typer.Argument(help="LAT,LON points to look up")],
    as_json: JsonOption = False,
) -> None:
    """Answer layer questions at points: side, distances, sector, elevation and slope."""
    import numpy as np

    lat, lon = _parse_points(points)
    frame = load_ground(region).point_context(np.array(lat), np.array(lon))
    rows = frame.to_dicts()
    emit(as_json, {"points": rows}, lambda: out.print(frame))


def _parse_points(points: list[str]) -> tuple[list[float], list[float]]:
    lat, lon = [], []
    for text in points:
        try:
            a, b = (float(v) for v in text.split(","))
        except ValueError as exc:
            raise GeointError(f"point {text!r}: expected LAT,LON in decimal degrees") from exc
        lat.append(a)
        lon.append(b)
    return lat, lon
