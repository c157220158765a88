"""The cell tables as served to the API, the map and the CLI: read once, reloaded when rewritten.

`CellStore` keeps, per resolution, the days table of ``W/cells/`` (docs/cells.md) sorted by date,
with every row's cell centre and sector and every cell's boundary precomputed, so that a heatmap
or a tile is a slice by date plus vectorised masks. A view is reloaded when one of the files it
was built from changes (modification time or size). Nothing here recomputes the analytics.

Parent views (resolutions 5-7) carry what ``days_r<res>`` holds (summed counts, distinct
vehicles, the riskiest child's risk and contributions) plus, taken from the res-8 table, the
anomaly of the most anomalous child, the Gi* of the child with the largest |z| and the highest
child seizure density. A parent cell belongs to a sector when all its res-8 cells seen do.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from datetime import date
from functools import partial
from pathlib import Path
from typing import Any, Literal

import numpy as np
import polars as pl
import pyarrow as pa
import shapely
from h3ronpy import vector

from geoint.analytics.scoring import ADJUSTMENTS, CONTRIBUTIONS
from geoint.errors import WorkspaceError
from geoint.geodesy import haversine_m
from geoint.h3index import cell_centres, cells_to_hex, hex_to_cells, parent_cells
from geoint.serve.caches import FileCache, file_version
from geoint.store.cell_tables import cell_table_path, read_table
from geoint.store.workspace import EVENTS_FILE, read_events_file

ANALYSIS_RESOLUTION = 8
RESOLUTIONS = (5, 6, 7, 8)
COORDINATE_DECIMALS = 6  # ~0.1 m: GeoJSON vertices are rounded to this
Box = tuple[float, float, float, float]  # min lon, min lat, max lon, max lat


@dataclass(frozen=True)
class Metric:
    """A heatmap metric: the column shown as ``value``, the others shown, which rows count."""

    name: str
    value: str
    columns: tuple[str, ...]
    keep: Literal["all", "known", "positive", "significant"]
    by_magnitude: bool = False  # rank by |value| (hot and cold spots alike)


METRICS: dict[str, Metric] = {
    m.name: m
    for m in (
        Metric("risk", "risk", CONTRIBUTIONS, "all"),
        Metric("anomaly", "anomaly_z", ("anomaly_p", "expected", "vehicles"), "known"),
        Metric(
            "activity",
            "vehicles",
            ("pings", "moving_minutes", "night_share", "events", "severity"),
            "all",
        ),
        Metric(
            "hotspot", "gi_z", ("gi_bin", "gi_p_fdr", "severity", "events"), "significant", True
        ),
        Metric("seizures", "seizures", ("seizure_density",), "positive"),
    )
}
_CHILD_COLUMNS = ("anomaly_z", "anomaly_p", "expected", "gi_z", "gi_bin", "gi_p_fdr")


def table_name(resolution: int) -> str:
    """The days table of a resolution (``days`` at the analysis resolution)."""
    return "days" if resolution == ANALYSIS_RESOLUTION else f"days_r{resolution}"


def round_box(box: Box, step: float) -> Box:
    """The box grown outwards to multiples of `step` degrees (shared cache keys for a viewport)."""
    minx, miny, maxx, maxy = box

    def down(v: float) -> float:  # rounded first: 6.9 / 0.01 is not exactly 690
        return math.floor(round(v / step, 6)) * step

    def up(v: float) -> float:
        return math.ceil(round(v / step, 6)) * step

    return (
        max(-180.0, down(minx)),
        max(-90.0, down(miny)),
        min(180.0, up(maxx)),
        min(90.0, up(maxy)),
    )


def cell_polygons(cells: np.ndarray) -> np.ndarray:
    """Shapely polygons of uint64 cells: H3 boundaries in lng/lat order, closed rings."""
    cells = np.ascontiguousarray(cells, dtype=np.uint64)
    if len(cells) == 0:
        return np.empty(0, dtype=object)
    wkb = pa.array(vector.cells_to_wkb_polygons(cells))
    return shapely.from_wkb(wkb.to_numpy(zero_copy_only=False))


def parse_cell(text: str) -> tuple[int, int]:
    """The uint64 cell and resolution of a hex id at a served resolution, else ValueError."""
    cell = int(hex_to_cells([text])[0])
    resolution = (cell >> 52) & 0xF
    if resolution not in RESOLUTIONS:
        raise ValueError(f"cell {text!r} is at resolution {resolution}; served: {RESOLUTIONS}")
    return cell, resolution


@dataclass
class CellView:
    """One resolution's days table, date-sorted, with centres, sectors and boundaries."""

    resolution: int
    frame: pl.DataFrame  # rows sorted by date then cell
    dates: np.ndarray  # distinct dates (datetime64[D]), ascending
    starts: np.ndarray  # first row of each date, then the row count
    lat: np.ndarray  # row cell centre
    lon: np.ndarray
    sector: np.ndarray  # row cell sector (object; None: none or several)
    cell_index: np.ndarray  # row -> position in `cells`
    cells: np.ndarray  # distinct cells, ascending
    hexes: list[str]
    polygons: np.ndarray
    geometry_json: list[str]  # GeoJSON geometry of each distinct cell
    margin: float  # largest distance (degrees) from a cell centre to its boundary
    signature: tuple

    def latest(self) -> date | None:
        """The last day of the table."""
        return self.dates[-1].astype(date) if len(self.dates) else None

    def day_rows(self, day: date) -> slice:
        """The rows of one day (empty when the day has none)."""
        i = np.searchsorted(self.dates, np.datetime64(day, "D"))
        if i == len(self.dates) or self.dates[i] != np.datetime64(day, "D"):
            return slice(0, 0)
        return slice(int(self.starts[i]), int(self.starts[i + 1]))

    def select(
        self,
        metric: Metric,
        day: date,
        boxes: list[Box] | None,
        sectors: frozenset[str] | None,
        limit: int,
    ) -> tuple[np.ndarray, int]:
        """Rows of `day` whose centre lies in a box, kept by the metric, in the sectors.

        Returns the row numbers of the `limit` highest values (|value| for hot/cold spots),
        highest first, and how many rows matched.
        """
        rows = self.day_rows(day)
        lat, lon = self.lat[rows], self.lon[rows]
        mask = np.ones(len(lat), dtype=bool)
        if boxes is not None:
            mask = np.zeros(len(lat), dtype=bool)
            for minx, miny, maxx, maxy in boxes:
                mask |= (lon >= minx) & (lon <= maxx) & (lat >= miny) & (lat <= maxy)
        values = self.frame[metric.value].to_numpy()[rows].astype(np.float64)
        if metric.keep == "known":
            mask &= ~np.isnan(values)
        elif metric.keep == "positive":
            mask &= values > 0
        elif metric.keep == "significant":
            mask &= self.frame["gi_bin"].to_numpy()[rows] != 0
        if sectors is not None:
            mask &= np.isin(self.sector[rows], list(sectors))
        found = np.flatnonzero(mask)
        rank = np.abs(values[found]) if metric.by_magnitude else values[found]
        order = np.argsort(-np.nan_to_num(rank, nan=-np.inf), kind="stable")[:limit]
        return found[order] + rows.start, len(found)

    def column(self, name: str, rows: np.ndarray) -> list:
        """Python values of a column at `rows` (NaN and null as None)."""
        values = self.frame[name].to_numpy()[rows]
        if values.dtype.kind == "f":
            return [None if v != v else v for v in values.tolist()]
        return values.tolist()


