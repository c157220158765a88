"""A small hand-made region with round numbers, for tracks with known answers.

The border runs due north along longitude 3°E (the central meridian of UTM 31N, so it is
straight in both lon/lat and the metric CRS) from 6.5°N to 8.5°N. West of it is "Westland"
(side 0), east "Eastland" (side 1); both sides end at the line's ends, so a point north of 8.5°N
is on neither side. Local time is Africa/Lagos (UTC+1, no daylight saving).

    8.5N  ──────────────┬──────────────   beyond: side -1
                        │
    8.0N  ═══ road ════ N ═══ road ═══   NORTHGATE "06:00-22:00"
                        │
    7.5N      MIDTOWN ● │                 town, 2 km disc
                        │
    7.0N  ═══ road / corridor C1 ═ S ═ ● stop area ═ ▭ stop area ═ ◆ DESTINATION
                        │                 SOUTHGATE "24h"
    6.5N  ──────────────┴──────────────
         2.0E          3.0E          4.0E

One sector, S1, covers 2.5–3.5°E.
"""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import geopandas as gpd
import shapely

from geoint.geodesy import EARTH_RADIUS_M
from geoint.layers import Region, RegionIndex

TIMEZONE = "Africa/Lagos"
CRS = "EPSG:32631"
COUNTRIES = ("Westland", "Eastland")
BORDER_LON = 3.0
SOUTH, NORTH = 6.5, 8.5
NORTHGATE = (8.0, 3.0)  # (lat, lon), open 06:00-22:00 local
SOUTHGATE = (7.0, 3.0)  # open 24 h
MIDTOWN = (7.5, 2.96)  # a town (point place: 2 km disc), 4.4 km from the border
CORRIDOR = "C1"  # along 7.0°N from 2.2°E to 3.9°E, on the southern road
CORRIDOR_LAT = 7.0
STOP_AREA_POINT = (7.0, 3.5)  # a point stop area of C1: 1 km disc
STOP_AREA_BOX = (3.68, 6.99, 3.72, 7.01)  # a polygon stop area of C1 (lon/lat bounds)
DESTINATION = (7.0, 3.9)  # the destination office of C1 declarations

DAY = date(2024, 3, 4)


def build_toy_region(path: Path) -> Region:
    """Write the toy region into folder `path` and return it."""
    region = Region.create(
        path, name="toy", timezone=TIMEZONE, crs=CRS, countries=COUNTRIES, bbox=(2.0, 6.5, 4.0, 8.5)
    )
    border = shapely.LineString([(BORDER_LON, SOUTH), (BORDER_LON, NORTH)])
    sides = [shapely.box(2.0, SOUTH, BORDER_LON, NORTH), shapely.box(BORDER_LON, SOUTH, 4.0, NORTH)]
    layers = {
        "border": ({}, [border]),
        "sides": ({"country": list(COUNTRIES)}, sides),
        "roads": (
            {"class": ["primary", "trunk"]},
            [shapely.LineString([(2.0, lat), (4.0, lat)]) for lat in (NORTHGATE[0], SOUTHGATE[0])],
        ),
        "crossings": (
            {"name": ["Northgate", "Southgate"], "hours": ["06:00-22:00", "24h"]},
            [shapely.Point(NORTHGATE[1], NORTHGATE[0]), shapely.Point(SOUTHGATE[1], SOUTHGATE[0])],
        ),
        "places": ({"name": ["Midtown"]}, [shapely.Point(MIDTOWN[1], MIDTOWN[0])]),
        "corridors": (
            {"corridor_id": [CORRIDOR]},
            [shapely.LineString([(2.2, CORRIDOR_LAT), (DESTINATION[1], CORRIDOR_LAT)])],
        ),
        "stop_areas": (
            {"corridor_id": [CORRIDOR, CORRIDOR]},
            [shapely.Point(STOP_AREA_POINT[1], STOP_AREA_POINT[0]), shapely.box(*STOP_AREA_BOX)],
        ),
        "sectors": (
            {"sector_id": ["S1"], "unit": ["Border post"]},
            [shapely.box(2.5, SOUTH, 3.5, NORTH)],
        ),
    }
    for kind, (columns, geometry) in layers.items():
        # Dense vertices keep lines on their parallel in the metric CRS too (no chord shortcut).
        dense = shapely.segmentize(geometry, 0.01)
        frame = gpd.GeoDataFrame(columns, geometry=dense, crs="EPSG:4326")
        region.add_frame(kind, frame, source=f"toy {kind}")
    return region


def build_toy_index(path: Path) -> RegionIndex:
    """Return the RegionIndex of a toy region written into folder `path`."""
    return RegionIndex(build_toy_region(path))


def offset(
    point: tuple[float, float], north_m: float = 0.0, east_m: float = 0.0
) -> tuple[float, float]:
    """Return (lat, lon) `north_m` and `east_m` metres from `point` on the haversine sphere."""
    lat, lon = point
    dlat = math.degrees(north_m / EARTH_RADIUS_M)
    dlon = math.degrees(east_m / (EARTH_RADIUS_M * math.cos(math.radians(lat + dlat / 2))))
    return lat + dlat, lon + dlon


def local(hhmm: str, day: int = 0, seconds: float = 0.0) -> datetime:
    """Return the UTC instant of local (Africa/Lagos) time `hhmm` on DAY + `day`."""
    hour, minute = (int(v) for v in hhmm.split(":"))
    moment = datetime.combine(DAY + timedelta(days=day), time(hour, minute), ZoneInfo(TIMEZONE))
    return (moment + timedelta(seconds=seconds)).astimezone(UTC)
