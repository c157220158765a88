"""The field app's server side on a real `geoint serve` (127.0.0.1): vocabularies, records
stored once per client id whatever the resends and races, dry runs, field errors, place search,
photos (decoded, stripped of their GPS, scoped like their seizure) and the concealment library.
"""

from __future__ import annotations

import io
import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx2
import pytest
import sqlalchemy as sa
from PIL import ExifTags, Image
from support.api import SOUTH, bearer, build_region, create_key, start_server, stop_server

from geoint.store.tables import audit_log, seizure_photos, seizures
from geoint.store.workspace import Workspace
from geoint.vocabularies import SHIPPED

MIB = 2**20
PHOTO_LIMIT = 2 * MIB
PIXEL_LIMIT = 4_000_000
HOSTILE = '<img src=x onerror="window.__xss=1"><script>window.__xss=2</script>'


@pytest.fixture(scope="module")
def served(tmp_path_factory) -> Iterator[tuple[str, dict[str, str], Path]]:
    root = tmp_path_factory.mktemp("field-api")
    region, ws = build_region(root / "region"), root / "ws"
    keys = {
        "admin": create_key(ws, "admin"),
        "south": create_key(ws, "unit", ("south",)),
        "north": create_key(ws, "unit", ("north",)),
    }
    env = {
        **os.environ,
        "GEOINT_API__MAX_PHOTO_BYTES": str(PHOTO_LIMIT),
        "GEOINT_API__MAX_PHOTO_PIXELS": str(PIXEL_LIMIT),
    }
    running = start_server(ws, region, root / "server.log", env=env)
    try:
        yield running.url, keys, ws
    finally:
        stop_server(running)


def _post(url: str, key: str, records: list[dict], **params: str) -> httpx2.Response:
    return httpx2.post(
        f"{url}/api/v1/seizures", json=records, params=params, headers=bearer(key), timeout=60
    )


def _stored(ws: Path, where: sa.ColumnElement[bool]) -> list[dict]:
    store = Workspace(ws)
    try:
        with store.engine.connect() as conn:
            return [dict(r) for r in conn.execute(sa.select(seizures).where(where)).mappings()]
    finally:
        store.engine.dispose()


def _record(client_id: str, **fields: object) -> dict:
    return {
        "client_id": client_id,
        "date": "2026-09-14T10:00:00Z",
        "lat": SOUTH[0],
        "lon": SOUTH[1],
        "commodity": "fuel",
        "quantity": 40,
        "unit": "litres",
        "concealment": "Réservoir de carburant",
        "detection_method": "sniffer dog",
        "vehicle_type": "pick-up",
        "description": "jerrycans",
        **fields,
    }


def test_vocabularies_in_english_and_french(served):
    url, keys, _ = served
    english = httpx2.get(f"{url}/api/v1/vocabularies", headers=bearer(keys["south"])).json()
    assert set(english) == {
        "commodity", "transport_mode", "concealment", "detection_method", "direction", "unit",
        "vehicle_type",
    }  # fmt: skip
    codes = [term["code"] for term in english["commodity"]]
    assert codes == list(SHIPPED.codes("commodity")) and "ipr_counterfeit" in codes
    assert {"code": "fuel_tank", "label": "Fuel tank"} in english["concealment"]
    french = httpx2.get(
        f"{url}/api/v1/vocabularies",
        headers={**bearer(keys["south"]), "Accept-Language": "fr-FR,fr;q=0.9,en;q=0.5"},
    )
    assert french.headers["content-language"] == "fr"
    assert {"code": "dog", "label": "Chien détecteur"} in french.json()["detection_method"]
    chosen = httpx2.get(f"{url}/api/v1/vocabularies?lang=en", headers=bearer(keys["south"]))
    assert chosen.headers["content-language"] == "en"
    bad = httpx2.get(f"{url}/api/v1/vocabularies?lang=de", headers=bearer(keys["south"]))
    assert bad.status_code == 400


