"""Opening hours of crossings: ``"24h"`` or ``"HH:MM-HH:MM"`` in the region's local time."""

from __future__ import annotations

import numpy as np
import pandas as pd

ALWAYS_OPEN = "24h"
HOURS_EXPECTED = "'24h' or 'HH:MM-HH:MM' (local time, 00:00-23:59, end may be 24:00)"
_PATTERN = r"(?P<sh>\d\d):(?P<sm>\d\d)-(?P<eh>\d\d):(?P<em>\d\d)"
_DAY_MINUTES = 24 * 60


def parse_hours(hours: pd.Series) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return (start_minute, end_minute, valid) arrays for opening-hours strings.

    "24h" is 0-1440. An interval whose end is before its start wraps midnight. Invalid strings
    (unparsable, hour > 23, minute > 59, start 24:00, start equal to end) are ``valid == False``.
    """
    text = hours.astype("string").str.strip()
    parts = text.str.extract(_PATTERN, expand=True).apply(pd.to_numeric)
    start = (parts["sh"] * 60 + parts["sm"]).to_numpy(dtype=float, na_value=np.nan)
    end = (parts["eh"] * 60 + parts["em"]).to_numpy(dtype=float, na_value=np.nan)
    minutes_ok = (parts["sm"] < 60) & (parts["em"] < 60)
    valid = (
        text.str.fullmatch(_PATTERN).fillna(False).to_numpy(dtype=bool)
        & minutes_ok.to_numpy(dtype=bool, na_value=False)
        & (parts["sh"] < 24).to_numpy(dtype=bool, na_value=False)
        & (end <= _DAY_MINUTES)
        & (start != end)
    )
    always = (text.str.lower() == ALWAYS_OPEN).fillna(False).to_numpy(dtype=bool)
    start = np.where(always, 0, start)
    end = np.where(always, _DAY_MINUTES, end)
    valid |= always
    return (
        np.where(valid, start, 0).astype(np.int16),
        np.where(valid, end, 0).astype(np.int16),
        valid,
    )


def local_minute_of_day(ts_utc: np.ndarray, timezone: str) -> np.ndarray:
    """Return the minute of the day (0-1439) in `timezone` for UTC timestamps.

    Naive datetime64 values are taken as UTC; timezone-aware pandas values are converted.
    """
    index = pd.DatetimeIndex(ts_utc)
    index = index.tz_localize("UTC") if index.tz is None else index.tz_convert("UTC")
    local = index.tz_convert(timezone)
    return (local.hour * 60 + local.minute).to_numpy(dtype=np.int16)


def is_open(start: np.ndarray, end: np.ndarray, minute: np.ndarray) -> np.ndarray:
    """Return whether `minute` falls in [start, end), wrapping midnight when end < start."""
    inside = (minute >= start) & (minute < end)
    wrapped = (minute >= start) | (minute < end)
    return np.where(start < end, inside, wrapped)
