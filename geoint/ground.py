"""What the core needs to know about the ground, as a protocol.

Core stages (events, cells, simulation, patrols) receive an object with these methods;
``geoint.layers.RegionIndex`` provides them. The protocol keeps the import direction one way:
the core never imports ``geoint.layers``, the CLI passes a ``RegionIndex`` in.
All methods take numpy arrays of WGS84 ``lat``, ``lon`` and return numpy arrays.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np
import polars as pl


class Ground(Protocol):
    """Vectorised layer queries over one region."""

    @property
    def timezone(self) -> str:
        """IANA time zone of the region (night and opening hours are local)."""
        ...

    @property
    def extent(self) -> tuple[float, float, float, float] | None:
        """The region's lon/lat extent of interest (west, south, east, north), if it has one."""
        ...

    def side(self, lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
        """int8 side: 0 = first country, 1 = second, -1 = neither."""
        ...

    def distance_to_border_m(
        self, lat: np.ndarray, lon: np.ndarray, max_distance_m: float | None = None
    ) -> np.ndarray:
        """Metres to the border line (inf beyond `max_distance_m`)."""
        ...

    def distance_to_road_m(
        self, lat: np.ndarray, lon: np.ndarray, max_distance_m: float | None = None
    ) -> np.ndarray:
        """Metres to the nearest road (inf beyond `max_distance_m` or without roads)."""
        ...

    def nearest_crossing(
        self, lat: np.ndarray, lon: np.ndarray, max_distance_m: float | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """(metres, crossing row) of the nearest official crossing, or (inf, -1)."""
        ...

    def crossings_within(
        self, lat: np.ndarray, lon: np.ndarray, radius_m: float
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(point row, crossing row, metres) of every official crossing ≤ `radius_m` away."""
        ...

    def border_intersection(
        self, lat1: np.ndarray, lon1: np.ndarray, lat2: np.ndarray, lon2: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(lat, lon, fraction) of each segment's first meeting with the border (NaN if none).

        Segments run straight in the metric CRS from point 1; fraction 0 is point 1, 1 point 2.
        """
        ...

    def distance_to_corridor_m(
        self, lat: np.ndarray, lon: np.ndarray, corridor_ids: np.ndarray
    ) -> np.ndarray:
        """Metres to the centre line of each point's own corridor (inf for an unknown one)."""
        ...

    def in_stop_area(
        self, lat: np.ndarray, lon: np.ndarray, corridor_ids: np.ndarray
    ) -> np.ndarray:
        """Whether each point is in an authorised stop area of its own corridor."""
        ...

    def distance_to_place_m(
        self, lat: np.ndarray, lon: np.ndarray, max_distance_m: float | None = None
    ) -> np.ndarray:
        """Metres to the nearest normal-activity place's area (0 inside)."""
        ...

    def sector(self, lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
        """Object array of the owning sector id, or None."""
        ...

    def crossing_open(self, crossing_index: np.ndarray, ts_utc: np.ndarray) -> np.ndarray:
        """Whether each crossing row is open at each UTC time (local opening hours)."""
        ...

    def cell_context(self, cells: np.ndarray) -> pl.DataFrame:
        """Static context of uint64 H3 cells (see RegionIndex.point_context for columns)."""
        ...
