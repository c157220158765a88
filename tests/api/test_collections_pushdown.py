"""Seizures, events and alerts collections read only their page: the same answers as filtering
the whole table in polars (the former implementation, kept here as the oracle)."""

from datetime import UTC, datetime, timedelta

import numpy as np
import orjson
import polars as pl
import pytest
import sqlalchemy as sa
from support.api import build_region
from support.workspaces import open_workspace

from geoint.alerts.rules import assign_sectors, event_candidates, load_rules
from geoint.alerts.store import AlertStore
from geoint.api.collections import (
    AlertCollection,
    Bbox,
    EventCollection,
    Interval,
    ItemQuery,
    SeizureCollection,
    _event_features,
    _point_features,
    _seizure_features,
)
from geoint.h3index import latlng_to_cells
from geoint.intel.crossings import SeizureLocator
from geoint.layers import Region, RegionIndex
from geoint.schema import EVENT_SCHEMA
from geoint.store.workspace import Workspace

pytestmark = pytest.mark.databases

COUNT = 240
BASE = datetime(2026, 9, 1, tzinfo=UTC)
SCOPES = [None, frozenset({"north"}), frozenset({"south", "north"}), frozenset(), frozenset({"x"})]


def _positions(rng: np.random.Generator, count: int) -> tuple[np.ndarray, np.ndarray]:
    """Mostly in the two sectors, some east of them, some either side of the antimeridian."""
    lat, lon = rng.uniform(5.0, 13.5, count), rng.uniform(1.0, 5.5, count)
    east = rng.random(count) < 0.1
    lon[east] = rng.uniform(5.5, 8.0, east.sum())
    far = rng.random(count) < 0.15
    lat[far] = rng.uniform(-5.0, 5.0, far.sum())
    lon[far] = rng.choice([-1.0, 1.0], far.sum()) * rng.uniform(175.0, 180.0, far.sum())
    return lat, lon


def _times(rng: np.random.Generator, count: int) -> tuple[pl.Series, pl.Series]:
    """Starts on a few hours (many ties), ends up to 5 h later."""
    base = np.datetime64(BASE.replace(tzinfo=None), "us")
    start = base + rng.integers(0, 40, count).astype("timedelta64[h]")
    end = start + rng.integers(0, 6, count).astype("timedelta64[h]")
    return tuple(pl.Series(t).dt.replace_time_zone("UTC") for t in (start, end))


def _events(rng: np.random.Generator) -> pl.DataFrame:
    lat, lon = _positions(rng, COUNT)
    start, end = _times(rng, COUNT)
    types = ["unofficial_crossing", "border_loiter", "dark_crossing", "shuttle"]
    return pl.DataFrame(
        {
            "event_id": [f"E{i:04d}" for i in rng.permutation(COUNT)],
            "event_type": [types[i % len(types)] for i in range(COUNT)],
            "vehicle_id": [f"V{i}" for i in range(COUNT)],
            "other_vehicle_id": [None if i % 3 else f"W{i}" for i in range(COUNT)],
            "start": start,
            "end": end,
            "lat": lat,
            "lon": lon,
            "cell": latlng_to_cells(lat, lon, 8),
            "side_from": [0] * COUNT,
            "side_to": [1] * COUNT,
            "night": [i % 2 == 0 for i in range(COUNT)],
            "distance_to_border_m": rng.uniform(0, 5000, COUNT),
            "distance_to_crossing_m": [float("inf")] * COUNT,
            "evidence": [[i, i + 1] for i in range(COUNT)],
            "detail": ['{"k": 1}' if i % 2 else None for i in range(COUNT)],
        },
        schema=EVENT_SCHEMA,
    )


