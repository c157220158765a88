"""The offline basemap: drawn from the data shipped with the package, no tiles, no network.

Country fills with their names, the coast, Natural Earth's lakes and reservoirs, towns named by
population tier (the page shows a tier from a zoom on), the region's rivers and a hillshade of
the region's elevation raster as one PNG image. Every name is HTML-escaped here: the page shows
it as markup.
"""

from __future__ import annotations

import base64
import html
import io
from dataclasses import dataclass
from functools import cache
from typing import Any

import geopandas as gpd
import numpy as np
import rasterio
import shapely
from PIL import Image
from rasterio.vrt import WarpedVRT

from geoint.layers import Region
from geoint.layers.world import world_countries, world_lakes, world_places

MARGIN_DEG = 6.0  # the basemap reaches this far around the region's box (any usual view)
SIMPLIFY_DEG = 0.005  # about 500 m: finer than the 50m countries themselves
# (population, first zoom shown): capitals and cities first, then towns, then villages
TOWN_TIERS = ((1_000_000, 5), (100_000, 7), (0, 9))
LAND_COLOURS = ("#f4efe1", "#ece6d2", "#efe9dc", "#e7e1cf", "#f1ebd8")
HILLSHADE_UPSAMPLE = 4  # smoother relief from a ~9 km raster
SUN_AZIMUTH_DEG, SUN_ALTITUDE_DEG = 315.0, 45.0
# relief exaggeration: the plains of a ~9 km raster hardly shade at their true slopes
Z_FACTOR = 30.0


@dataclass(frozen=True)
class Basemap:
    """The basemap's layers as GeoJSON (names escaped) and the hillshade as a PNG data URI."""

    countries: dict[str, Any]  # polygons with ``name``, ``colour``
    labels: dict[str, Any]  # one point per country in view with its ``name``
    coast: dict[str, Any]  # lines where land meets the sea
    towns: dict[str, Any]  # points with ``name``, ``zoom`` (first zoom it shows at)
    rivers: dict[str, Any]
    lakes: dict[str, Any]  # polygons with ``name`` (escaped; empty for unnamed ones)
    hillshade: str | None  # data:image/png;base64,...
    hillshade_bounds: list[list[float]] | None  # [[south, west], [north, east]]

    def to_json(self) -> dict[str, Any]:
        """The config ``map.js`` draws the basemap from."""
        return {
            "countries": self.countries,
            "labels": self.labels,
            "coast": self.coast,
            "towns": self.towns,
            "rivers": self.rivers,
            "lakes": self.lakes,
            "hillshade": self.hillshade,
            "hillshadeBounds": self.hillshade_bounds,
        }


def basemap(region: Region) -> Basemap:
    """The basemap of `region` (cached per region folder and manifest)."""
    stamp = region.manifest_path.stat().st_mtime_ns if region.manifest_path.exists() else 0
    return _basemap(region.path, stamp)


@cache
def _basemap(path: Any, _stamp: int) -> Basemap:
    region = Region.load(path)
    box = _box(region)
    countries = world_countries()
    countries = countries[countries.intersects(shapely.box(*box))]
    clipped = shapely.clip_by_rect(countries.geometry.to_numpy(), *box)
    simple = shapely.simplify(clipped, SIMPLIFY_DEG, preserve_topology=True)
    names = [html.escape(str(n)) for n in countries["NAME"]]
    colours = [LAND_COLOURS[i % len(LAND_COLOURS)] for i in range(len(names))]
    land = shapely.union_all(countries.geometry.to_numpy())
    coast = shapely.clip_by_rect(shapely.simplify(land.boundary, SIMPLIFY_DEG), *box)
    labels = shapely.point_on_surface(clipped)
    return Basemap(
        countries=_collection(simple, name=names, colour=colours),
        labels=_collection(labels, name=names),
        coast=_collection([] if coast.is_empty else [coast]),
        towns=_towns(box),
        rivers=_rivers(region),
        lakes=_lakes(box),
        **_hillshade(region),
    )


def _box(region: Region) -> tuple[float, float, float, float]:
    """The region's box (or its border's) grown by `MARGIN_DEG`."""
    bounds = region.bbox or tuple(region.read("border").total_bounds)
    west, south, east, north = bounds
    return west - MARGIN_DEG, south - MARGIN_DEG, east + MARGIN_DEG, north + MARGIN_DEG


def _collection(geometry: Any, **columns: list[Any]) -> dict[str, Any]:
    """A FeatureCollection of lng/lat geometries with the given properties."""
    frame = gpd.GeoDataFrame(columns, geometry=list(geometry), crs=4326)
    return frame[~frame.geometry.is_empty].__geo_interface__


def _towns(box: tuple[float, float, float, float]) -> dict[str, Any]:
    """Populated places in `box` with the zoom their population tier shows at, biggest first."""
    places = world_places()
    places = places[places.within(shapely.box(*box))].sort_values("pop_max", ascending=False)
    population = places["pop_max"].to_numpy()
    zoom = np.select([population >= p for p, _ in TOWN_TIERS], [z for _, z in TOWN_TIERS], 9)
    return _collection(
        places.geometry.to_numpy(),
        name=[html.escape(str(n)) for n in places["name"]],
        zoom=zoom.tolist(),
    )


