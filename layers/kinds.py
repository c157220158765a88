"""The registry of layer kinds: geometry types, columns with defaults, and a normaliser.

A new kind of layer is one ``register(LayerKind(...))`` call; the region, the readers and the
queries look kinds up here and need no change.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import geopandas as gpd
import numpy as np
import pandas as pd

from geoint.errors import RegionError
from geoint.layers.hours import HOURS_EXPECTED, parse_hours

LINES = ("LineString", "MultiLineString")
POLYGONS = ("Polygon", "MultiPolygon")
POINTS = ("Point",)
ROAD_CLASSES = ("motorway", "trunk", "primary", "secondary", "tertiary", "track")
PLACE_KINDS = ("town", "market", "depot", "post")

_REQUIRED = object()


@dataclass(frozen=True)
class Column:
    """One attribute column of a layer kind.

    ``default`` fills missing values (and a missing column); without one the column and every
    value are required. ``dtype`` is "str" or "float"; ``choices`` restricts string values.
    """

    name: str
    dtype: Literal["str", "float"] = "str"
    default: object = _REQUIRED
    choices: tuple[str, ...] = ()
    positive: bool = False

    @property
    def required(self) -> bool:
        """Whether the column must be present with a value in every row."""
        return self.default is _REQUIRED


@dataclass(frozen=True)
class LayerContext:
    """What a normaliser may need to know about the file and the region it goes into."""

    file: str
    countries: tuple[str, str]


Normaliser = Callable[[gpd.GeoDataFrame, LayerContext], gpd.GeoDataFrame]


@dataclass(frozen=True)
class LayerKind:
    """A registered kind of layer. ``raster`` kinds have no columns and are stored as GeoTIFF.

    ``replace`` kinds keep one file (adding again replaces it); others accumulate files. The
    optional ``normaliser`` runs after the column checks, for checks across columns or against
    the region (raise with `bad_rows`); ``description`` is for listings.
    """

    name: str
    geometry_types: tuple[str, ...] = ()
    columns: tuple[Column, ...] = ()
    replace: bool = False
    raster: bool = False
    normaliser: Normaliser | None = None
    description: str = ""

    @property
    def column_names(self) -> list[str]:
        """Names of the kind's columns, in order."""
        return [c.name for c in self.columns]

    def empty_frame(self) -> gpd.GeoDataFrame:
        """Return an empty EPSG:4326 frame with the kind's columns."""
        data = {
            c.name: pd.Series(dtype=float if c.dtype == "float" else object) for c in self.columns
        }
        return gpd.GeoDataFrame(data, geometry=gpd.GeoSeries([], crs="EPSG:4326"), crs="EPSG:4326")

    def normalise(self, frame: gpd.GeoDataFrame, context: LayerContext) -> gpd.GeoDataFrame:
        """Return `frame` checked against this kind: geometry types, columns, values.

        Raises RegionError naming the file, the row (1-based), the column and what was expected.
        """
        frame = _check_geometry(frame, self, context.file)
        for column in self.columns:
            frame = _check_column(frame, column, self, context.file)
        if self.normaliser is not None:
            frame = self.normaliser(frame, context)
        ordered = [*self.column_names, *(c for c in frame.columns if c not in self.column_names)]
        return frame[ordered]


_KINDS: dict[str, LayerKind] = {}


def register(kind: LayerKind) -> LayerKind:
    """Register a layer kind (replacing one of the same name) and return it."""
    _KINDS[kind.name] = kind
    return kind


def get_kind(name: str) -> LayerKind:
    """Return the registered kind `name`; RegionError listing the known kinds otherwise."""
    try:
        return _KINDS[name]
    except KeyError:
        raise RegionError(
            f"unknown layer kind '{name}'; expected one of {', '.join(sorted(_KINDS))}"
        ) from None


def kind_names() -> list[str]:
    """Return the names of every registered kind, sorted."""
    return sorted(_KINDS)


def bad_rows(file: str, mask: np.ndarray, column: str, expected: str, found: pd.Series) -> None:
    """Raise RegionError for the first row where `mask` is True, counting the others."""
    rows = np.flatnonzero(mask)
    if len(rows) == 0:
        return
    first = int(rows[0])
    others = len(rows) - 1
    more = f" (and {others} more row{'s' if others > 1 else ''})" if others else ""
    raise RegionError(
        f"{file}: row {first + 1}{more}: column '{column}' is {found.iloc[first]!r}; "
        f"expected {expected}"
    )


