"""Stops on real GPS traces agree with MovingPandas' TrajectoryStopDetector (same parameters).

Reads the real public traces in ../shared/data/tracks (skipped when absent). MovingPandas
measures a window by the diagonal of its minimum rotated rectangle (< max_diameter) and slides
its window start; ours is the greedy largest-pairwise-distance rule of docs/events.md. Every
MovingPandas stop must overlap one of ours, and nearly every one of ours one of theirs; the
agreement figures are reported in docs/events.md.
"""

import warnings
from datetime import timedelta

import gpxpy
import polars as pl
import pytest
from support.paths import SHARED_DATA

from geoint.bench.events import stop_agreement
from geoint.detect.tracks import add_segments, find_spikes, find_stops, order_pings
from geoint.schema import UTC_DATETIME

TRACKS = SHARED_DATA / "tracks"
pytestmark = [
    pytest.mark.skipif(not TRACKS.is_dir(), reason="../shared/data/tracks is absent"),
    # MovingPandas 0.23 calls sort_index(inplace=True), which pandas 3 deprecates
    pytest.mark.filterwarnings("ignore:The inplace keyword:DeprecationWarning"),
]
with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # MovingPandas warns about optional smoother dependencies
    mpd = pytest.importorskip("movingpandas")
gpd = pytest.importorskip("geopandas")

PARAMETERS = [(200, 20), (100, 5), (50, 2)]  # max diameter (m), min duration (min)


def osm_traces() -> pl.DataFrame:
    with open(TRACKS / "osm_traces.gpx", encoding="utf-8") as handle:
        gpx = gpxpy.parse(handle)
    rows = [
        (f"track{i}", p.time, p.latitude, p.longitude)
        for i, track in enumerate(gpx.tracks)
        for segment in track.segments
        for p in segment.points
    ]
    frame = pl.DataFrame(rows, schema=["vehicle_id", "ts", "lat", "lon"], orient="row")
    return frame.with_columns(pl.col("ts").cast(UTC_DATETIME))


def liverpool_bus() -> pl.DataFrame:
    frame = pl.read_csv(TRACKS / "liverpool_bus_route14_outbound.csv", infer_schema=False)
    return frame.select(
        pl.col("trip_id").alias("vehicle_id"),
        pl.col("timestamp")
        .str.to_datetime()
        .dt.replace_time_zone("UTC")
        .cast(UTC_DATETIME)
        .alias("ts"),
        pl.col("latitude").cast(pl.Float64).alias("lat"),
        pl.col("longitude").cast(pl.Float64).alias("lon"),
    )


def stops_both_ways(
    frame: pl.DataFrame, diameter: float, minutes: float
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Return (ours, MovingPandas') stops as (traj, start, end), on the same trips."""
    ordered, _ = order_pings(frame.with_row_index("ping_id"), 8)
    pings = add_segments(ordered.filter(~find_spikes(ordered, 250)), 1800)
    ours = find_stops(pings, diameter, minutes * 60).select(
        pl.format("{}_{}", "vehicle", "trip").alias("traj"),
        pl.col("start").dt.replace_time_zone(None),
        pl.col("end").dt.replace_time_zone(None),
    )
    points = pings.select(
        pl.format("{}_{}", "vehicle", "trip").alias("traj"),
        pl.col("ts").dt.replace_time_zone(None),
        "lat",
        "lon",
    ).to_pandas()
    geo = gpd.GeoDataFrame(
        points, geometry=gpd.points_from_xy(points["lon"], points["lat"]), crs="EPSG:4326"
    ).set_index("ts")
    found = mpd.TrajectoryStopDetector(mpd.TrajectoryCollection(geo, "traj")).get_stop_time_ranges(
        max_diameter=diameter, min_duration=timedelta(minutes=minutes)
    )
    theirs = pl.DataFrame(
        {
            "traj": [str(r.traj_id) for r in found],
            "start": [r.t_0 for r in found],
            "end": [r.t_n for r in found],
        },
        schema={"traj": pl.String, "start": pl.Datetime("us"), "end": pl.Datetime("us")},
    )
    return ours, theirs


@pytest.mark.parametrize("load", [osm_traces, liverpool_bus], ids=["osm", "liverpool"])
@pytest.mark.parametrize(("diameter", "minutes"), PARAMETERS)
def test_stops_agree_with_movingpandas(load, diameter, minutes):
    ours, theirs = stops_both_ways(load(), diameter, minutes)
    agreement = stop_agreement(ours, theirs)
    if theirs.height == 0:
        assert ours.height == 0
        return
    assert agreement["movingpandas_matched"] >= 0.95, agreement
    assert agreement["ours_matched"] >= 0.85, agreement
    assert agreement["stopped_time_jaccard"] >= 0.8, agreement
