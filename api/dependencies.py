"""Typed, reusable query parameters: bbox, datetime, and bounded limit/offset paging.

They are ``async`` although they do no I/O: FastAPI runs sync dependencies in its threadpool,
one hop each, which costs more than the parsing itself on every request.
"""

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated

from fastapi import Query

from geoint.api.collections import Bbox, Interval
from geoint.api.errors import parameter_error
from geoint.api.settings import ServiceSettings

FromQuery = Annotated[
    str | None, Query(alias="from", description="from this date (ISO; UTC) or date-time")
]
ToQuery = Annotated[
    str | None, Query(alias="to", description="to this date (included) or date-time")
]

MAX_OFFSET = 2**31 - 1


async def bbox_param(
    bbox: Annotated[
        str | None,
        Query(
            description="minLon,minLat,maxLon,maxLat in WGS84 (CRS84); six numbers with "
            "heights are accepted (heights ignored); minLon > maxLon crosses the antimeridian",
            examples=["2.5,6.3,3.0,7.0"],
        ),
    ] = None,
) -> Bbox | None:
    """The ``bbox`` parameter, checked."""
    if bbox is None:
        return None
    try:
        numbers = [float(part) for part in bbox.split(",")]
    except ValueError:
        raise parameter_error(
            "bbox", f"expected 4 or 6 comma-separated numbers, got {bbox!r}"
        ) from None
    if len(numbers) not in (4, 6) or not all(map(math.isfinite, numbers)):
        raise parameter_error("bbox", f"expected 4 or 6 finite numbers, got {bbox!r}")
    if len(numbers) == 6:
        numbers = [numbers[0], numbers[1], numbers[3], numbers[4]]
    minx, miny, maxx, maxy = numbers
    if not (-180 <= minx <= 180 and -180 <= maxx <= 180):
        raise parameter_error("bbox", f"longitudes must be within ±180, got {bbox!r}")
    if not (-90 <= miny <= maxy <= 90):
        raise parameter_error("bbox", f"latitudes must be within ±90 with min ≤ max, got {bbox!r}")
    return Bbox(minx, miny, maxx, maxy)


async def datetime_param(
    value: Annotated[
        str | None,
        Query(
            alias="datetime",
            description="an instant or an interval (RFC 3339, UTC if no offset is given): "
            "`2026-09-14T02:40:00Z`, `2026-09-14` (the whole day), `2026-09-01/2026-09-30`, "
            "`../2026-09-30`, `2026-09-01/..`",
            examples=["2026-09-01T00:00:00Z/.."],
        ),
    ] = None,
) -> Interval | None:
    """The ``datetime`` parameter as a closed UTC interval."""
    if value is None:
        return None
    text = value.strip()
    if "/" not in text:
        return Interval(_instant(text, end=False), _instant(text, end=True))
    first, _, second = text.partition("/")
    if "/" in second:
        raise parameter_error("datetime", f"expected one '/' in an interval, got {value!r}")
    start = None if first in ("", "..") else _instant(first, end=False)
    end = None if second in ("", "..") else _instant(second, end=True)
    if start is not None and end is not None and start > end:
        raise parameter_error("datetime", f"the interval ends before it starts: {value!r}")
    return Interval(start, end)


def _instant(text: str, end: bool) -> datetime:
    """An RFC 3339 date-time; a bare date stands for the whole UTC day."""
    try:
        if len(text) == 10:
            day = datetime.combine(date.fromisoformat(text), time(), UTC)
            return day + timedelta(days=1, microseconds=-1) if end else day
        moment = datetime.fromisoformat(text.upper())
        return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    except (ValueError, OverflowError):
        raise parameter_error(
            "datetime", f"expected an RFC 3339 date-time or date, got {text!r}"
        ) from None


@dataclass(frozen=True)
class Paging:
    """A bounded page request."""

    limit: int
    offset: int


def paging(service: ServiceSettings) -> Callable[..., Paging]:
    """A dependency reading ``limit`` (default and maximum from settings) and ``offset``."""

    async def dependency(
        limit: Annotated[
            int,
            Query(ge=1, le=service.max_limit, description="items per page"),
        ] = service.default_limit,
        offset: Annotated[
            int, Query(ge=0, le=MAX_OFFSET, description="items to skip (see `next` links)")
        ] = 0,
    ) -> Paging:
        return Paging(limit, offset)

    return dependency
