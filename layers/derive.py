"""Derive a region from the bundled world data by naming two countries."""

from __future__ import annotations

import re
import tempfile
from pathlib import Path

import geopandas as gpd
import numpy as np
import pyproj
import rasterio
import shapely
from pyproj.aoi import AreaOfInterest
from pyproj.database import query_utm_crs_info
from rasterio.windows import Window
from timezonefinder import TimezoneFinder

from geoint.errors import RegionError
from geoint.layers.border import KM_PER_DEGREE, border_lines, derive_sides
from geoint.layers.region import Region
from geoint.layers.world import (
    country_aliases,
    name_key,
    resolve_country,
    world_elevation_path,
    world_places,
)


def init_region(
    path: str | Path,
    countries: tuple[str, str] | str = ("Benin", "Nigeria"),
    timezone: str | None = None,
    crs: str | None = None,
    *,
    name: str | None = None,
    margin_km: float = 150.0,
    overwrite: bool = False,
) -> Region:
    """Create region folder `path` for the border between two countries of the world data.

    Writes the border, the two sides, the populated places within `margin_km` of the line and
    the elevation clip of the line's extent plus `margin_km`. The timezone defaults to that of
    the line's midpoint, the CRS to the UTM zone of the line's centre. `countries` may also be
    one string, "Benin,Nigeria"; names, long names and ISO codes are all accepted.
    """
    names = countries.split(",") if isinstance(countries, str) else list(countries)
    if len(names) != 2:
        raise RegionError(f"countries {countries!r}: expected two, e.g. 'Benin,Nigeria'")
    left, right = (resolve_country(c) for c in names)
    if left == right:
        raise RegionError(f"countries {names[0]!r} and {names[1]!r} are the same country")
    border = border_lines(left, right)
    line = shapely.multilinestrings(border.geometry.to_numpy())
    bbox = _margin_bbox(line.bounds, margin_km)
    crs = crs or _utm_crs(line)
    timezone = timezone or _timezone(border)
    sides = derive_sides(border, left, right, margin_km)
    places = _region_places(line, sides, bbox, crs, margin_km)
    region = Region.create(
        path,
        name=name or _slug(f"{left}-{right}"),
        timezone=timezone,
        crs=crs,
        countries=(left, right),
        bbox=bbox,
        overwrite=overwrite,
    )
    region.add_frame("border", border, source="Natural Earth 10m boundary lines")
    region.add_frame("sides", sides, source="sides derived from Natural Earth 50m countries")
    region.add_frame("places", places, source="Natural Earth 10m populated places")
    with tempfile.TemporaryDirectory() as tmp:
        clip = Path(tmp) / "elevation.tif"
        clip_raster(world_elevation_path(), clip, bbox)
        region.add_layer("elevation", clip)
    return region


def _region_places(
    line: shapely.Geometry,
    sides: gpd.GeoDataFrame,
    bbox: tuple[float, float, float, float],
    crs: str,
    margin_km: float,
) -> gpd.GeoDataFrame:
    """Return the populated places of both countries within `margin_km` of the line."""
    places = world_places().cx[bbox[0] : bbox[2], bbox[1] : bbox[3]]
    points = places.geometry.to_numpy()
    to_metric = pyproj.Transformer.from_crs("EPSG:4326", crs, always_xy=True).transform
    near = shapely.dwithin(
        shapely.transform(points, lambda xy: np.column_stack(to_metric(xy[:, 0], xy[:, 1]))),
        shapely.transform(line, lambda xy: np.column_stack(to_metric(xy[:, 0], xy[:, 1]))),
        margin_km * 1000,
    )
    country = np.full(len(places), "", dtype=object)
    for name, polygon in zip(sides["country"], sides.geometry, strict=True):
        named = places["adm0name"].map(name_key).isin(country_aliases(name)).to_numpy()
        inside = shapely.contains(polygon, points)
        country = np.where((country == "") & (named | inside), name, country)
    keep = near & (country != "")
    return gpd.GeoDataFrame(
        {
            "name": places["name"].to_numpy()[keep],
            "kind": "town",
            "population": places["pop_max"].to_numpy()[keep],
            "country": country[keep],
        },
        geometry=points[keep],
        crs="EPSG:4326",
    )


def clip_raster(source: Path, target: Path, bbox: tuple[float, float, float, float]) -> None:
    """Write the cells of north-up lon/lat raster `source` covering `bbox` to `target`.

    The window is widened to whole cells and cut at the raster's edges.
    """
    with rasterio.open(source) as src:
        west, south, east, north = bbox
        cols, rows = ~src.transform @ (np.array([west, east]), np.array([north, south]))
        col0, row0 = max(int(np.floor(min(cols))), 0), max(int(np.floor(min(rows))), 0)
        col1 = min(int(np.ceil(max(cols))), src.width)
        row1 = min(int(np.ceil(max(rows))), src.height)
        window = Window(col0, row0, col1 - col0, row1 - row0)
        profile = src.profile | {
            "width": window.width,
            "height": window.height,
            "transform": src.transform @ rasterio.Affine.translation(col0, row0),
            "compress": "deflate",
            "tiled": False,
        }
        profile.pop("blockxsize", None)
        profile.pop("blockysize", None)
        data = src.read(window=window)
    with rasterio.open(target, "w", **profile) as dst:
        dst.write(data)


def _margin_bbox(
    bounds: tuple[float, float, float, float], margin_km: float
) -> tuple[float, float, float, float]:
    """Return lon/lat `bounds` widened by `margin_km` (approximately, in degrees)."""
    west, south, east, north = bounds
    dlat = margin_km / KM_PER_DEGREE
    dlon = dlat / max(np.cos(np.radians(max(abs(south), abs(north)) + dlat)), 0.05)
    return (
        round(max(west - dlon, -180.0), 4),
        round(max(south - dlat, -90.0), 4),
        round(min(east + dlon, 180.0), 4),
        round(min(north + dlat, 90.0), 4),
    )


def _utm_crs(line: shapely.Geometry) -> str:
    """Return the WGS 84 UTM zone (e.g. "EPSG:32631") of the centre of the line's extent."""
    x, y = shapely.get_coordinates(shapely.centroid(shapely.envelope(line)))[0]
    zones = query_utm_crs_info(datum_name="WGS 84", area_of_interest=AreaOfInterest(x, y, x, y))
    return f"{zones[0].auth_name}:{zones[0].code}"


def _timezone(border: gpd.GeoDataFrame) -> str:
    """Return the IANA time zone at the midpoint of the longest border part."""
    longest = border.geometry.to_numpy()[np.argmax(shapely.length(border.geometry.to_numpy()))]
    x, y = shapely.get_coordinates(shapely.line_interpolate_point(longest, 0.5, normalized=True))[0]
    zone = TimezoneFinder().timezone_at(lng=float(x), lat=float(y))
    if zone is None:
        raise RegionError(
            f"no time zone found at the border's midpoint {y:.4f}N {x:.4f}E; pass the timezone"
        )
    return zone


def _slug(text: str) -> str:
    return re.sub(r"[^0-9a-z]+", "-", text.casefold()).strip("-")
