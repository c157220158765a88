"""Opening hours of crossings: parsing, midnight wrap, local time of the region."""

import numpy as np
import pandas as pd
import pytest

from geoint.layers.hours import is_open, local_minute_of_day, parse_hours


def _open_at(hours: str, local_times: list[str], timezone: str = "Africa/Lagos") -> list[bool]:
    start, end, valid = parse_hours(pd.Series([hours]))
    assert valid.all()
    utc = pd.DatetimeIndex(local_times).tz_localize(timezone).tz_convert("UTC").tz_localize(None)
    minute = local_minute_of_day(utc.to_numpy(), timezone)
    return is_open(start[0], end[0], minute).tolist()


def test_day_crossing_opens_at_its_first_minute_and_closes_at_its_end():
    times = ["2024-03-01 05:59", "2024-03-01 06:00", "2024-03-01 21:59", "2024-03-01 22:00"]
    assert _open_at("06:00-22:00", times) == [False, True, True, False]


def test_night_crossing_wraps_midnight():
    times = ["2024-03-01 21:59", "2024-03-01 22:00", "2024-03-02 00:30", "2024-03-02 05:59",
             "2024-03-02 06:00", "2024-03-02 12:00"]  # fmt: skip
    assert _open_at("22:00-06:00", times) == [False, True, True, True, False, False]


def test_24h_is_always_open():
    times = pd.date_range("2024-03-01", periods=24 * 4, freq="15min").strftime("%Y-%m-%d %H:%M")
    assert all(_open_at("24h", list(times)))


def test_end_of_day_may_be_written_24_00():
    assert _open_at("18:00-24:00", ["2024-03-01 17:59", "2024-03-01 23:59"]) == [False, True]


@pytest.mark.parametrize(
    "text", ["25:00-06:00", "6-22", "06:00-06:00", "06:60-07:00", "24:00-06:00", "", "always"]
)
def test_malformed_hours_are_invalid(text):
    assert not parse_hours(pd.Series([text]))[2][0]


def test_local_minute_uses_the_region_time_zone_not_utc():
    # 23:30 UTC is 00:30 next day in Lagos (UTC+1) and 19:30 in New York (EDT, UTC-4).
    ts = np.array(["2024-06-01T23:30"], dtype="datetime64[ns]")
    assert local_minute_of_day(ts, "Africa/Lagos")[0] == 30
    assert local_minute_of_day(ts, "America/New_York")[0] == 19 * 60 + 30


def test_timezone_aware_timestamps_are_converted():
    ts = pd.DatetimeIndex(["2024-06-01 06:00+01:00"])
    assert local_minute_of_day(ts, "Africa/Lagos")[0] == 6 * 60
