"""Generated geography: roads between towns, crossings where roads meet the border, places,
corridors with stop areas, sectors; deterministic and replaced, not accumulated, on re-runs."""

from pathlib import Path

import numpy as np
import pytest
import shapely

from geoint.layers import RegionIndex, build_sample_region
from geoint.layers.hours import parse_hours
from geoint.sim.synthetic_layers import GENERATED_BY, KINDS, SyntheticOptions, add_synthetic_layers

SEED = 7


@pytest.fixture(scope="module")
def region(tmp_path_factory):
    region = build_sample_region(tmp_path_factory.mktemp("synthetic") / "region")
    add_synthetic_layers(region, SEED)
    return region


@pytest.fixture(scope="module")
def index(region):
    return RegionIndex(region)


def test_every_kind_is_written_with_its_columns(region):
    for kind in KINDS:
        frame = region.read(kind)
        assert frame[GENERATED_BY].notna().sum() > 0, kind
    roads = region.read("roads")
    assert {"primary", "secondary", "tertiary", "track", "trunk"} <= set(roads["class"])
    places = region.read("places")
    assert {"town", "market", "post", "depot"} <= set(places["kind"])
    assert region.read("sectors")["unit"].str.contains("border unit").all()


def test_crossings_have_valid_hours_some_always_open_some_not(region):
    hours = region.read("crossings")["hours"]
    _, _, valid = parse_hours(hours)
    assert valid.all()
    assert (hours == "24h").any() and (hours != "24h").any()
    assert region.read("crossings")["name"].is_unique


def test_roads_meet_the_border_only_at_crossings_except_tracks(region, index):
    roads = region.read("roads")
    border = shapely.union_all(region.read("border").geometry.to_numpy())
    meets = shapely.get_coordinates(
        shapely.intersection(roads.geometry[roads["class"] != "track"].to_numpy(), border)
    )
    assert len(meets) >= len(region.read("crossings"))
    to_crossing, _ = index.nearest_crossing(meets[:, 1], meets[:, 0])
    assert (to_crossing <= 1_000).all()
    tracks = shapely.get_coordinates(
        shapely.intersection(roads.geometry[roads["class"] == "track"].to_numpy(), border)
    )
    assert len(tracks) > 0
    far, _ = index.nearest_crossing(tracks[:, 1], tracks[:, 0])
    assert (far >= SyntheticOptions().track_clearance_m * 0.99).all()


def test_corridors_follow_roads_and_stop_areas_lie_in_depots(region, index):
    corridors = region.read("corridors")
    assert corridors["corridor_id"].is_unique and (corridors["width_m"] > 0).all()
    vertices = shapely.get_coordinates(corridors.geometry.to_numpy())
    assert (index.distance_to_road_m(vertices[:, 1], vertices[:, 0]) < 1.0).all()
    areas = region.read("stop_areas")
    assert set(areas["corridor_id"]) <= set(corridors["corridor_id"])
    centres = shapely.get_coordinates(shapely.centroid(areas.geometry.to_numpy()))
    assert (index.distance_to_place_m(centres[:, 1], centres[:, 0]) == 0).all()


def test_sectors_tile_a_band_along_the_border(region, index):
    sectors = region.read("sectors")
    assert sectors["sector_id"].is_unique
    metric = sectors.to_crs(region.crs).geometry.to_numpy()
    total = shapely.area(shapely.union_all(metric))
    assert total == pytest.approx(shapely.area(metric).sum(), rel=1e-6)  # no overlaps
    border = region.read("border").geometry.to_numpy()
    samples = shapely.get_coordinates(shapely.segmentize(border, 0.01))
    inward = np.array([[0.0, 0.02], [0.0, -0.02], [0.02, 0.0], [-0.02, 0.0]])
    probes = (samples[:, None, :] + inward[None, :, :]).reshape(-1, 2)
    owned = index.sector(probes[:, 1], probes[:, 0])
    assert np.mean([s is not None for s in owned]) > 0.95


def test_generating_again_replaces_the_layers_byte_for_byte(region, tmp_path):
    before = {name: (region.path / name).read_bytes() for name in _layer_files(region)}
    add_synthetic_layers(region, SEED)
    after = {name: (region.path / name).read_bytes() for name in _layer_files(region)}
    assert after == before


def test_another_seed_gives_other_geography(region, tmp_path):
    other = build_sample_region(tmp_path / "other")
    add_synthetic_layers(other, SEED + 1)
    assert len(other.read("roads")) != len(region.read("roads")) or not other.read(
        "crossings"
    ).geometry.equals(region.read("crossings").geometry)


def _layer_files(region) -> list[str]:
    files = sorted(name for kind in KINDS for name in region.layers.get(kind, []))
    return [*files, Path(region.manifest_path).name]