def _check_geometry(frame: gpd.GeoDataFrame, kind: LayerKind, file: str) -> gpd.GeoDataFrame:
    geometry = frame.geometry
    types = geometry.geom_type.fillna("missing")
    types = types.where(~geometry.is_empty.fillna(False).to_numpy(), "empty")
    wanted = " or ".join(kind.geometry_types)
    bad_rows(file, ~types.isin(kind.geometry_types).to_numpy(), "geometry", wanted, types)
    polygonal = types.isin(POLYGONS).to_numpy()
    invalid = polygonal & ~geometry.is_valid.to_numpy()
    reasons = pd.Series(geometry.is_valid_reason().to_numpy(), index=frame.index)
    bad_rows(file, invalid, "geometry", "a valid polygon", "invalid: " + reasons)
    if geometry.has_z.any():
        frame = frame.set_geometry(geometry.force_2d())
    return frame


def _check_column(
    frame: gpd.GeoDataFrame, column: Column, kind: LayerKind, file: str
) -> gpd.GeoDataFrame:
    name = column.name
    if name not in frame.columns:
        if column.required:
            raise RegionError(
                f"{file}: column '{name}' missing; expected {kind.name} columns "
                f"{', '.join(kind.column_names)}"
            )
        return frame.assign(**{name: column.default})
    raw = frame[name]
    missing = (
        raw.isna().to_numpy() | (raw.astype("string").str.strip() == "").fillna(True).to_numpy()
    )
    if column.required:
        bad_rows(file, missing, name, "a value", raw)
    if column.dtype == "float":
        values = pd.to_numeric(raw, errors="coerce").astype(float)
        values = values.where(~missing, float(column.default) if not column.required else np.nan)
        invalid = values.isna().to_numpy() | (column.positive & (values <= 0)).to_numpy()
        expected = "a positive number" if column.positive else "a number"
        bad_rows(file, invalid, name, expected, raw)
        return frame.assign(**{name: values.to_numpy()})
    text = raw.astype("string").str.strip()
    if not column.required:
        text = text.where(~missing, str(column.default))
    if column.choices:
        outside = ~text.isin(column.choices).to_numpy(dtype=bool, na_value=False)
        bad_rows(file, outside, name, f"one of {', '.join(column.choices)}", raw)
    return frame.assign(**{name: text.to_numpy(dtype=object)})


def _normalise_crossings(frame: gpd.GeoDataFrame, context: LayerContext) -> gpd.GeoDataFrame:
    _, _, valid = parse_hours(frame["hours"])
    bad_rows(context.file, ~valid, "hours", HOURS_EXPECTED, frame["hours"])
    return frame


def _normalise_sides(frame: gpd.GeoDataFrame, context: LayerContext) -> gpd.GeoDataFrame:
    unknown = ~frame["country"].isin(context.countries).to_numpy()
    expected = f"one of the region's countries {context.countries[0]}, {context.countries[1]}"
    bad_rows(context.file, unknown, "country", expected, frame["country"])
    return frame


register(LayerKind("border", LINES, replace=True, description="the border line"))
register(
    LayerKind(
        "sides",
        POLYGONS,
        (Column("country"),),
        replace=True,
        normaliser=_normalise_sides,
        description="each country's side of the border, consistent with the line",
    )
)
register(LayerKind("roads", LINES, (Column("class", choices=ROAD_CLASSES),), description="roads"))
register(
    LayerKind(
        "crossings",
        POINTS,
        (Column("name"), Column("hours")),
        normaliser=_normalise_crossings,
        description="official crossing points with opening hours",
    )
)
register(
    LayerKind(
        "corridors",
        LINES,
        (Column("corridor_id"), Column("width_m", "float", 1000.0, positive=True)),
        description="transit corridors (centre lines)",
    )
)
register(
    LayerKind(
        "stop_areas",
        (*POINTS, *POLYGONS),
        (Column("corridor_id"),),
        description="authorised stop areas of transit corridors",
    )
)
register(
    LayerKind(
        "sectors",
        POLYGONS,
        (Column("sector_id"), Column("unit")),
        description="sectors owned by units",
    )
)
register(
    LayerKind(
        "places",
        (*POINTS, *POLYGONS),
        (Column("name"), Column("kind", default="town", choices=PLACE_KINDS)),
        description="normal-activity places (a point counts as a 2 km disc)",
    )
)
register(LayerKind("rivers", LINES, description="rivers"))
register(LayerKind("elevation", replace=True, raster=True, description="elevation raster (metres)"))
