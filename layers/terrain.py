"""Elevation and slope from a DEM, computed once and sampled at many points."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyproj
import rasterio


class Terrain:
    """A DEM held in memory with its slope grid; `sample` reads both at the nearest cell.

    The raster is assumed north-up (no rotation). Slope uses ``numpy.gradient`` with cell sizes
    in metres: geodesic per row for a geographic DEM, the CRS units for a projected one.
    """

    def __init__(self, path: Path) -> None:
        with rasterio.open(path) as src:
            self.elevation = src.read(1, masked=True).astype(np.float64).filled(np.nan)
            self.transform = src.transform
            crs = pyproj.CRS.from_user_input(src.crs)
        self._from_lonlat = (
            None
            if crs.equals("EPSG:4326")
            else pyproj.Transformer.from_crs("EPSG:4326", crs, always_xy=True)
        )
        self.slope = _slope_degrees(self.elevation, self.transform, crs)

    def sample(self, lat: np.ndarray, lon: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Return (elevation_m, slope_deg) at each point; NaN outside the raster or on nodata."""
        x, y = (lon, lat) if self._from_lonlat is None else self._from_lonlat.transform(lon, lat)
        col, row = ~self.transform @ (np.asarray(x), np.asarray(y))
        height, width = self.elevation.shape
        inside = (row >= 0) & (row < height) & (col >= 0) & (col < width)
        r = np.where(inside, np.floor(row), 0).astype(np.intp)
        c = np.where(inside, np.floor(col), 0).astype(np.intp)
        elevation = np.where(inside, self.elevation[r, c], np.nan)
        slope = np.where(inside, self.slope[r, c], np.nan)
        return elevation, slope


def _slope_degrees(z: np.ndarray, transform: rasterio.Affine, crs: pyproj.CRS) -> np.ndarray:
    """Return the slope in degrees of every cell of `z` (NaN next to nodata)."""
    if z.shape[0] < 2 or z.shape[1] < 2:
        return np.full(z.shape, np.nan)
    rows = np.arange(z.shape[0])
    if crs.is_geographic:
        geod = pyproj.Geod(ellps="WGS84")
        lon = np.full(len(rows), transform.c)
        lat = transform.f + (rows + 0.5) * transform.e
        _, _, dx = geod.inv(lon, lat, lon + transform.a, lat)
        _, _, dy = geod.inv(lon, lat - transform.e / 2, lon, lat + transform.e / 2)
    else:
        factor = crs.axis_info[0].unit_conversion_factor
        dx = np.full(len(rows), abs(transform.a) * factor)
        dy = np.full(len(rows), abs(transform.e) * factor)
    gy = np.gradient(z, axis=0) / dy[:, None]
    gx = np.gradient(z, axis=1) / dx[:, None]
    return np.degrees(np.arctan(np.hypot(gx, gy)))