def _seizures(rng: np.random.Generator, count: int, first: int) -> pl.DataFrame:
    lat, lon = _positions(rng, count)
    ts, _ = _times(rng, count)
    ids = [f"S-{i}" for i in rng.permutation(np.arange(first, first + count) * 7)]
    return pl.DataFrame(
        {
            "seizure_id": ids,
            "ts": ts,
            "lat": lat,
            "lon": lon,
            "cell": latlng_to_cells(lat, lon, 8).astype(np.int64),
            "position_precision": ["exact"] * count,
            "place": [f"place {i}" for i in range(count)],
            "commodity": ["fuel", "tobacco"] * (count // 2),
            "quantity": rng.uniform(1, 100, count),
            "unit": ["l"] * count,
            "transport_mode": ["truck"] * count,
            "concealment": [None if i % 4 else "tank" for i in range(count)],
            "detection_method": ["patrol"] * count,
            "direction": ["inbound"] * count,
            "origin_country": ["BJ"] * count,
            "destination_country": ["NG"] * count,
            "vehicle_id": [f"V{i}" for i in range(count)],
            "description": ["<b>text</b>"] * count,
        }
    )


def _add_seizures(ws: Workspace, records: pl.DataFrame) -> None:
    batch = ws.begin_batch("seizures", "s.csv", f"{records['seizure_id'][0]:0>64}")
    ws.commit_batch(batch, {"rows": records.height}, pl.DataFrame(), records)


@pytest.fixture(scope="module")
def stored(tmp_path_factory, module_database_url):
    """A workspace with random seizures, events and the alerts they raise; the region index."""
    root = tmp_path_factory.mktemp("pushdown")
    index = RegionIndex(Region.load(build_region(root / "region")))
    ws = open_workspace(root / "ws")
    rng = np.random.default_rng(7)
    events = _events(rng)
    ws.write_events(events)
    _add_seizures(ws, _seizures(rng, COUNT, 0))
    candidates = event_candidates(events, load_rules())
    assign_sectors(candidates, index)
    store = AlertStore(ws)
    store.apply(candidates, window_s=0)
    yield ws, index, store
    ws.engine.dispose()


def _random_query(rng: np.random.Generator, total: int) -> ItemQuery:
    bbox = None
    kind = rng.integers(0, 4)
    if kind == 1:
        x0, x1 = sorted(rng.uniform(0.0, 9.0, 2))
        y0, y1 = sorted(rng.uniform(4.0, 14.0, 2))
        bbox = Bbox(x0, y0, x1, y1)
    elif kind == 2:  # across the antimeridian
        bbox = Bbox(rng.uniform(170, 179.5), rng.uniform(-6, 0), rng.uniform(-179.5, -170), 6)
    elif kind == 3:  # nothing there
        bbox = Bbox(-60.0, -60.0, -50.0, -50.0)
    interval = None
    if rng.random() < 0.6:
        start = BASE + timedelta(hours=int(rng.integers(-5, 45)))
        end = start + timedelta(hours=int(rng.integers(0, 20)))
        interval = [
            Interval(start, end),
            Interval(start, None),
            Interval(None, end),
            Interval(start, start),
        ][rng.integers(0, 4)]
    limit = int(rng.integers(1, 60))
    offset = int(rng.integers(0, total + 10)) if rng.random() < 0.5 else 0
    return ItemQuery(bbox, interval, limit, offset, SCOPES[rng.integers(0, len(SCOPES))])


def _reference(
    frame: pl.DataFrame, index: RegionIndex, query: ItemQuery, times: tuple[str, str], order: list
) -> tuple[pl.DataFrame, int]:
    """The former `PointCollection.items`: the page of the whole table and the match count."""
    start, end = times
    if query.bbox is not None:
        frame = frame.filter(
            pl.any_horizontal(
                pl.col("lon").is_between(x0, x1) & pl.col("lat").is_between(y0, y1)
                for x0, y0, x1, y1 in query.bbox.boxes()
            )
        )
    if query.interval is not None:
        if query.interval.end is not None:
            frame = frame.filter(pl.col(start) <= query.interval.end)
        if query.interval.start is not None:
            frame = frame.filter(pl.col(end) >= query.interval.start)
    frame = _visible(frame, index, query.sectors).sort(order)
    return frame.slice(query.offset, query.limit), frame.height


def _visible(frame: pl.DataFrame, index: RegionIndex, sectors) -> pl.DataFrame:
    if sectors is None:
        return frame
    owner = index.sector(frame["lat"].to_numpy(), frame["lon"].to_numpy()).tolist()
    return frame.filter(pl.Series(owner, dtype=pl.String).is_in(list(sectors)))


def _reference_extent(frame: pl.DataFrame, times: tuple[str, str]) -> dict:
    if frame.height == 0:
        return {}
    box = [frame["lon"].min(), frame["lat"].min(), frame["lon"].max(), frame["lat"].max()]
    span = [frame[times[0]].min().isoformat(), frame[times[1]].max().isoformat()]
    return {
        "spatial": {"bbox": [box], "crs": "http://www.opengis.net/def/crs/OGC/1.3/CRS84"},
        "temporal": {
            "interval": [span],
            "trs": "http://www.opengis.net/def/uom/ISO-8601/0/Gregorian",
        },
    }


def _cases(stored):
    """Per collection: it, the whole table, its time columns, order, id column, shaper."""
    ws, index, store = stored
    return {
        "alerts": (
            AlertCollection(store),
            store.frame(),
            ("event_time", "last_seen"),
            # ids are integers in the table (the former code ordered their text: "10" before "9")
            ["event_time", pl.col("id").cast(pl.Int64)],
            "id",
            lambda frame: _point_features(frame, "id"),
        ),
        "seizures": (
            SeizureCollection(ws, index, SeizureLocator(index, 10_000)),
            ws.read_table("seizures"),
            ("ts", "ts"),
            ["ts", "seizure_id"],
            "seizure_id",
            # all the workspace's own: no package was imported
            lambda frame: _seizure_features(frame.with_columns(origin=pl.lit("local"))),
        ),
        "events": (
            EventCollection(ws, index),
            ws.read_events(),
            ("start", "end"),
            ["start", "event_id"],
            "event_id",
            _event_features,
        ),
    }


@pytest.mark.parametrize("name", ["alerts", "seizures", "events"])
def test_items_match_the_whole_table_filtered(stored, name):
    collection, frame, times, order, _id, shape = _cases(stored)[name]
    index = stored[1]
    assert frame.height >= COUNT
    rng = np.random.default_rng(len(name))
    seen = {"empty": 0, "antimeridian": 0, "scoped": 0, "ties": 0}
    for _ in range(250):
        query = _random_query(rng, frame.height)
        page = collection.items(query)
        expected, matched = _reference(frame, index, query, times, order)
        assert page.matched == matched, query
        assert orjson.dumps(page.features) == orjson.dumps(shape(expected)), query
        seen["empty"] += matched == 0
        seen["antimeridian"] += matched > 0 and query.bbox is not None and query.bbox.minx > 170
        seen["scoped"] += matched > 0 and bool(query.sectors)
        seen["ties"] += expected[times[0]].n_unique() < expected.height
    assert min(seen.values()) > 0, seen  # every kind of case was met


@pytest.mark.parametrize("name", ["alerts", "seizures", "events"])
def test_pages_in_sequence_cover_the_matches_once(stored, name):
    collection = _cases(stored)[name][0]
    query = ItemQuery(Bbox(0.0, 4.0, 9.0, 14.0), None, 7, 0, frozenset({"south"}))
    first = collection.items(query)
    ids = []
    for offset in range(0, first.matched + 7, 7):
        page = collection.items(ItemQuery(query.bbox, None, 7, offset, query.sectors))
        assert page.matched == first.matched
        ids += [f["id"] for f in page.features]
    assert len(ids) == len(set(ids)) == first.matched > 7


@pytest.mark.parametrize("name", ["alerts", "seizures", "events"])
def test_extent_and_item_match_the_whole_table(stored, name):
    collection, frame, times, _order, id_column, shape = _cases(stored)[name]
    index = stored[1]
    for sectors in SCOPES:
        visible = _visible(frame, index, sectors)
        assert collection.extent(sectors) == _reference_extent(visible, times)
        for feature_id in frame[id_column].gather(np.arange(0, frame.height, 17)).to_list():
            expected = visible.filter(pl.col(id_column) == feature_id)
            want = shape(expected)[0] if expected.height else None
            assert orjson.dumps(collection.item(feature_id, sectors)) == orjson.dumps(want)
    for missing in ("nope", "", "-1", "1.0"):
        assert collection.item(missing, None) is None


def test_alert_ids_must_be_canonical(stored):
    collection = AlertCollection(stored[2])
    assert collection.item("1", None)["id"] == "1"
    for text in ("01", "+1", " 1", "١", "9" * 30):
        assert collection.item(text, None) is None


def test_new_seizures_and_a_rewritten_events_file_are_served(tmp_path):
    index = RegionIndex(Region.load(build_region(tmp_path / "region")))
    ws = open_workspace(tmp_path / "ws")
    seizures = SeizureCollection(ws, index, SeizureLocator(index, 10_000))
    events = EventCollection(ws, index)
    north = ItemQuery(None, None, 50, 0, frozenset({"north"}))
    assert seizures.items(north).matched == events.items(north).matched == 0
    assert seizures.extent(None) == events.extent(None) == {}
    rng = np.random.default_rng(3)
    _add_seizures(ws, _seizures(rng, 20, 0))
    first = seizures.items(north).matched
    _add_seizures(ws, _seizures(rng, 20, 100))
    everything = _visible(ws.read_table("seizures"), index, north.sectors).height
    assert seizures.items(north).matched == everything > first
    ws.write_events(_events(rng))
    assert events.items(north).matched == _visible(ws.read_events(), index, north.sectors).height
    ws.write_events(_events(rng).head(3))
    assert events.items(ItemQuery(None, None, 50, 0, None)).matched == 3
    ws.engine.dispose()


def test_an_existing_workspace_gets_the_event_time_index(tmp_path):
    ws = open_workspace(tmp_path)
    AlertStore(ws)
    with ws.engine.begin() as conn:
        conn.execute(sa.text("DROP INDEX ix_alerts_event_time"))
    AlertStore(ws)
    indexes = {index["name"] for index in sa.inspect(ws.engine).get_indexes("alerts")}
    assert "ix_alerts_event_time" in indexes
    if ws.engine.dialect.name == "sqlite":  # and SQLite's planner reads pages through it
        with ws.engine.connect() as conn:
            plan = conn.execute(
                sa.text("EXPLAIN QUERY PLAN SELECT id FROM alerts ORDER BY event_time, id LIMIT 5")
            ).all()
        assert "ix_alerts_event_time" in str(plan) and "TEMP B-TREE" not in str(plan)
    ws.engine.dispose()
