"""The Dask engine: partition tasks on a 2-worker LocalCluster store what the local engine does."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest
from support.partitions import SAMPLE, assert_same_outputs, ingested, stored_outputs

from geoint.errors import GeointError
from geoint.layers import Region, RegionIndex
from geoint.pipeline.analyze import analyze
from geoint.pipeline.distributed import dask_engine
from geoint.settings import GeointSettings
from geoint.store.cell_tables import cells_folder
from geoint.store.workspace import Workspace

pytest.importorskip("dask.distributed")


@pytest.fixture(scope="module")
def stored(tmp_path_factory):
    region = Region.load(SAMPLE / "region")
    return region, ingested(region, SAMPLE, tmp_path_factory.mktemp("dask") / "ws")


def _copy(stored: Path, to: Path) -> tuple[Workspace, GeointSettings]:
    shutil.copytree(stored, to)
    return Workspace(to), GeointSettings(workspace=to)


def test_dask_engine_stores_the_local_engines_events_and_cell_tables(stored, tmp_path):
    region, folder = stored
    ground = RegionIndex(region)
    local, settings = _copy(folder, tmp_path / "local")
    analyze(local, ground, settings, partitions=3)
    remote, settings = _copy(folder, tmp_path / "dask")
    with dask_engine(None, workers=2) as engine:
        report = analyze(
            remote, ground, settings, partitions=3, engine=engine, region=str(region.path)
        )
    assert report["partitions"] == 3 and len(report["partition_seconds"]) == 3
    expected = stored_outputs(local.root)
    assert expected["events"].height > 100
    assert_same_outputs(stored_outputs(remote.root), expected)
    assert not list(cells_folder(remote.root).glob(".vehicle-days-*"))  # temporary parts gone


def test_cli_runs_the_dask_engine(stored, tmp_path):
    region, folder = stored
    workspace, _ = _copy(folder, tmp_path / "ws")
    done = subprocess.run(
        [
            sys.executable, "-m", "geoint", "analyze", "--workspace", str(workspace.root),
            "--region", str(region.path), "--engine", "dask", "--workers", "2",
            "--partitions", "2", "--json",
        ],
        capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["engine"] == "dask" and report["partitions"] == 2
    assert report["events_total"] == workspace.read_events().height > 100


def test_cli_refuses_an_unknown_engine_and_a_scheduler_without_dask(stored, tmp_path):
    region, folder = stored
    base = [sys.executable, "-m", "geoint", "analyze", "--workspace", str(folder)]
    base += ["--region", str(region.path)]
    for extra, words in (
        (["--engine", "spark"], "--engine: expected local or dask"),
        (["--scheduler", "tcp://127.0.0.1:1"], "--scheduler: only with --engine dask"),
    ):
        done = subprocess.run(base + extra, capture_output=True, text=True, check=False)
        assert done.returncode != 0 and "Traceback" not in done.stderr
        (line,) = done.stderr.splitlines()
        assert words in line


def test_workers_read_the_pings_from_an_object_store(stored, tmp_path, monkeypatch):
    """Ping parts on a local S3-compatible server (moto), none left on the local disk."""
    s3fs = pytest.importorskip("s3fs")
    server_module = pytest.importorskip("moto.server")
    region, folder = stored
    ground = RegionIndex(region)
    local, settings = _copy(folder, tmp_path / "local")
    analyze(local, ground, settings, partitions=2)
    server = server_module.ThreadedMotoServer(ip_address="127.0.0.1", port=0)
    server.start()
    try:
        host, port = server.get_host_and_port()
        endpoint = f"http://{host}:{port}"
        for name, value in (
            ("AWS_ENDPOINT_URL", endpoint), ("AWS_ALLOW_HTTP", "true"),
            ("AWS_ACCESS_KEY_ID", "test"), ("AWS_SECRET_ACCESS_KEY", "test"),
            ("AWS_REGION", "us-east-1"),
        ):  # fmt: skip
            monkeypatch.setenv(name, value)  # read by the workers started below too
        remote, settings = _copy(folder, tmp_path / "remote")
        pings = remote.root / "pings"
        store = s3fs.S3FileSystem(client_kwargs={"endpoint_url": endpoint})
        store.mkdir("geoint")
        url = "s3://geoint/ws/pings"
        with pytest.raises(GeointError, match="ping parts are missing there"):
            analyze(remote, ground, settings, pings_url=url)
        store.put(str(pings), "geoint/ws/pings", recursive=True)
        shutil.rmtree(pings)  # only the object store holds the pings now
        with dask_engine(None, workers=2) as engine:
            report = analyze(
                remote, ground, settings, partitions=2, engine=engine,
                region=str(region.path), pings_url=url,
            )  # fmt: skip
    finally:
        server.stop()
    assert report["pings"] == local.scan_pings().select(pl.len()).collect().item()
    assert_same_outputs(stored_outputs(remote.root), stored_outputs(local.root))
