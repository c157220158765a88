"""The regions shipped with the package, and how the Benin–Nigeria sample is rebuilt."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

import geopandas as gpd
import numpy as np
import shapely

from geoint.errors import RegionError
from geoint.layers.derive import init_region
from geoint.layers.files import read_vector
from geoint.layers.region import MANIFEST, Region

SAMPLE_REGION = "benin-nigeria"


def _regions_dir() -> Path:
    return Path(str(files("geoint.layers") / "regions"))


def shipped_regions() -> list[str]:
    """Return the names of the regions shipped with the package."""
    return sorted(p.name for p in _regions_dir().iterdir() if (p / MANIFEST).is_file())


def shipped_region_path(name: str = SAMPLE_REGION) -> Path:
    """Return the folder of a shipped region (read-only: copy it before adding layers)."""
    path = _regions_dir() / name
    if not (path / MANIFEST).is_file():
        raise RegionError(
            f"no shipped region '{name}'; expected one of {', '.join(shipped_regions())}"
        )
    return path


def build_sample_region(path: str | Path, *, overwrite: bool = False) -> Region:
    """Rebuild the shipped Benin–Nigeria region in `path` from the bundled sources.

    Border, sides, places and elevation come from `init_region`; rivers (Natural Earth) and
    the Trans-African Highway (afrilearndata, as ``trunk`` roads) are clipped to the region's
    extent and added.
    """
    region = init_region(path, ("Benin", "Nigeria"), overwrite=overwrite)
    sources = _regions_dir() / SAMPLE_REGION / "sources"
    rivers = _clipped(read_vector(sources / "rivers.geojson"), region)
    region.add_frame("rivers", rivers, source="Natural Earth 10m rivers")
    roads = _clipped(read_vector(sources / "trans_african_highway.geojson"), region)
    region.add_frame("roads", roads.assign(**{"class": "trunk"}), source="Trans-African Highway")
    return region


def _clipped(frame: gpd.GeoDataFrame, region: Region) -> gpd.GeoDataFrame:
    """Return the line features of `frame` cut to the region's bbox, dropping what falls out."""
    geometry = shapely.clip_by_rect(frame.geometry.to_numpy(), *region.bbox)
    lines = np.isin(shapely.get_type_id(geometry), (1, 5))  # LineString, MultiLineString
    return frame.set_geometry(geometry)[lines].reset_index(drop=True)