def test_a_record_sent_five_times_and_twice_at_once_is_stored_once(served):
    url, keys, ws = served
    record = _record("5f0e2a4c-0000-4000-8000-000000000001")
    answers = [_post(url, keys["south"], [record]).json() for _ in range(5)]
    statuses = [a["records"][0]["status"] for a in answers]
    assert statuses == ["stored"] + ["duplicate"] * 4
    assert len({a["records"][0]["seizure_id"] for a in answers}) == 1
    rows = _stored(ws, seizures.c.client_id == record["client_id"])
    assert len(rows) == 1 and rows[0]["seizure_id"] == answers[0]["records"][0]["seizure_id"]
    assert rows[0]["concealment"] == "fuel_tank" and rows[0]["detection_method"] == "dog"
    assert rows[0]["vehicle_type"] == "pickup"

    # two resends racing each other, with different bodies (the ledger cannot tell them apart)
    racing = _record("5f0e2a4c-0000-4000-8000-000000000002")
    bodies = [[racing], [{**racing, "description": "jerrycans (resent)"}]]
    results: list[dict] = []
    start = threading.Barrier(2)

    def send(body: list[dict]) -> None:
        start.wait()
        results.append(_post(url, keys["south"], body).json())

    threads = [threading.Thread(target=send, args=(body,)) for body in bodies]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert sorted(r["records"][0]["status"] for r in results) == ["duplicate", "stored"]
    assert len(_stored(ws, seizures.c.client_id == racing["client_id"])) == 1
    # the same client id in a CSV body is a duplicate too; the answer names the stored seizure
    csv = f"client_id,date,lat,lon\n{racing['client_id']},2026-09-14,{SOUTH[0]},{SOUTH[1]}\n"
    again = httpx2.post(
        f"{url}/api/v1/seizures",
        content=csv,
        headers={**bearer(keys["admin"]), "Content-Type": "text/csv"},
    ).json()
    assert again["records"][0]["status"] == "duplicate"
    assert again["records"][0]["seizure_id"] == results[0]["records"][0]["seizure_id"]


def test_the_database_refuses_a_second_row_with_a_client_id(served):
    _, _, ws = served
    row = _stored(ws, seizures.c.client_id == "5f0e2a4c-0000-4000-8000-000000000001")[0]
    store = Workspace(ws)
    try:
        with pytest.raises(sa.exc.IntegrityError), store.engine.begin() as conn:
            conn.execute(seizures.insert().values(**{**row, "seizure_id": "OTHER-ID"}))
    finally:
        store.engine.dispose()


def test_a_dry_run_stores_nothing_and_answers_the_same_shape(served):
    url, keys, ws = served
    record = _record("dry-run-1")
    answer = _post(url, keys["south"], [record], dry_run="true")
    assert answer.status_code == 200
    body = answer.json()
    assert body["dry_run"] is True and body["rows"] == 1
    assert body["records"] == [
        {
            "row": 1,
            "client_id": "dry-run-1",
            "seizure_id": body["records"][0]["seizure_id"],
            "status": "stored",
            "errors": [],
        }
    ]
    assert _stored(ws, seizures.c.client_id == "dry-run-1") == []
    assert _post(url, keys["south"], [record]).json()["records"][0]["status"] == "stored"


def test_bad_fields_are_refused_each_named_and_hostile_text_comes_back_as_data(served):
    url, keys, ws = served
    bad = {
        "client_id": "bad-1",
        "date": "2099-01-01",
        "place": "Nowhere-sur-Mer",
        "quantity": "abc",
        "concealment": HOSTILE,
        "description": HOSTILE,
    }
    for params in ({"dry_run": "true"}, {}):
        answer = _post(url, keys["south"], [bad], **params)
        assert answer.status_code == 200
        record = answer.json()["records"][0]
        assert record["status"] == "refused"
        reasons = {e["field"]: e["reason"] for e in record["errors"]}
        assert reasons == {
            "date": "time_in_future",
            "place": "unknown_place",
            "quantity": "unparsable_number",
            "concealment": "invalid_value",
        }
        detail = next(e["detail"] for e in record["errors"] if e["field"] == "concealment")
        assert detail.endswith(f"got {HOSTILE}") and "fuel_tank" in detail
    assert _stored(ws, seizures.c.client_id == "bad-1") == []


