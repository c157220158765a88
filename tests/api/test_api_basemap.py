"""A post's own basemap (``geoint serve --basemap``): MBTiles and PMTiles tiles behind auth."""

import gzip
import io
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from PIL import Image
from pmtiles.tile import Compression, TileType, zxy_to_tileid
from pmtiles.writer import write
from support.api import api_settings, bearer, build_region, create_key

from geoint.api.app import create_app
from geoint.errors import GeointError
from geoint.serve.basemap import TileSource

TILES = {(0, 0, 0): (200, 30, 30), (1, 1, 0): (30, 200, 30)}  # XYZ -> colour


def _png(colour: tuple[int, int, int]) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (256, 256), colour).save(buffer, format="PNG")
    return buffer.getvalue()


def mbtiles(path: Path, fmt: str = "png") -> Path:
    """An MBTiles file of `TILES` (rows in TMS order, as the spec stores them)."""
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE metadata (name TEXT, value TEXT)")
    db.execute("CREATE TABLE tiles (zoom_level INT, tile_column INT, tile_row INT, tile_data BLOB)")
    db.executemany("INSERT INTO metadata VALUES (?, ?)",
                   [("name", "Post <b>map</b>"), ("format", fmt), ("minzoom", "0"),
                    ("maxzoom", "1"), ("attribution", "test")])  # fmt: skip
    for (z, x, y), colour in TILES.items():
        db.execute("INSERT INTO tiles VALUES (?, ?, ?, ?)", (z, x, 2**z - 1 - y, _png(colour)))
    db.commit()
    db.close()
    return path


def pmtiles(path: Path) -> Path:
    """A PMTiles file of `TILES`."""
    with write(str(path)) as writer:
        for (z, x, y), colour in sorted(TILES.items(), key=lambda t: zxy_to_tileid(*t[0])):
            writer.write_tile(zxy_to_tileid(z, x, y), _png(colour))
        header = {
            "tile_type": TileType.PNG, "tile_compression": Compression.NONE,
            "min_zoom": 0, "max_zoom": 1, "min_lon_e7": -1800000000, "min_lat_e7": -850000000,
            "max_lon_e7": 1800000000, "max_lat_e7": 850000000, "center_zoom": 0,
            "center_lon_e7": 0, "center_lat_e7": 0,
        }  # fmt: skip
        writer.finalize(header, {"name": "post pmtiles", "attribution": "test"})
    return path


@pytest.fixture(scope="module")
def region(tmp_path_factory) -> Path:
    return build_region(tmp_path_factory.mktemp("basemap") / "region")


@pytest.mark.parametrize("build", [mbtiles, pmtiles], ids=["mbtiles", "pmtiles"])
def test_the_tiles_of_a_post_basemap_are_served_behind_auth(build, region, tmp_path):
    source = build(tmp_path / f"post.{build.__name__}")
    workspace = tmp_path / "ws"
    key = create_key(workspace, "unit", ("south",))
    settings = api_settings(workspace, region).model_copy(update={"basemap": source})
    with TestClient(create_app(settings)) as client:
        for (z, x, y), colour in TILES.items():
            response = client.get(f"/basemap/{z}/{x}/{y}.png", headers=bearer(key))
            assert response.status_code == 200 and response.headers["content-type"] == "image/png"
            assert Image.open(io.BytesIO(response.content)).getpixel((5, 5)) == colour
        assert client.get("/basemap/1/0/0.png", headers=bearer(key)).status_code == 204
        assert client.get("/basemap/5/0/0.png", headers=bearer(key)).status_code == 204
        assert client.get("/basemap/0/0/0.jpg", headers=bearer(key)).status_code == 404
        assert client.get("/basemap/0/0/0.png").status_code == 401
        page = client.get("/map", headers=bearer(key)).text
        assert "/basemap/{z}/{x}/{y}.png" in page and "Local basemap" in page
        assert "<b>map</b>" not in page  # the file's name is escaped


def test_gzipped_vector_tiles_keep_their_encoding(region, tmp_path):
    source = tmp_path / "vector.mbtiles"
    mbtiles(source, "pbf")
    db = sqlite3.connect(source)
    db.execute("UPDATE tiles SET tile_data = ? WHERE zoom_level = 0", (gzip.compress(b"mvt"),))
    db.commit()
    db.close()
    tiles = TileSource(source)
    data = tiles.tile(0, 0, 0)
    assert tiles.info.format == "pbf" and tiles.encoding(data) == "gzip"
    tiles.close()


def test_a_file_that_is_no_tile_archive_is_refused_in_one_line(region, tmp_path):
    bad = tmp_path / "notes.txt"
    bad.write_text("not tiles", encoding="utf-8")
    with pytest.raises(GeointError, match="expected an MBTiles or PMTiles file"):
        TileSource(bad)
    command = [sys.executable, "-m", "geoint", "serve", "--region", str(region), "--workspace",
               str(tmp_path / "ws"), "--basemap", str(bad)]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert result.stderr.strip().count("\n") == 0 and "notes.txt" in result.stderr
