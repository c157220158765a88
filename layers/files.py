"""Reading layer files in any supported format and CRS, and writing them normalised."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pandas as pd
import rasterio
import rasterio.shutil

from geoint.atomic import replacing
from geoint.errors import RegionError

VECTOR_SUFFIXES = (".geojson", ".json", ".gpkg", ".shp", ".parquet", ".geoparquet", ".csv")
_LAT_NAMES = ("lat", "latitude")
_LON_NAMES = ("lon", "lng", "long", "longitude")
NO_CRS = "no CRS; expected a file that declares its CRS (e.g. EPSG:4326, or a .prj beside a .shp)"


def read_vector(path: Path) -> gpd.GeoDataFrame:
    """Return the features of a vector file reprojected to EPSG:4326.

    GeoJSON, GeoPackage, Shapefile, GeoParquet, and CSV (or plain Parquet) with lat/lon columns
    in WGS84 are accepted. A file without a CRS is refused, never guessed.
    """
    suffix = path.suffix.lower()
    if suffix not in VECTOR_SUFFIXES:
        raise RegionError(
            f"{path}: unsupported format '{suffix}'; expected one of {', '.join(VECTOR_SUFFIXES)}"
        )
    if not path.is_file():
        raise RegionError(f"{path}: no such file")
    try:
        if suffix == ".csv":
            frame = _points_from_table(pd.read_csv(path), path)
        elif suffix in (".parquet", ".geoparquet"):
            frame = _read_parquet(path)
        else:
            frame = gpd.read_file(path)
    except RegionError:
        raise
    except Exception as exc:
        raise RegionError(f"{path}: cannot be read as {suffix[1:]} ({exc})") from exc
    if frame.crs is None:
        raise RegionError(f"{path}: {NO_CRS}")
    return frame.to_crs("EPSG:4326") if not frame.crs.equals("EPSG:4326") else frame


def _read_parquet(path: Path) -> gpd.GeoDataFrame:
    try:
        return gpd.read_parquet(path)
    except ValueError as exc:
        if "geo" not in str(exc).lower():
            raise
        return _points_from_table(pd.read_parquet(path), path)


def _points_from_table(table: pd.DataFrame, path: Path) -> gpd.GeoDataFrame:
    lookup = {str(c).strip().lower(): c for c in table.columns}
    lat = next((lookup[n] for n in _LAT_NAMES if n in lookup), None)
    lon = next((lookup[n] for n in _LON_NAMES if n in lookup), None)
    if lat is None or lon is None:
        column = "lat" if lat is None else "lon"
        raise RegionError(
            f"{path}: column '{column}' missing; expected WGS84 columns lat/latitude and "
            "lon/lng/longitude"
        )
    coords = {c: pd.to_numeric(table[c], errors="coerce") for c in (lat, lon)}
    limits = {lat: 90.0, lon: 180.0}
    for column, values in coords.items():
        bad = (values.isna() | (values.abs() > limits[column])).to_numpy()
        if bad.any():
            row = int(bad.argmax())
            raise RegionError(
                f"{path}: row {row + 1}: column '{column}' is {table[column].iloc[row]!r}; "
                f"expected decimal degrees within ±{limits[column]:g}"
            )
    geometry = gpd.points_from_xy(coords[lon], coords[lat], crs="EPSG:4326")
    return gpd.GeoDataFrame(table.drop(columns=[lat, lon]), geometry=geometry)


def write_geojson(frame: gpd.GeoDataFrame, path: Path) -> None:
    """Write `frame` (EPSG:4326) as GeoJSON atomically: temp file, then rename."""
    with replacing(path) as tmp:
        frame.to_file(tmp, driver="GeoJSON", engine="pyogrio", layer=path.stem)


def copy_raster(source: Path, target: Path) -> None:
    """Copy a single-band raster with a CRS to `target` as a compressed GeoTIFF (atomically)."""
    if not source.is_file():
        raise RegionError(f"{source}: no such file")
    try:
        with rasterio.open(source) as src:
            crs, count = src.crs, src.count
    except rasterio.errors.RasterioIOError as exc:
        raise RegionError(f"{source}: cannot be read as a raster ({exc})") from exc
    if crs is None:
        raise RegionError(f"{source}: {NO_CRS}")
    if count < 1:
        raise RegionError(f"{source}: no bands; expected a single-band elevation raster")
    with replacing(target) as tmp:
        rasterio.shutil.copy(source, tmp, driver="GTiff", COMPRESS="DEFLATE", TILED="YES")