def test_place_search_is_what_validation_accepts(served):
    url, keys, _ = served
    headers = bearer(keys["south"])
    found = httpx2.get(f"{url}/api/v1/places", params={"q": "pôrto-n"}, headers=headers).json()
    assert found["places"][0] == {
        "name": "Porto-Novo", "country": "Benin", "lat": pytest.approx(6.4833, abs=1e-3),
        "lon": pytest.approx(2.6166, abs=1e-3),
    }  # fmt: skip
    some = httpx2.get(f"{url}/api/v1/places", params={"q": "ko", "limit": 5}, headers=headers)
    names = [p["name"] for p in some.json()["places"]]
    assert len(names) == 5
    records = [_record(f"place-{i}", place=name, lat="", lon="") for i, name in enumerate(names)]
    judged = _post(url, keys["south"], records, dry_run="true").json()["records"]
    assert [r["status"] for r in judged] == ["stored"] * 5
    whole = httpx2.get(f"{url}/api/v1/places", headers={**headers, "Accept-Encoding": "gzip"})
    every = whole.json()["places"]
    assert len(every) > 5000 and whole.headers["content-encoding"] == "gzip"
    assert {p["name"] for p in every} >= set(names)
    assert "Nowhere-sur-Mer" not in {p["name"] for p in every}


# ------------------------------------------------------------------------------ photos
def _jpeg_with_gps(lat: float, lon: float) -> bytes:
    """A 640 x 480 JPEG taken rotated (orientation 6) with a real EXIF GPS block."""
    image = Image.new("RGB", (640, 480), (180, 40, 40))
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = 6
    exif[ExifTags.Base.Make] = "FieldCam"
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    gps[ExifTags.GPS.GPSLatitudeRef] = "N"
    gps[ExifTags.GPS.GPSLatitude] = (int(lat), int(lat % 1 * 60), 0.0)
    gps[ExifTags.GPS.GPSLongitudeRef] = "E"
    gps[ExifTags.GPS.GPSLongitude] = (int(lon), int(lon % 1 * 60), 0.0)
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", exif=exif)
    return buffer.getvalue()


def _image(fmt: str, size: tuple[int, int] = (300, 200)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, (20, 90, 160)).save(buffer, fmt)
    return buffer.getvalue()


def _upload(url: str, key: str, seizure_id: str, name: str, content: bytes, mime: str, **data):
    return httpx2.post(
        f"{url}/api/v1/seizures/{seizure_id}/photos",
        files={"file": (name, content, mime)},
        data=data,
        headers=bearer(key),
        timeout=60,
    )


@pytest.fixture(scope="module")
def seizure_at_place(served) -> str:
    """A south seizure positioned by a place name (so a photo's GPS position is offered)."""
    url, keys, _ = served
    record = _record("photo-seizure", lat="", lon="", place="Porto-Novo", description=HOSTILE,
                     concealment="false compartment")  # fmt: skip
    answer = _post(url, keys["south"], [record]).json()["records"][0]
    assert answer["status"] == "stored", answer
    return answer["seizure_id"]