def _lakes(box: tuple[float, float, float, float]) -> dict[str, Any]:
    """Natural Earth's lakes and reservoirs meeting `box`, clipped to it."""
    lakes = world_lakes()
    lakes = lakes[lakes.intersects(shapely.box(*box))]
    clipped = shapely.clip_by_rect(lakes.geometry.to_numpy(), *box)
    names = [html.escape(str(n)) if isinstance(n, str) else "" for n in lakes["name"]]
    return _collection(clipped, name=names)


def _rivers(region: Region) -> dict[str, Any]:
    """The region's rivers layer (empty when it has none)."""
    if not region.files("rivers"):
        return _collection([])
    rivers = region.read("rivers").to_crs(4326)
    return _collection(shapely.simplify(rivers.geometry.to_numpy(), SIMPLIFY_DEG / 5))


def _hillshade(region: Region) -> dict[str, Any]:
    """The elevation raster's hillshade as a PNG on Web Mercator rows, with its bounds."""
    path = region.raster_path("elevation")
    if path is None:
        return {"hillshade": None, "hillshade_bounds": None}
    with rasterio.open(path) as src, WarpedVRT(src, crs="EPSG:4326") as vrt:
        z = vrt.read(1, masked=True).astype(np.float64).filled(np.nan)
        west, south, east, north = vrt.bounds
    shade = hillshade(z, (east - west) / z.shape[1], (north - south) / z.shape[0], south, north)
    # Leaflet stretches an image linearly in Web Mercator: resample the rows to equal steps of it
    rows = HILLSHADE_UPSAMPLE * z.shape[0]
    mercator = np.linspace(_mercator_y(north), _mercator_y(south), rows)
    lat = np.degrees(2 * np.arctan(np.exp(mercator)) - np.pi / 2)
    source_row = (north - lat) / (north - south) * z.shape[0] - 0.5
    source_col = (np.arange(HILLSHADE_UPSAMPLE * z.shape[1]) + 0.5) / HILLSHADE_UPSAMPLE - 0.5
    shade = _bilinear(shade, source_row, source_col)
    # dark slopes darken the land and lit ones lighten it; flat ground stays transparent
    flat = np.sin(np.radians(SUN_ALTITUDE_DEG))
    alpha = np.clip(np.abs(shade - flat) * 400, 0, 140)
    grey = np.where(shade < flat, 40, 255)
    rgba = np.stack([grey, grey, grey, np.nan_to_num(alpha)], axis=-1).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(rgba, "RGBA").save(buffer, format="PNG", optimize=True)
    uri = "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()
    return {"hillshade": uri, "hillshade_bounds": [[south, west], [north, east]]}


def hillshade(
    z: np.ndarray, dx_deg: float, dy_deg: float, south: float, north: float
) -> np.ndarray:
    """Illumination 0..1 of a north-up lat/lon elevation grid (metres) under the sun at
    `SUN_AZIMUTH_DEG`, `SUN_ALTITUDE_DEG`, relief × `Z_FACTOR` (slopes by ``numpy.gradient``)."""
    lat = np.linspace(north - dy_deg / 2, south + dy_deg / 2, z.shape[0])[:, None]
    dx_m = dx_deg * 111_320.0 * np.cos(np.radians(lat))
    dy_m = dy_deg * 110_574.0
    filled = np.where(np.isnan(z), np.nanmean(z) if np.isfinite(z).any() else 0.0, z)
    dz_dy, dz_dx = np.gradient(filled * Z_FACTOR)
    slope = np.arctan(np.hypot(dz_dx / dx_m, dz_dy / dy_m))
    aspect = np.arctan2(dz_dy / dy_m, -dz_dx / dx_m)
    zenith = np.radians(90.0 - SUN_ALTITUDE_DEG)
    azimuth = np.radians(360.0 - SUN_AZIMUTH_DEG + 90.0)
    shade = np.cos(zenith) * np.cos(slope) + np.sin(zenith) * np.sin(slope) * np.cos(
        azimuth - aspect
    )
    return np.clip(shade, 0.0, 1.0)


def _mercator_y(lat: float) -> float:
    return float(np.arcsinh(np.tan(np.radians(lat))))


def _bilinear(grid: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """`grid` sampled at fractional `rows` × `cols` (edges clamped)."""
    r = np.clip(rows, 0, grid.shape[0] - 1)
    c = np.clip(cols, 0, grid.shape[1] - 1)
    r0 = np.minimum(np.floor(r).astype(int), grid.shape[0] - 2 if grid.shape[0] > 1 else 0)
    c0 = np.minimum(np.floor(c).astype(int), grid.shape[1] - 2 if grid.shape[1] > 1 else 0)
    r1, c1 = np.minimum(r0 + 1, grid.shape[0] - 1), np.minimum(c0 + 1, grid.shape[1] - 1)
    fr, fc = (r - r0)[:, None], (c - c0)[None, :]
    top = grid[np.ix_(r0, c0)] * (1 - fc) + grid[np.ix_(r0, c1)] * fc
    bottom = grid[np.ix_(r1, c0)] * (1 - fc) + grid[np.ix_(r1, c1)] * fc
    return top * (1 - fr) + bottom * fr
