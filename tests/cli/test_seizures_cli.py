"""`geoint seizures trends` equals a pandas group-by of the stored seizures; events, alerts and
seizures export as KML that pyogrio and fastkml read, styled, with descriptions escaped."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pandas as pd
import polars as pl
import pyogrio
import pytest
from fastkml import KML
from support.api import build_region
from support.cli import geoint
from support.seizures import (
    EXTRA_SEIZURES_CSV,
    SAMPLE_SEIZURES,
    crossing_oracle,
    pandas_trends,
    stored_frame,
)
from support.workspaces import open_workspace

from geoint.alerts.rules import assign_sectors, event_candidates, load_rules
from geoint.alerts.store import AlertStore
from geoint.h3index import latlng_to_cells
from geoint.layers import Region, RegionIndex
from geoint.schema import EVENT_SCHEMA

pytestmark = pytest.mark.databases

HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(2)> & co'


def _events() -> pl.DataFrame:
    """Six events of three types, one with a hostile vehicle id."""
    lat = [6.5, 6.6, 10.0, 10.1, 11.0, 7.0]
    lon = [2.6, 2.7, 3.0, 3.1, 3.5, 2.65]
    types = ["unofficial_crossing", "border_loiter", "dark_crossing"] * 2
    return pl.DataFrame(
        {
            "event_id": [f"E{i}" for i in range(6)],
            "event_type": types,
            "vehicle_id": [HOSTILE, *(f"V{i}" for i in range(1, 6))],
            "other_vehicle_id": [None] * 6,
            "start": [datetime(2026, 3, 3, i, tzinfo=UTC) for i in range(6)],
            "end": [datetime(2026, 3, 3, i, 30, tzinfo=UTC) for i in range(6)],
            "lat": lat,
            "lon": lon,
            "cell": latlng_to_cells(pl.Series(lat).to_numpy(), pl.Series(lon).to_numpy(), 8),
            "side_from": [0] * 6,
            "side_to": [1] * 6,
            "night": [True] * 6,
            "distance_to_border_m": [100.0] * 6,
            "distance_to_crossing_m": [float("inf")] * 6,
            "evidence": [[i] for i in range(6)],
            "detail": [None] * 6,
        },
        schema=EVENT_SCHEMA,
    )


@pytest.fixture(scope="module")
def workspace(tmp_path_factory, module_database_url):
    """The sample and extra seizures, six events and the alerts they raise; the region."""
    root = tmp_path_factory.mktemp("seizures_cli")
    region, ws = build_region(root / "region"), root / "ws"
    extra = root / "extra.csv"
    extra.write_text(EXTRA_SEIZURES_CSV, encoding="utf-8")
    for file in (SAMPLE_SEIZURES, extra):
        done = geoint("ingest", "seizures", str(file), "-w", str(ws), "--json")
        assert done.returncode == 0, done.stderr
    store = open_workspace(ws)
    events = _events()
    store.write_events(events)
    candidates = event_candidates(events, load_rules())
    assign_sectors(candidates, RegionIndex(Region.load(region)))
    AlertStore(store).apply(candidates, window_s=0)
    store.engine.dispose()
    return ws, region


@pytest.mark.parametrize(
    ("by", "period", "extra"),
    [
        ("commodity", "week", []),
        ("transport_mode", "month", []),
        ("concealment", "week", ["--from", "2026-03-04", "--where", "commodity=fuel,drugs"]),
        ("origin_country", "month", ["--to", "2026-03-05", "--where", "direction=import"]),
        ("crossing", "week", []),
    ],
)
def test_trends_equal_a_pandas_group_by(workspace, by, period, extra):
    ws, region = workspace
    done = geoint(
        "seizures", "trends", "-w", str(ws), "--by", by, "--period", period,
        "--region", str(region), *extra, "--json",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    series = json.loads(done.stdout)["series"]
    store = open_workspace(ws)
    frame = stored_frame(store.engine)
    store.engine.dispose()
    frame["crossing"] = crossing_oracle(frame, Region.load(region), 10_000)
    if "--from" in extra:
        frame = frame[(frame.ts >= "2026-03-04") & frame.commodity.isin(["fuel", "drugs"])]
    if "--to" in extra:
        frame = frame[(frame.ts < "2026-03-06") & (frame.direction == "import")]
    expected = pandas_trends(frame, by, period)
    got = pd.DataFrame(series).astype({"quantity": float})
    key = ["key", "period"]
    pd.testing.assert_frame_equal(
        got.fillna({"key": "\0"})
        .sort_values(key)
        .reset_index(drop=True)[[*key, "count", "quantity"]],
        expected.fillna({"key": "\0"})
        .sort_values(key)
        .reset_index(drop=True)[[*key, "count", "quantity"]],
        check_dtype=False,
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--by", "colour"], "by: expected one of commodity"),
        (["--by", "commodity", "--period", "hour"], "period: expected one of day, week, month"),
        (["--by", "commodity", "--where", "comodity=fuel"], "comodity: unknown filter"),
        (["--by", "commodity", "--where", "commodity"], "--where: expected FIELD=VALUE"),
        (["--by", "commodity", "--from", "March"], "--from: expected an ISO date"),
    ],
)
def test_bad_trend_options_are_one_line(workspace, args, message):
    ws, _ = workspace
    done = geoint("seizures", "trends", "-w", str(ws), *args)
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and message in done.stderr, done.stderr


def _kml_placemarks(path) -> list:
    document = KML.parse(str(path)).features[0]
    return [p for folder in document.features for p in folder.features]


@pytest.mark.parametrize(
    ("command", "expected", "styles"),
    [
        (["events", "export"], 6, {"unofficial_crossing", "border_loiter", "dark_crossing"}),
        (["alerts", "export"], None, None),
        (["seizures", "export"], 68, {"fuel", "drugs", "tobacco"}),
        (["seizures", "export", "--where", "commodity=fuel"], 18, {"fuel"}),
    ],
)
def test_kml_exports_parse_with_pyogrio_and_fastkml(workspace, tmp_path, command, expected, styles):
    ws, _ = workspace
    out = tmp_path / "export.kml"
    done = geoint(*command, "-w", str(ws), "--out", str(out), "--format", "kml", "--json")
    assert done.returncode == 0, done.stderr
    written = next(v for k, v in json.loads(done.stdout).items() if k not in ("file", "format"))
    if expected is None:  # alerts: as many as the store holds
        store = open_workspace(ws)
        expected = AlertStore(store).frame_page()[1]
        store.engine.dispose()
        assert expected > 0
    frame = pyogrio.read_dataframe(out)
    assert written == len(frame) == expected
    assert (frame.geometry.geom_type == "Point").all()
    placemarks = _kml_placemarks(out)
    assert len(placemarks) == expected
    text = out.read_text(encoding="utf-8")
    assert "<script>" not in text and "<img" not in text
    if styles is not None:
        used = {p.style_url.url.removeprefix("#s-") for p in placemarks}
        assert styles <= used
    descriptions = "".join(p.description or "" for p in placemarks)
    if command[0] == "events":
        # the vehicle id is HTML-escaped inside the description Google Earth renders
        assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in descriptions
        assert "<script>" not in descriptions
    if command[0] == "seizures" and len(command) == 2:
        assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp;" in descriptions