def test_a_jpeg_loses_its_gps_is_turned_upright_and_offers_its_position(served, seizure_at_place):
    url, keys, ws = served
    content = _jpeg_with_gps(6.5, 2.6)
    assert Image.open(io.BytesIO(content)).getexif().get_ifd(ExifTags.IFD.GPSInfo)
    answer = _upload(url, keys["south"], seizure_at_place, "scene.jpg", content, "image/jpeg",
                     client_id="photo-1")  # fmt: skip
    assert answer.status_code == 201, answer.text
    photo = answer.json()
    assert set(photo) == {
        "id", "seizure_id", "sha256", "width", "height", "media_type", "exif_position",
        "thumbnail",
    }  # fmt: skip
    assert (photo["width"], photo["height"], photo["media_type"]) == (480, 640, "image/jpeg")
    assert photo["exif_position"] == {"lat": pytest.approx(6.5), "lon": pytest.approx(2.6)}
    stored = httpx2.get(f"{url}/api/v1/photos/{photo['id']}", headers=bearer(keys["south"]))
    assert stored.status_code == 200 and stored.headers["content-type"] == "image/jpeg"
    assert "immutable" in stored.headers["cache-control"]
    read_back = Image.open(io.BytesIO(stored.content))
    assert read_back.size == (480, 640)
    exif = read_back.getexif()
    assert not exif.get_ifd(ExifTags.IFD.GPSInfo) and ExifTags.Base.Make not in exif
    assert (ws / "photos" / photo["sha256"][:2] / f"{photo['sha256']}.jpg").is_file()
    thumb = httpx2.get(f"{url}{photo['thumbnail']}", headers=bearer(keys["south"]))
    assert thumb.status_code == 200 and max(Image.open(io.BytesIO(thumb.content)).size) <= 320
    # a resend (same client id) is the same photo, stored once
    again = _upload(url, keys["south"], seizure_at_place, "scene.jpg", content, "image/jpeg",
                    client_id="photo-1")  # fmt: skip
    assert again.status_code == 200 and again.json()["id"] == photo["id"]
    one = httpx2.get(f"{url}/api/v1/seizures/{seizure_at_place}", headers=bearer(keys["south"]))
    assert [p["id"] for p in one.json()["photos"]] == [photo["id"]]
    store = Workspace(ws)
    try:
        with store.engine.connect() as conn:
            rows = conn.execute(sa.select(seizure_photos)).mappings().all()
    finally:
        store.engine.dispose()
    assert [(r["client_id"], r["uploaded_by"]) for r in rows if r["id"] == photo["id"]] == [
        ("photo-1", keys["south"].split("_")[1])
    ]


@pytest.mark.parametrize(("fmt", "mime"), [("PNG", "image/png"), ("WEBP", "image/webp")])
def test_png_and_webp_are_accepted_by_their_content(served, seizure_at_place, fmt, mime):
    url, keys, _ = served
    # the declared type and name lie: the content decides
    answer = _upload(url, keys["south"], seizure_at_place, "x.bin", _image(fmt), "text/plain")
    assert answer.status_code == 201, answer.text
    photo = answer.json()
    assert (photo["media_type"], photo["width"], photo["exif_position"]) == (mime, 300, None)
    got = httpx2.get(f"{url}/api/v1/photos/{photo['id']}", headers=bearer(keys["south"]))
    assert got.headers["content-type"] == mime and Image.open(io.BytesIO(got.content)).format == fmt


def test_a_text_file_named_jpg_is_415_naming_the_field(served, seizure_at_place):
    url, keys, _ = served
    answer = _upload(url, keys["south"], seizure_at_place, "photo.jpg", b"not an image at all\n",
                     "image/jpeg")  # fmt: skip
    assert answer.status_code == 415
    problem = answer.json()
    assert answer.headers["content-type"] == "application/problem+json"
    assert problem["errors"][0]["field"] == "file"
    gif = io.BytesIO()
    Image.new("RGB", (8, 8)).save(gif, "GIF")
    refused = _upload(url, keys["south"], seizure_at_place, "a.gif", gif.getvalue(), "image/gif")
    assert refused.status_code == 415 and "GIF" in refused.json()["detail"]
    json_body = httpx2.post(f"{url}/api/v1/seizures/{seizure_at_place}/photos", json={},
                            headers=bearer(keys["south"]))  # fmt: skip
    assert json_body.status_code == 415 and json_body.json()["errors"][0]["field"] == "file"


