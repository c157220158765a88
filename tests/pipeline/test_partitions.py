"""The full analysis by vehicle partitions equals the unpartitioned one, table for table.

On the committed sample scenario and on a simulated France–Spain scenario, `analyze` with 1, 3
and 7 vehicle partitions stores the same events (same ids, same values) and the same cell
tables, and both equal today's single-pass computations: every event of every ping at once
(`detect_events`) and the cell tables of the whole vehicle-day table (`analyze_cells`).
"""

import shutil
from pathlib import Path

import polars as pl
import pytest
from support.partitions import SAMPLE, assert_same_outputs, ingested, stored_outputs

from geoint.analytics.cells import pings_vehicle_days
from geoint.detect.events import detect_events
from geoint.layers import Region, RegionIndex, init_region
from geoint.pipeline.analyze import analyze
from geoint.pipeline.cells import ANALYZED_PING_COLUMNS, analyze_cells
from geoint.pipeline.partitions import plan_partitions
from geoint.settings import GeointSettings
from geoint.sim.scenery import Geography
from geoint.sim.simulate import SimulationOptions, simulate
from geoint.sim.synthetic_layers import add_synthetic_layers
from geoint.store.workspace import Workspace


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    region = Region.load(SAMPLE / "region")
    return region, ingested(region, SAMPLE, tmp_path_factory.mktemp("sample") / "ws")


@pytest.fixture(scope="module")
def france_spain(tmp_path_factory):
    folder = tmp_path_factory.mktemp("fr-es")
    region = init_region(folder / "region", ("France", "Spain"))
    add_synthetic_layers(region, 3)
    options = SimulationOptions(seed=3, vehicles=50, days=3)
    simulate(RegionIndex(region), Geography.of(region), options).write(folder / "scenario")
    return region, ingested(region, folder / "scenario", folder / "ws")


def _analysed(
    region: Region, stored: Path, copy: Path, partitions: int, threads: int = 2
) -> dict[str, pl.DataFrame]:
    shutil.copytree(stored, copy)
    settings = GeointSettings(workspace=copy, analysis={"threads": threads})
    report = analyze(Workspace(copy), RegionIndex(region), settings, partitions=partitions)
    assert report["partitions"] == partitions
    return stored_outputs(copy)


@pytest.mark.parametrize("scenario", ["sample", "france_spain"])
def test_partitions_store_the_same_events_and_cell_tables(scenario, request, tmp_path):
    region, stored = request.getfixturevalue(scenario)
    ground = RegionIndex(region)
    # today's engine: every ping at once, then the cells of the whole vehicle-day table
    whole = tmp_path / "whole"
    shutil.copytree(stored, whole)
    settings = GeointSettings(workspace=whole)
    workspace = Workspace(whole)
    pings = workspace.scan_pings().select(ANALYZED_PING_COLUMNS).collect()
    events = detect_events(
        pings,
        ground,
        settings,
        workspace.read_table("declarations"),
        workspace.read_table("watchlist"),
    )
    workspace.write_events(events)
    per_vehicle = pings_vehicle_days(pings, ground.timezone, settings)
    analyze_cells(workspace, ground, settings, per_vehicle, events)
    expected = stored_outputs(whole)
    assert expected["events"].height > 50
    assert expected["events"]["event_type"].n_unique() >= 8

    # partitions analysed one at a time, two and three at once: results in the same order
    for count, threads in ((1, 1), (3, 2), (7, 3)):
        got = _analysed(region, stored, tmp_path / f"p{count}", count, threads)
        assert_same_outputs(got, expected)


def test_rendezvous_across_partitions_are_found(sample, tmp_path):
    """Some rendezvous pair vehicles that 7 partitions put apart: found all the same."""
    region, stored = sample
    settings = GeointSettings(workspace=stored)
    plan = plan_partitions([str(p) for p in Workspace(stored).ping_files()], settings, count=7)
    got = _analysed(region, stored, tmp_path / "p7", 7)["events"]
    meetings = got.filter(pl.col("event_type") == "rendezvous")

    def part(ids: pl.Series) -> list[int]:
        return [
            next(p.index for p in plan.partitions if (p.high is None or v < p.high))
            for v in ids.to_list()
        ]

    apart = [
        a != b
        for a, b in zip(
            part(meetings["vehicle_id"]), part(meetings["other_vehicle_id"]), strict=True
        )
    ]
    assert any(apart), "the sample's rendezvous all fell in one partition: the test proves nothing"


def test_plan_cuts_contiguous_ranges_of_about_equal_pings(sample):
    _, stored = sample
    files = [str(p) for p in Workspace(stored).ping_files()]
    plan = plan_partitions(files, GeointSettings(workspace=stored), count=3)
    sizes = [p.pings for p in plan.partitions]
    assert len(sizes) == 3 and sum(sizes) == plan.pings
    assert max(sizes) < 1.5 * plan.pings / 3
    assert plan.partitions[0].low is None and plan.partitions[-1].high is None
    for before, after in zip(plan.partitions, plan.partitions[1:], strict=False):
        assert before.high == after.low
    from_data = plan_partitions(
        files, GeointSettings(workspace=stored, analysis={"partition_pings": 100_000})
    )
    assert len(from_data.partitions) == -(-plan.pings // 100_000)
