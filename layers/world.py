"""The bundled world reference data (Natural Earth, pvlib elevation); see ``world/README.md``."""

from __future__ import annotations

import difflib
import re
from functools import cache
from importlib.resources import files
from pathlib import Path

import geopandas as gpd

from geoint.errors import RegionError

# Columns of the country polygons under which a country may be named.
_NAME_COLUMNS = ("ADMIN", "NAME", "NAME_LONG", "ISO_A3", "ADM0_A3")


def _world_dir() -> Path:
    return Path(str(files("geoint.layers") / "world"))


@cache
def _read(name: str) -> gpd.GeoDataFrame:
    return gpd.read_parquet(_world_dir() / name)


def world_boundaries() -> gpd.GeoDataFrame:
    """Return the 10m land boundary lines: ``adm0_left``, ``adm0_right``, geometry (EPSG:4326)."""
    return _read("boundary_lines.parquet").copy()


def world_countries() -> gpd.GeoDataFrame:
    """Return the 50m country polygons: NAME, ADMIN, NAME_LONG, ISO_A3, ADM0_A3, geometry."""
    return _read("countries.parquet").copy()


def world_places() -> gpd.GeoDataFrame:
    """Return the 10m populated places: name, nameascii, adm0name, pop_max, latitude, longitude.

    The point geometry is authoritative: a few hundred rows carry stale latitude/longitude.
    """
    return _read("populated_places.parquet").copy()


def world_lakes() -> gpd.GeoDataFrame:
    """Return the 10m lakes and reservoirs: name, scalerank, geometry (simplified to 0.002°)."""
    return _read("lakes.parquet").copy()


def world_elevation_path() -> Path:
    """Return the path of the global 5 arc-minute elevation GeoTIFF (int16 metres)."""
    return _world_dir() / "elevation_5arcmin.tif"


def resolve_country(name: str) -> str:
    """Return the world data's name (ADMIN) of a country given any of its names or ISO codes."""
    countries = world_countries()
    key = name_key(name)
    for column in _NAME_COLUMNS:
        match = countries[countries[column].map(name_key) == key]
        if len(match):
            return str(match["ADMIN"].iloc[0])
    known = sorted(set(countries["ADMIN"]) | set(countries["NAME"]))
    close = difflib.get_close_matches(name, known, n=5, cutoff=0.6)
    hint = f"; did you mean {', '.join(close)}?" if close else "; expected a country name"
    raise RegionError(f"unknown country {name!r}{hint}")


def country_aliases(admin: str) -> set[str]:
    """Return the normalised names and codes of the country whose ADMIN is `admin`."""
    countries = world_countries()
    row = countries.loc[countries["ADMIN"] == admin, list(_NAME_COLUMNS)]
    return {name_key(v) for v in row.to_numpy().ravel()}


def name_key(name: object) -> str:
    """Return a name reduced to lower-case letters and digits, for forgiving comparisons."""
    return re.sub(r"[^0-9a-z]", "", str(name).casefold())