def _status_before_the_body(url: str, head: str, wait_s: float = 20.0) -> str:
    """The status line a server sends after only the head and 1 KiB of a body."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=wait_s) as sock:
        sock.sendall(head.encode() + b"\r\n" + b"\xff" * 1024)
        started = time.monotonic()
        answer = sock.recv(4096).decode("latin-1")
    assert time.monotonic() - started < wait_s
    return answer.split("\r\n", 1)[0]


def test_an_oversized_photo_is_413_before_its_body_is_read(served, seizure_at_place):
    url, keys, _ = served
    head = (
        f"POST /api/v1/seizures/{seizure_at_place}/photos HTTP/1.1\r\nHost: x\r\n"
        f"Authorization: Bearer {keys['south']}\r\n"
        "Content-Type: multipart/form-data; boundary=b\r\n"
        f"Content-Length: {PHOTO_LIMIT + 1}\r\n"
    )
    assert _status_before_the_body(url, head).startswith("HTTP/1.1 413")

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted as it streams
        yield b"--b\r\nContent-Disposition: form-data; name=file; filename=a.jpg\r\n\r\n"
        for _ in range(4):
            yield b"\xff" * MIB

    streamed = httpx2.post(
        f"{url}/api/v1/seizures/{seizure_at_place}/photos",
        content=chunks(),
        headers={**bearer(keys["south"]), "Content-Type": "multipart/form-data; boundary=b"},
        timeout=60,
    )
    assert streamed.status_code == 413
    # a small file of too many pixels is refused before decoding (a decompression bomb)
    big = _image("PNG", (2100, 2000))
    assert len(big) < PHOTO_LIMIT
    bomb = _upload(url, keys["admin"], seizure_at_place, "big.png", big, "image/png")
    assert bomb.status_code == 413 and bomb.json()["errors"][0]["field"] == "file"


def test_a_unit_sees_only_its_sectors_photos_and_concealments(served, seizure_at_place):
    url, keys, _ = served
    photo = _upload(url, keys["admin"], seizure_at_place, "p.png", _image("PNG", (50, 40)),
                    "image/png").json()  # fmt: skip
    south, north, admin = (bearer(keys[k]) for k in ("south", "north", "admin"))
    for path in (f"/api/v1/photos/{photo['id']}", f"/api/v1/photos/{photo['id']}/thumbnail",
                 f"/api/v1/seizures/{seizure_at_place}"):  # fmt: skip
        assert httpx2.get(f"{url}{path}", headers=south).status_code == 200
        assert httpx2.get(f"{url}{path}", headers=north).status_code == 404
    assert httpx2.get(f"{url}/api/v1/photos/999999", headers=admin).status_code == 404
    refused = _upload(url, keys["north"], seizure_at_place, "p.png", _image("PNG"), "image/png")
    assert refused.status_code == 404
    assert httpx2.get(f"{url}/api/v1/concealments", headers=north).json()["concealments"] == []
    library = httpx2.get(f"{url}/api/v1/concealments", headers=south).json()
    assert [c["seizure_id"] for c in library["concealments"]] == [seizure_at_place]
    entry = library["concealments"][0]
    assert entry["description"] == HOSTILE  # data, as given (JSON escapes < > & for HTML)
    assert photo["id"] in [p["id"] for p in entry["photos"]]
    assert all(p["thumbnail"] == f"/api/v1/photos/{p['id']}/thumbnail" for p in entry["photos"])


def test_the_library_filters_in_sql(served, seizure_at_place):
    url, keys, _ = served
    headers = bearer(keys["admin"])

    def ids(**params: str) -> list[str]:
        answer = httpx2.get(f"{url}/api/v1/concealments", params=params, headers=headers)
        assert answer.status_code == 200, answer.text
        return [c["seizure_id"] for c in answer.json()["concealments"]]

    assert ids(concealment="Compartiment aménagé") == [seizure_at_place]
    assert ids(concealment="fuel_tank") == []
    assert ids(commodity="fuel", vehicle_type="pick-up") == [seizure_at_place]
    assert ids(q="onerror") == [seizure_at_place]
    assert ids(q="nothing like it") == []
    unknown = httpx2.get(f"{url}/api/v1/concealments?colour=red", headers=headers)
    assert unknown.status_code == 400 and "colour" in unknown.json()["detail"]
    bad = httpx2.get(f"{url}/api/v1/concealments?concealment=teapot", headers=headers)
    assert bad.status_code == 400


# ------------------------------------------------------------------------------ placing
# last: its photos would join the library the tests above count
def _place(url: str, key: str, seizure_id: str, body: dict) -> httpx2.Response:
    return httpx2.post(f"{url}/api/v1/seizures/{seizure_id}/position", json=body,
                       headers=bearer(key), timeout=60)  # fmt: skip


def test_a_seizure_given_by_place_takes_its_photos_position_once(served, seizure_at_place):
    url, keys, ws = served
    record = _record("placed-by-photo", lat="", lon="", place="Porto-Novo")
    seizure_id = _post(url, keys["south"], [record]).json()["records"][0]["seizure_id"]
    photo = _upload(url, keys["south"], seizure_id, "scene.jpg", _jpeg_with_gps(6.5, 2.6),
                    "image/jpeg").json()  # fmt: skip
    other = _upload(url, keys["south"], seizure_at_place, "other.jpg", _jpeg_with_gps(6.6, 2.5),
                    "image/jpeg").json()  # fmt: skip
    plain = _upload(url, keys["south"], seizure_id, "x.png", _image("PNG", (64, 48)), "image/png")
    by_photo = {"photo_id": photo["id"]}
    # another sector's unit does not see it; bad bodies name their field
    assert _place(url, keys["north"], seizure_id, by_photo).status_code == 404
    for body, field in [
        ({"photo_id": other["id"]}, "photo_id"),
        ({"photo_id": plain.json()["id"]}, "photo_id"),
        ({"lat": 6.5, "lon": 2.6, "source": "photo_exif"}, "source"),
        ({"lat": 6.5, "lon": 2.6}, ""),
        ({**by_photo, "lat": 6.5, "lon": 2.6, "source": "map"}, ""),
        ({"lat": 91, "lon": 2.6, "source": "map"}, "lat"),
    ]:
        refused = _place(url, keys["south"], seizure_id, body)
        assert refused.status_code == 422, (body, refused.text)
        assert field in refused.text
    # a unit may not move its seizure out of its sectors
    north = {"lat": 10.0, "lon": 3.0, "source": "map"}
    outside = _place(url, keys["south"], seizure_id, north)
    assert outside.status_code == 403 and "outside your sectors" in outside.json()["detail"]
    placed = _place(url, keys["south"], seizure_id, by_photo)
    assert placed.status_code == 200, placed.text
    answer = placed.json()
    assert (answer["lat"], answer["lon"]) == (pytest.approx(6.5), pytest.approx(2.6))
    assert (answer["position_precision"], answer["position_source"]) == ("exact", "photo_exif")
    assert answer["place"] == "Porto-Novo"
    # exact now: no second move, no more offer
    assert _place(url, keys["south"], seizure_id, by_photo).status_code == 409
    assert _place(url, keys["admin"], seizure_id, north).status_code == 409
    one = httpx2.get(f"{url}/api/v1/seizures/{seizure_id}", headers=bearer(keys["south"])).json()
    assert [p["exif_position"] for p in one["photos"]] == [None, None]
    store = Workspace(ws)
    try:
        with store.engine.connect() as conn:
            summaries = conn.execute(
                sa.select(audit_log.c.status, audit_log.c.summary).where(
                    audit_log.c.path == f"/api/v1/seizures/{seizure_id}/position"
                )
            ).all()
    finally:
        store.engine.dispose()
    assert (200, f"seizure {seizure_id} placed at 6.50000, 2.60000 (photo_exif)") in summaries
