"""A region: a folder with a ``region.toml`` manifest listing its layer files by kind.

```toml
name = "benin-nigeria"
timezone = "Africa/Lagos"          # IANA; local time for opening hours and night
crs = "EPSG:32631"                 # metric CRS in which distances are measured
countries = ["Benin", "Nigeria"]   # side 0 (left of the border line), side 1 (right)
bbox = [1.3, 4.9, 5.2, 13.1]       # optional: lon/lat extent of interest

[layers]
border = ["border.geojson"]
roads = ["roads.geojson", "roads-2.geojson"]
elevation = ["elevation.tif"]
```

Layer paths are relative to the folder. Files listed by hand may be in any supported format and
CRS; ``add_layer`` writes them normalised (GeoJSON in EPSG:4326, rasters as GeoTIFF).
"""

from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import geopandas as gpd
import pandas as pd
import pyproj
import tomli_w

from geoint.atomic import write_text
from geoint.errors import RegionError
from geoint.layers.files import (
    NO_CRS,
    copy_raster,
    read_vector,
    write_geojson,
)
from geoint.layers.kinds import LayerContext, LayerKind, get_kind

MANIFEST = "region.toml"
_FIELDS = ("name", "timezone", "crs", "countries", "bbox", "layers")


@dataclass
class Region:
    """A loaded region manifest; layer contents are read on demand with `read`."""

    path: Path
    name: str
    timezone: str
    crs: str
    countries: tuple[str, str]
    bbox: tuple[float, float, float, float] | None = None
    layers: dict[str, list[str]] = field(default_factory=dict)

    @property
    def manifest_path(self) -> Path:
        """Path of the region's ``region.toml``."""
        return self.path / MANIFEST

    @classmethod
    def create(
        cls,
        path: str | Path,
        *,
        name: str,
        timezone: str,
        crs: str,
        countries: tuple[str, str],
        bbox: tuple[float, float, float, float] | None = None,
        overwrite: bool = False,
    ) -> Region:
        """Create a region folder with a manifest and no layers.

        An existing region is an error unless `overwrite`, which first deletes the layer files
        its manifest lists inside the folder (so appending kinds start afresh).
        """
        path = Path(path)
        if (path / MANIFEST).exists():
            if not overwrite:
                raise RegionError(
                    f"{path / MANIFEST}: already exists; expected a new region folder "
                    "(or overwrite)"
                )
            old = cls.load(path)
            for kind in old.layers:
                for file in old.files(kind):
                    if file.resolve().is_relative_to(path.resolve()):
                        file.unlink()
        data = {"name": name, "timezone": timezone, "crs": crs, "countries": list(countries)}
        if bbox is not None:
            data["bbox"] = [float(v) for v in bbox]
        region = cls(path=path, **_validated(data, path / MANIFEST, path))
        path.mkdir(parents=True, exist_ok=True)
        region.save()
        return region

    @classmethod
    def load(cls, path: str | Path) -> Region:
        """Load and validate the manifest of the region folder `path` (or the manifest itself)."""
        path = Path(path)
        manifest = path if path.name == MANIFEST else path / MANIFEST
        if not manifest.is_file():
            raise RegionError(
                f"{manifest}: no region manifest; expected a folder made by "
                "'geoint region init' or holding a hand-written region.toml"
            )
        try:
            data = tomllib.loads(manifest.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise RegionError(f"{manifest}: not valid TOML ({exc})") from exc
        return cls(path=manifest.parent, **_validated(data, manifest, manifest.parent))

    def save(self) -> None:
        """Write the manifest atomically."""
        data: dict[str, object] = {
            "name": self.name,
            "timezone": self.timezone,
            "crs": self.crs,
            "countries": list(self.countries),
        }
        if self.bbox is not None:
            data["bbox"] = list(self.bbox)
        data["layers"] = {kind: list(files) for kind, files in sorted(self.layers.items())}
        write_text(tomli_w.dumps(data), self.manifest_path)

    def summary(self) -> dict[str, object]:
        """Return the manifest fields and the feature count of each vector layer."""
        counts = {
            kind: ("raster" if get_kind(kind).raster else len(self.read(kind)))
            for kind in sorted(self.layers)
        }
        return {
            "name": self.name,
            "path": str(self.path),
            "timezone": self.timezone,
            "crs": self.crs,
            "countries": list(self.countries),
            "bbox": list(self.bbox) if self.bbox else None,
            "layers": counts,
        }

    def files(self, kind: str) -> list[Path]:
        """Return the absolute paths of the files of `kind` (empty when the region has none)."""
        get_kind(kind)
        return [self.path / name for name in self.layers.get(kind, [])]

    def read(self, kind: str) -> gpd.GeoDataFrame:
        """Return every feature of vector layer `kind` in EPSG:4326 with the kind's columns."""
        layer = _vector_kind(kind)
        frames = [self._read_file(layer, path) for path in self.files(kind)]
        if not frames:
            return layer.empty_frame()
        if len(frames) == 1:
            return frames[0].reset_index(drop=True)
        return gpd.GeoDataFrame(pd.concat(frames, ignore_index=True), crs="EPSG:4326")

    def raster_path(self, kind: str = "elevation") -> Path | None:
        """Return the raster file of `kind`, or None when the region has none."""
        if not get_kind(kind).raster:
            raise RegionError(f"layer kind '{kind}' is a vector layer; use read('{kind}')")
        files = self.files(kind)
        return files[0] if files else None

    def add_layer(self, kind: str, file: str | Path) -> Path:
        """Validate `file` as a layer of `kind`, store it normalised and list it in the manifest.

        Border, sides and elevation replace the previous file; other kinds accumulate (roads
        from several files). Returns the written file.
        """
        layer = get_kind(kind)
        source = Path(file)
        if not layer.raster:
            return self.add_frame(kind, read_vector(source), source=str(source))
        target = self.path / f"{kind}.tif"
        copy_raster(source, target)
        self._list(layer, target.name)
        return target

    def add_frame(self, kind: str, frame: gpd.GeoDataFrame, source: str = "<GeoDataFrame>") -> Path:
        """Like `add_layer`, for features in memory (any CRS); `source` names them in errors."""
        layer = _vector_kind(kind)
        if frame.crs is None:
            raise RegionError(f"{source}: {NO_CRS}")
        if not frame.crs.equals("EPSG:4326"):
            frame = frame.to_crs("EPSG:4326")
        frame = layer.normalise(frame, LayerContext(file=source, countries=self.countries))
        target = self.path / self._new_file_name(layer)
        write_geojson(frame, target)
        self._list(layer, target.name)
        return target

    def _list(self, layer: LayerKind, name: str) -> None:
        if layer.replace:
            self.layers[layer.name] = [name]
        else:
            self.layers.setdefault(layer.name, []).append(name)
        self.save()

    def _read_file(self, layer: LayerKind, path: Path) -> gpd.GeoDataFrame:
        context = LayerContext(file=str(path), countries=self.countries)
        return layer.normalise(read_vector(path), context)

    def _new_file_name(self, layer: LayerKind) -> str:
        if layer.replace:
            return f"{layer.name}.geojson"
        taken = set(self.layers.get(layer.name, []))
        number = 1
        while True:
            name = f"{layer.name}.geojson" if number == 1 else f"{layer.name}-{number}.geojson"
            if name not in taken and not (self.path / name).exists():
                return name
            number += 1


def _vector_kind(kind: str) -> LayerKind:
    layer = get_kind(kind)
    if layer.raster:
        raise RegionError(f"layer kind '{kind}' is a raster; use raster_path('{kind}')")
    return layer


def _validated(data: dict, manifest: Path, folder: Path) -> dict:
    """Return the manifest's fields checked, as Region keyword arguments."""
    unknown = sorted(set(data) - set(_FIELDS))
    if unknown:
        raise RegionError(
            f"{manifest}: unknown field '{unknown[0]}'; expected only {', '.join(_FIELDS)}"
        )
    for key in ("name", "timezone", "crs", "countries"):
        if key not in data:
            raise RegionError(f"{manifest}: field '{key}' missing; expected {_EXPECTED[key]}")
    return {
        "name": _check_name(data["name"], manifest),
        "timezone": _check_timezone(data["timezone"], manifest),
        "crs": _check_crs(data["crs"], manifest),
        "countries": _check_countries(data["countries"], manifest),
        "bbox": _check_bbox(data.get("bbox"), manifest),
        "layers": _check_layers(data.get("layers", {}), manifest, folder),
    }


_EXPECTED = {
    "name": "a non-empty string",
    "timezone": "an IANA time zone such as 'Africa/Lagos'",
    "crs": "a projected CRS in metres such as 'EPSG:32631' (UTM 31N)",
    "countries": "two different country names, left and right of the border line",
    "bbox": "[min_lon, min_lat, max_lon, max_lat] in degrees",
    "layers": "a table mapping layer kind to a list of files relative to the region folder",
}


def _field_error(manifest: Path, key: str, value: object) -> RegionError:
    return RegionError(f"{manifest}: field '{key}' is {value!r}; expected {_EXPECTED[key]}")


def _check_name(value: object, manifest: Path) -> str:
    if not isinstance(value, str) or not value.strip():
        raise _field_error(manifest, "name", value)
    return value


def _check_timezone(value: object, manifest: Path) -> str:
    try:
        ZoneInfo(str(value))
    except (ZoneInfoNotFoundError, ValueError):
        raise _field_error(manifest, "timezone", value) from None
    if not isinstance(value, str):
        raise _field_error(manifest, "timezone", value)
    return value


def _check_crs(value: object, manifest: Path) -> str:
    try:
        crs = pyproj.CRS.from_user_input(value)
    except pyproj.exceptions.CRSError:
        raise _field_error(manifest, "crs", value) from None
    units = {axis.unit_name for axis in crs.axis_info}
    if not isinstance(value, str) or not crs.is_projected or not units <= {"metre", "meter"}:
        raise _field_error(manifest, "crs", value)
    return value


def _check_countries(value: object, manifest: Path) -> tuple[str, str]:
    if (
        not isinstance(value, list)
        or len(value) != 2
        or not all(isinstance(v, str) and v.strip() for v in value)
        or value[0] == value[1]
    ):
        raise _field_error(manifest, "countries", value)
    return (value[0], value[1])


def _check_bbox(value: object, manifest: Path) -> tuple[float, float, float, float] | None:
    if value is None:
        return None
    if not isinstance(value, list) or len(value) != 4:
        raise _field_error(manifest, "bbox", value)
    try:
        west, south, east, north = (float(v) for v in value)
    except (TypeError, ValueError):
        raise _field_error(manifest, "bbox", value) from None
    finite = all(math.isfinite(v) for v in (west, south, east, north))
    if not finite or not (-180 <= west < east <= 180 and -90 <= south < north <= 90):
        raise _field_error(manifest, "bbox", value)
    return (west, south, east, north)


def _check_layers(value: object, manifest: Path, folder: Path) -> dict[str, list[str]]:
    if not isinstance(value, dict):
        raise _field_error(manifest, "layers", value)
    layers: dict[str, list[str]] = {}
    for kind, files in value.items():
        try:
            layer = get_kind(kind)
        except RegionError as exc:
            raise RegionError(f"{manifest}: [layers] {exc}") from None
        if not isinstance(files, list) or not all(isinstance(f, str) for f in files):
            raise RegionError(
                f"{manifest}: [layers] '{kind}' is {files!r}; expected a list of file names"
            )
        if (layer.replace or layer.raster) and len(files) > 1:
            raise RegionError(
                f"{manifest}: [layers] '{kind}' lists {len(files)} files; expected one"
            )
        for name in files:
            if not (folder / name).is_file():
                raise RegionError(
                    f"{manifest}: [layers] {kind}: file '{name}' not found in {folder}"
                )
        layers[kind] = list(files)
    return layers