class CellStore:
    """Cell views of a workspace, loaded on first use and reloaded when their files change."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.events_file = self.root / EVENTS_FILE
        self._views: dict[int, CellView] = {}
        self._tables: dict[str, tuple[tuple, pl.DataFrame]] = {}
        self._events = FileCache(self.events_file, partial(read_events_file, self.events_file))
        self._lock = threading.RLock()  # a parent view builds the res-8 view first

    def view(self, resolution: int) -> CellView:
        """The view at `resolution` (5-8); without rows before the first analysis."""
        if resolution not in RESOLUTIONS:
            raise ValueError(f"resolution {resolution}; served: {RESOLUTIONS}")
        try:
            signature = self._view_signature(resolution)
        except WorkspaceError:  # not analysed yet
            return _empty_view(resolution)
        cached = self._views.get(resolution)
        if cached is not None and cached.signature == signature:
            return cached
        with self._lock:
            cached = self._views.get(resolution)
            if cached is None or cached.signature != signature:
                cached = self._build(resolution, signature)
                self._views[resolution] = cached
            return cached

    def loaded_view(self, resolution: int) -> CellView | None:
        """The view at `resolution` if it is loaded and current (a few file stats), else None."""
        cached = self._views.get(resolution)
        try:
            current = cached is not None and cached.signature == self._view_signature(resolution)
        except WorkspaceError:
            return None
        return cached if current else None

    def _view_signature(self, resolution: int) -> tuple:
        return self._signature([table_name(resolution), "days", "context"])

    def table(self, name: str) -> pl.DataFrame:
        """A cell table (``emerging``, ``context`` ...) as last written."""
        signature = self._signature([name])
        cached = self._tables.get(name)
        if cached is None or cached[0] != signature:
            cached = (signature, read_table(self.root, name))
            self._tables[name] = cached
        return cached[1]

    def events(self) -> pl.DataFrame:
        """The stored events (none before the first analysis)."""
        return self._events.get()

    def _signature(self, names: list[str]) -> tuple:
        """Name, modification time and size of each table; WorkspaceError if one is missing."""
        parts = []
        for name in names:
            path = cell_table_path(self.root, name)
            version = file_version(path)
            if version is None:
                raise WorkspaceError(f"{path}: no cell table; run 'geoint analyze' first")
            parts.append((name, *version))
        return tuple(parts)

    def _build(self, resolution: int, signature: tuple) -> CellView:
        context = self.table("context").select("cell", "lat", "lon", "sector_id")
        if resolution == ANALYSIS_RESOLUTION:
            frame = read_table(self.root, "days")  # not kept: 70 columns
            owners = context.select("cell", "lat", "lon", pl.col("sector_id").alias("sector"))
        else:
            frame = self._parent_frame(resolution)
            owners = _parent_owners(context, resolution)
        kept = [c for c in frame.columns if c in _SERVED or c.startswith(("f_", "c_"))]
        frame = frame.select(kept).join(owners, on="cell", how="left").sort("date", "cell")
        cells, cell_index = np.unique(frame["cell"].to_numpy(), return_inverse=True)
        polygons = cell_polygons(cells)
        lat, lon = frame["lat"].to_numpy(), frame["lon"].to_numpy()
        dates, starts = np.unique(frame["date"].to_numpy().astype("datetime64[D]"), True)
        rounded = shapely.transform(polygons, lambda c: np.round(c, COORDINATE_DECIMALS))
        margin = 0.0
        if len(cells):
            bounds = shapely.bounds(polygons)
            margin = float(np.max(bounds[:, 2:] - bounds[:, :2]))
        return CellView(
            resolution=resolution,
            frame=frame,
            dates=dates,
            starts=np.append(starts, frame.height),
            lat=lat,
            lon=lon,
            sector=frame["sector"].to_numpy().astype(object),
            cell_index=cell_index,
            cells=cells,
            hexes=cells_to_hex(cells),
            polygons=polygons,
            geometry_json=list(shapely.to_geojson(rounded)),
            margin=margin,
            signature=signature,
        )

    def _parent_frame(self, resolution: int) -> pl.DataFrame:
        """``days_r<res>`` with the child-derived anomaly, Gi* and seizure density."""
        days = self.view(ANALYSIS_RESOLUTION).frame  # the served columns only
        parents = pl.Series("cell", parent_cells(days["cell"].to_numpy(), resolution))
        children = (
            days.select("date", *_CHILD_COLUMNS, "seizure_density")
            .with_columns(parents)
            .group_by("cell", "date")
            .agg(
                pl.col("anomaly_z", "anomaly_p", "expected").get(
                    pl.col("anomaly_z").fill_nan(None).arg_max()
                ),
                pl.col("gi_z", "gi_bin", "gi_p_fdr").get(pl.col("gi_z").abs().arg_max()),
                pl.col("seizure_density").max(),
            )
        )
        parent = self.table(table_name(resolution))
        return parent.join(children, on=["cell", "date"], how="left")


SERIES_COLUMNS = (
    "date", "risk", "pings", "vehicles", "moving_minutes", "night_share", "events", "severity",
    "seizures", "expected", "anomaly_z", "anomaly_p", "gi_z", "gi_bin",
)  # fmt: skip


def explain(
    store: CellStore, cell: int, resolution: int, weights: dict[str, float], days: int
) -> dict[str, Any] | None:
    """A cell's sector, context, latest factors (value, weight, points), emerging class and
    its last `days` days; None when the cell has no row at its resolution.

    A parent's context is its centre and sector; its factor values are points / weight.
    """
    view = store.view(resolution)
    position = np.searchsorted(view.cells, np.uint64(cell))
    if position == len(view.cells) or view.cells[position] != cell:
        return None
    rows = np.flatnonzero(view.cell_index == position)  # ascending dates
    frame = view.frame[rows]
    last = frame.row(-1, named=True)
    context: dict[str, Any] = {"lat": last["lat"], "lon": last["lon"], "sector_id": last["sector"]}
    trend = None
    if resolution == ANALYSIS_RESOLUTION:
        found = store.table("context").filter(pl.col("cell") == cell)
        if found.height:
            context = found.drop("cell", "region_key").row(0, named=True)
        found = store.table("emerging").filter(pl.col("cell") == cell)
        trend = found.drop("cell").row(0, named=True) if found.height else None
    factors = {
        name: {
            "value": last.get(f"f_{name}", last[f"c_{name}"] / weight if weight else 0.0),
            "weight": weight,
            "points": last[f"c_{name}"],
        }
        for name, weight in weights.items()
    }
    factors |= {  # patrol effort: negative points, no weight of their own (docs/cells.md)
        name: {"value": last.get(f"f_{name}", 0.0), "weight": None, "points": last[f"c_{name}"]}
        for name in ADJUSTMENTS
        if f"c_{name}" in last
    }
    series = frame.tail(days).select([c for c in SERIES_COLUMNS if c in frame.columns])
    return {
        "cell": view.hexes[position],
        "resolution": resolution,
        "sector": last["sector"],
        "context": context,
        "latest": {"date": last["date"], "risk": last["risk"], "factors": factors},
        "emerging": trend,
        "days": frame.height,
        "series": series.to_dicts(),
    }


def cell_events(store: CellStore, cell: int, resolution: int) -> pl.DataFrame:
    """The stored events located in a cell (or its children), newest first."""
    events = store.events()
    if events.height == 0:
        return events
    located = parent_cells(events["cell"].to_numpy(), resolution)
    return events.filter(pl.Series(located == np.uint64(cell))).sort(
        "start", "event_id", descending=[True, False]
    )


def nearby(frame: pl.DataFrame, lat: float, lon: float, radius_m: float) -> pl.DataFrame:
    """Rows of a lat/lon table within `radius_m` of a point, nearest first (``distance_m``)."""
    metres = haversine_m(lat, lon, frame["lat"].to_numpy(), frame["lon"].to_numpy())
    return (
        frame.with_columns(pl.Series("distance_m", metres))
        .filter(pl.col("distance_m") <= radius_m)
        .sort("distance_m")
    )


# the columns a view keeps (with the factors f_* and contributions c_*): what is served
_SERVED = {
    "cell", "date", "gi_bin", *SERIES_COLUMNS,
    *(c for m in METRICS.values() for c in (m.value, *m.columns)),
}  # fmt: skip


def _empty_view(resolution: int) -> CellView:
    """A view without rows (no analysis yet) holding every column the metrics read."""
    shown = {c for m in METRICS.values() for c in (m.value, *m.columns)} | {"gi_bin"}
    schema = {"cell": pl.UInt64, "date": pl.Date, "lat": pl.Float64, "lon": pl.Float64}
    schema |= {"sector": pl.String} | {c: pl.Float64 for c in sorted(shown)}
    none = np.empty(0, dtype=np.int64)
    return CellView(
        resolution=resolution,
        frame=pl.DataFrame(schema=schema),
        dates=np.empty(0, dtype="datetime64[D]"),
        starts=np.zeros(1, dtype=np.int64),
        lat=np.empty(0),
        lon=np.empty(0),
        sector=np.empty(0, dtype=object),
        cell_index=none,
        cells=np.empty(0, dtype=np.uint64),
        hexes=[],
        polygons=np.empty(0, dtype=object),
        geometry_json=[],
        margin=0.0,
        signature=(),
    )


def _parent_owners(context: pl.DataFrame, resolution: int) -> pl.DataFrame:
    """Parent centre and sector: the one sector of all its seen children, else null."""
    parents = parent_cells(context["cell"].to_numpy(), resolution)
    owners = (
        context.with_columns(pl.Series("cell", parents))
        .group_by("cell")
        .agg(
            pl.col("sector_id").n_unique().alias("n"),
            pl.col("sector_id").first().alias("sector"),
        )
        .select("cell", pl.when(pl.col("n") == 1).then(pl.col("sector")).alias("sector"))
    )
    lat, lon = cell_centres(owners["cell"].to_numpy())
    return owners.with_columns(pl.Series("lat", lat), pl.Series("lon", lon))
