"""The field app in real headless Chromium at a phone's viewport (390×844, touch), served by a
real `geoint serve` on 127.0.0.1: the queue offline and back online, exactly once through a
flaky network, errors at their fields, a unit's inbox and its audited acknowledgement, alerts
arriving over SSE, hostile text shown as text, French, and no request leaving 127.0.0.1.
"""

from __future__ import annotations

import io
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx2
import polars as pl
import pytest
from PIL import ExifTags, Image
from support.alerts import events
from support.api import NORTH, SOUTH, bearer, build_region, create_key, start_server, stop_server
from support.browser import chromium

from geoint.alerts.raising import raise_alerts
from geoint.layers import Region, RegionIndex
from geoint.settings import GeointSettings
from geoint.store.photos import PhotoStore
from geoint.store.workspace import Workspace

PHONE = {
    "viewport": {"width": 390, "height": 844},
    "is_mobile": True,
    "has_touch": True,
    "device_scale_factor": 2,
}
WAIT_MS = 60_000  # a loaded machine: wait for conditions, generously
# Sets a flag (or opens a dialog) if it ever runs as HTML; the app must show it as text.
HOSTILE = '<script>window.__xss=1</script><img src=x onerror="window.__xss=2;alert(1)">'
T0 = datetime(2026, 9, 14, 1, tzinfo=UTC)


def _raise(ws, region, *rows: dict) -> None:
    store = Workspace(ws)
    try:
        found = events(*rows)
        raise_alerts(store, RegionIndex(Region.load(region)), GeointSettings(workspace=ws), found)
    finally:
        store.engine.dispose()


@pytest.fixture(scope="module")
def served(tmp_path_factory) -> Iterator[dict[str, Any]]:
    """A server with alerts in both sectors; keys of an admin, an analyst and a south unit."""
    root = tmp_path_factory.mktemp("field_app")
    region, ws = build_region(root / "region"), root / "ws"
    keys = {role: create_key(ws, role) for role in ("admin", "analyst")}
    keys["unit"] = create_key(ws, "unit", ("south",))
    _raise(
        ws,
        region,
        {"event_id": "E-s", "vehicle_id": HOSTILE, "lat": SOUTH[0], "lon": SOUTH[1]},
        {"event_id": "E-n", "vehicle_id": "V-NORTH", "lat": NORTH[0], "lon": NORTH[1]},
    )
    server = start_server(ws, region, root / "server.log")
    try:
        yield {"url": server.url, "ws": ws, "region": region, "keys": keys}
    finally:
        stop_server(server)


@pytest.fixture(scope="module")
def browser():
    with chromium() as running:
        yield running


@contextmanager
def phone(browser, served: dict[str, Any], role: str, path: str = "/field/", **options):
    """A signed-in phone's page on `path`; fails if any request left the server's origin, a
    dialog opened or a script of the data ran."""
    context = browser.new_context(**PHONE, **options)
    requested: list[str] = []
    dialogs: list[str] = []
    context.on("request", lambda r: requested.append(r.url))
    page = context.new_page()
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    try:
        page.goto(f"{served['url']}/login?next={path}")
        page.fill("input[name=key]", served["keys"][role])
        with page.expect_navigation(wait_until="load"):
            page.click("[type=submit]")
        page.wait_for_selector("body[data-ready=true]", state="attached", timeout=WAIT_MS)
        yield page, context
        assert page.evaluate("window.__xss") is None
    finally:
        context.close()
    assert dialogs == []
    foreign = [u for u in requested if not u.startswith((served["url"], "data:", "blob:"))]
    assert foreign == []


def fill_seizure(page, **values: str) -> None:
    """Fill the form: a select takes the value's code, a free-text field the value."""
    for name, value in values.items():
        selector = "#f-where" if name == "where" else f"#f-{name}"
        if page.eval_on_selector(selector, "e => e.tagName") == "SELECT":
            page.select_option(selector, value)
        else:
            page.fill(selector, value)


def stored(served: dict[str, Any], description: str) -> tuple[int, int]:
    """How many seizures the workspace holds with `description`, and how many photos they have."""
    store = Workspace(served["ws"])
    try:
        rows = store.read_table("seizures").filter(pl.col("description") == description)
        photos = PhotoStore(store).of_seizures(rows["seizure_id"].to_list())
    finally:
        store.engine.dispose()
    return rows.height, sum(len(found) for found in photos.values())


def camera_photo(colour: str = "olive") -> dict[str, Any]:
    """A small JPEG as the phone's camera input hands it over."""
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), colour).save(buffer, "JPEG")
    return {"name": "boot.jpg", "mimeType": "image/jpeg", "buffer": buffer.getvalue()}


def wait_for_status(page, status: str, text: str) -> None:
    """Wait until the queue shows the record holding `text` as `status`."""
    page.wait_for_function(
        "([status, text]) => [...document.querySelectorAll('#queue .record')].some("
        "c => c.classList.contains(status) && c.textContent.includes(text))",
        arg=[status, text],
        timeout=WAIT_MS,
    )


def test_a_seizure_saved_offline_is_queued_kept_and_sent_once(browser, served):
    marker = f"offline {uuid.uuid4()}"
    with phone(browser, served, "analyst") as (page, context):
        # the worker controls the page and keeps it
        page.wait_for_function("navigator.serviceWorker.controller !== null", timeout=WAIT_MS)
        kept_urls = ("location.pathname + location.search", "'/api/v1/vocabularies?lang=en'",
                     "'/api/v1/inbox?lang=en'")  # fmt: skip
        for kept in kept_urls:
            page.wait_for_function(f"caches.match({kept}).then(Boolean)", timeout=WAIT_MS)
        context.set_offline(True)
        page.wait_for_function("!navigator.onLine")
        fill_seizure(page, where="6.5, 2.6", commodity="fuel", quantity="40", description=marker)
        page.set_input_files("#f-photos", camera_photo())
        page.click("#save")
        page.wait_for_selector("#saved:has-text('F-')", timeout=WAIT_MS)
        page.reload()  # offline: the service worker answers
        page.wait_for_selector("body[data-ready=true]", state="attached", timeout=WAIT_MS)
        # the vocabularies kept by the worker still fill the selects
        assert page.eval_on_selector("#f-commodity", "e => e.options.length") > 5
        page.click("#tab-queue")
        wait_for_status(page, "queued", marker)
        assert "photo queued" in page.locator("#queue .record.queued").inner_text()
        assert page.locator("#net").inner_text().startswith("offline")
        page.click("#tab-inbox")  # the inbox as last loaded, kept by the worker
        page.wait_for_selector("#inbox .alert", timeout=WAIT_MS)
        assert page.locator("#inbox-state").inner_text() == "offline: alerts as last loaded"
        page.click("#tab-queue")
        assert stored(served, marker) == (0, 0)
        context.set_offline(False)
        wait_for_status(page, "sent", marker)
        page.wait_for_selector("#queue .photo.sent", state="attached", timeout=WAIT_MS)
    assert stored(served, marker) == (1, 1)


def test_a_flaky_network_and_a_resend_still_store_once(browser, served):
    marker = f"flaky {uuid.uuid4()}"
    answered: list[int] = []

    def store_then_fail(route) -> None:
        url = route.request.url
        kind = "photo" if url.endswith("/photos") else "record"
        if route.request.method == "POST" and "dry_run" not in url and kind not in answered:
            route.fetch()  # the server stored it...
            answered.append(kind)
            route.abort("connectionreset")  # ...and the phone never heard back
        else:
            route.continue_()

    # page.route sees no request a service worker makes: without one, as on a first visit
    with phone(browser, served, "analyst", service_workers="block") as (page, _context):
        page.route("**/api/v1/seizures?*", store_then_fail)  # dry runs pass
        page.route("**/api/v1/seizures", store_then_fail)
        page.route("**/api/v1/seizures/*/photos", store_then_fail)
        fill_seizure(page, where="6.5, 2.6", commodity="fuel", description=marker)
        page.set_input_files("#f-photos", camera_photo("navy"))
        page.click("#save")
        page.click("#tab-queue")
        wait_for_status(page, "sent", marker)
        page.wait_for_selector("#queue .photo.sent", state="attached", timeout=WAIT_MS)
        assert answered == ["record", "photo"]
        # the same record sent again (as after a crash before its answer was kept)
        page.evaluate(
            """async () => {
                const queue = await import("/static/web/field/queue.js");
                for (const item of await queue.all("records")) {
                    item.status = "queued";
                    await queue.put("records", item);
                }
                window.dispatchEvent(new Event("online"));
            }"""
        )
        wait_for_status(page, "sent", marker)
        page.wait_for_function(
            "document.querySelectorAll('#queue .record.sent').length === 1", timeout=WAIT_MS
        )
    assert stored(served, marker) == (1, 1)


def test_a_photo_gps_position_is_offered_and_taken_for_a_record_given_by_place(browser, served):
    marker = f"by place {uuid.uuid4()}"
    image = Image.new("RGB", (80, 60), "teal")
    exif = Image.Exif()
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    gps[ExifTags.GPS.GPSLatitudeRef], gps[ExifTags.GPS.GPSLatitude] = "N", (6, 30, 0.0)
    gps[ExifTags.GPS.GPSLongitudeRef], gps[ExifTags.GPS.GPSLongitude] = "E", (2, 36, 0.0)
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", exif=exif)
    photo = {"name": "gps.jpg", "mimeType": "image/jpeg", "buffer": buffer.getvalue()}
    with phone(browser, served, "unit") as (page, context):
        fill_seizure(page, where="Porto-Novo", commodity="fuel", description=marker)
        page.set_input_files("#f-photos", photo)
        page.click("#save")
        page.click("#tab-queue")
        sent = page.locator("#queue .photo.sent").filter(
            has_text="its GPS position: 6.50000, 2.60000"
        )
        sent.wait_for(timeout=WAIT_MS)
        assert stored(served, marker) == (1, 1)
        assert _seizure(served, marker)["position_precision"] == "place"  # never on its own
        # the officer's tap is queued like a record: offline now, sent when back online
        context.set_offline(True)
        sent.get_by_role("button", name="Use the photo's position").click()
        sent.filter(has_text="position queued").wait_for(timeout=WAIT_MS)
        assert _seizure(served, marker)["position_precision"] == "place"
        context.set_offline(False)
        sent.filter(has_text="the record now has this position").wait_for(timeout=WAIT_MS)
        assert sent.get_by_role("button").count() == 0
    seizure = _seizure(served, marker)
    assert (seizure["lat"], seizure["lon"]) == (pytest.approx(6.5), pytest.approx(2.6))
    assert (seizure["position_precision"], seizure["position_source"]) == ("exact", "photo_exif")
    store = Workspace(served["ws"])
    try:
        [kept] = PhotoStore(store).of_seizures([seizure["seizure_id"]])[seizure["seizure_id"]]
        path = next((served["ws"] / "photos").rglob(f"{kept.sha256}.jpg"))
    finally:
        store.engine.dispose()
    assert not Image.open(path).getexif().get_ifd(ExifTags.IFD.GPSInfo)


def _seizure(served: dict[str, Any], description: str) -> dict[str, Any]:
    """The stored seizure with this description."""
    store = Workspace(served["ws"])
    try:
        frame = store.read_table("seizures")
    finally:
        store.engine.dispose()
    [seizure] = frame.filter(pl.col("description") == description).to_dicts()
    return seizure


def test_the_position_comes_from_the_gps_or_a_tap_on_the_offline_map(browser, served):
    here = {"latitude": 6.6, "longitude": 2.61}
    with phone(browser, served, "unit", geolocation=here, permissions=["geolocation"]) as (
        page,
        _context,
    ):
        page.click("#gps")
        page.wait_for_function(
            "document.querySelector('#f-where').value === '6.60000, 2.61000'", timeout=WAIT_MS
        )
        page.click("#pick")
        page.locator("#pickmap path.leaflet-interactive, #pickmap svg path").first.wait_for(
            state="attached", timeout=WAIT_MS
        )  # the offline basemap is drawn
        page.locator("#pickmap").tap()  # its centre: the centre of the region's box
        page.wait_for_function(
            "document.querySelector('#f-where').value !== '6.60000, 2.61000'", timeout=WAIT_MS
        )
        lat, lon = (float(v) for v in page.input_value("#f-where").split(", "))
        (south, west), (north, east) = page.evaluate(
            "JSON.parse(document.getElementById('field-config').textContent).view"
        )
    assert lat == pytest.approx((south + north) / 2, abs=0.5)
    assert lon == pytest.approx((west + east) / 2, abs=0.5)


def test_bad_fields_are_shown_at_the_field_and_nothing_is_sent(browser, served):
    posted: list[str] = []
    with phone(browser, served, "analyst") as (page, context):
        context.on("request", lambda r: posted.append(r.url) if r.method == "POST" else None)
        tomorrow = datetime.now() + timedelta(days=1)  # local, as the form reads it
        fill_seizure(page, date=tomorrow.strftime("%Y-%m-%dT%H:%M"), quantity="abc")
        page.fill("#f-where", "")
        page.click("#save")
        for name in ("date", "quantity", "position"):
            error = page.locator(f"#err-{name}")
            error.wait_for(timeout=WAIT_MS)
            assert error.inner_text() != ""
            assert page.locator(f".field[data-field={name}]").get_attribute("class") == (
                "field invalid"
            )
        assert page.locator("#err-date").inner_text() == "the date is in the future"
        assert page.locator("#err-quantity").inner_text() == "expected a number, e.g. 12.5"
        # a place the cached gazetteer does not hold
        fill_seizure(page, date=datetime.now().strftime("%Y-%m-%dT%H:%M"), quantity="3",
                     where="Nowhereville Upon Sea")  # fmt: skip
        page.click("#save")
        page.wait_for_function(
            "document.querySelector('#err-position').textContent === "
            "'no such place in the gazetteer'",
            timeout=WAIT_MS,
        )
        # what only the server checks (its dry run): the notations of coordinates
        page.fill("#f-where", "95.5, 200.1")
        with page.expect_response("**/api/v1/seizures?dry_run=true"):
            page.click("#save")
        page.wait_for_function(
            "document.querySelector('#err-position').textContent === "
            "'expected decimal or degrees-minutes-seconds coordinates'",
            timeout=WAIT_MS,
        )
        assert page.locator("#err-date").inner_text() == ""
        page.click("#tab-queue")
        assert page.locator("#queue").inner_text() == "Nothing queued."
        assert (
            page.evaluate("import('/static/web/field/queue.js').then(q => q.all('records'))") == []
        )
    assert [u for u in posted if u.endswith("/api/v1/seizures")] == []  # only dry runs


def test_a_unit_sees_its_sectors_alerts_and_its_acknowledgement_is_audited(browser, served):
    url, keys = served["url"], served["keys"]
    everything = httpx2.get(f"{url}/api/v1/alerts", headers=bearer(keys["admin"]), timeout=30)
    south = [a["id"] for a in everything.json()["alerts"] if a["sector"] == "south"]
    assert south and len(south) < len(everything.json()["alerts"])
    here = {"latitude": SOUTH[0] + 0.1, "longitude": SOUTH[1]}  # 11.1 km north of the alerts
    with phone(
        browser, served, "unit", "/field/%23inbox", geolocation=here, permissions=["geolocation"]
    ) as (page, _context):
        page.wait_for_selector("#inbox .alert", timeout=WAIT_MS)
        page.locator("#inbox .alert").filter(has_text="11.1 km away").first.wait_for(
            timeout=WAIT_MS
        )
        shown = [int(i) for i in page.eval_on_selector_all("#inbox .alert", "cs => "
                 "cs.map(c => c.dataset.alert)")]  # fmt: skip
        assert sorted(shown) == sorted(south)
        card = page.locator(f"#inbox .alert[data-alert='{south[0]}']")
        card.locator("textarea").fill(f"checked on foot {HOSTILE}")
        with page.expect_request(f"**/api/v1/alerts/{south[0]}/ack") as sent:
            card.locator("[data-verb=ack]").click()
        headers = sent.value.all_headers()
        assert (headers["origin"], headers["sec-fetch-site"]) == (url, "same-origin")
        card.locator("[data-verb=resolve]").wait_for(timeout=WAIT_MS)  # now acknowledged
        cookies = {c["name"]: c["value"] for c in _context.cookies()}
    alert = httpx2.get(f"{url}/api/v1/alerts/{south[0]}", headers=bearer(keys["admin"]), timeout=30)
    unit_id = keys["unit"].split("_")[1]
    assert alert.json()["status"] == "acknowledged"
    assert alert.json()["history"][-1]["actor"] == unit_id
    assert alert.json()["history"][-1]["note"] == f"checked on foot {HOSTILE}"
    audit = httpx2.get(f"{url}/api/v1/audit", headers=bearer(keys["admin"]), timeout=30).json()
    assert any(
        e["key_id"] == unit_id and e["summary"] == f"alert {south[0]} acknowledged"
        for e in audit["entries"]
    )
    # the same change with the unit's session but from another origin is refused (CSRF)
    forged = httpx2.post(
        f"{url}/api/v1/alerts/{south[0]}/resolve",
        cookies=cookies,
        headers={"Origin": "http://127.0.0.1:9", "Sec-Fetch-Site": "same-site"},
        timeout=30,
    )
    assert forged.status_code == 403


def test_new_alerts_arrive_in_the_open_inbox(browser, served):
    with phone(browser, served, "analyst", "/field/%23inbox") as (page, _context):
        page.wait_for_selector("body[data-live=true]", state="attached", timeout=WAIT_MS)
        page.wait_for_selector("#inbox .alert", timeout=WAIT_MS)
        before = page.locator("#inbox .alert").count()
        _raise(
            served["ws"],
            served["region"],
            {"event_id": "E-live", "vehicle_id": "V-LIVE", "lat": SOUTH[0], "lon": SOUTH[1],
             "start": T0 + timedelta(days=1)},
        )  # fmt: skip
        page.wait_for_function(
            "n => document.querySelectorAll('#inbox .alert').length > n",
            arg=before,
            timeout=WAIT_MS,
        )
        assert "V-LIVE" in page.locator("#inbox").inner_text()


def test_hostile_text_shows_as_text_in_the_form_queue_inbox_and_library(browser, served):
    with phone(browser, served, "analyst") as (page, context):
        fill_seizure(
            page, where="6.5, 2.6", commodity="fuel", vehicle_id=HOSTILE, description=HOSTILE
        )
        assert page.input_value("#f-description") == HOSTILE
        page.set_input_files("#f-photos", camera_photo("maroon"))
        page.click("#save")
        wait_for_status(page, "sent", HOSTILE)
        fill_seizure(page, where=f"{HOSTILE} 9", commodity="fuel", description="bad place")
        page.click("#save")  # online: the server's dry run refuses the position at its field
        page.locator("#err-position:not(:empty)").wait_for(timeout=WAIT_MS)
        assert page.input_value("#f-where") == f"{HOSTILE} 9"
        context.set_offline(True)  # offline: queued unchecked, refused once sent
        page.click("#save")
        page.wait_for_selector("#saved:has-text('F-')", timeout=WAIT_MS)
        context.set_offline(False)
        page.click("#tab-queue")
        wait_for_status(page, "refused", "bad place")
        refused = page.locator("#queue .record.refused")
        assert HOSTILE in refused.inner_text()  # the position, shown as typed
        assert refused.locator(".errors li").count() >= 1
        refused.locator("button.primary").click()  # fix and resend
        assert page.locator("#f-where").input_value() == f"{HOSTILE} 9"
        assert page.locator("#err-position").inner_text() != ""
        page.fill("#f-where", "6.5, 2.6")
        page.click("#save")
        page.click("#tab-queue")
        wait_for_status(page, "sent", "bad place")
        assert page.locator("#queue .record.refused").count() == 0
        page.click("#tab-inbox")
        page.wait_for_selector("#inbox .alert", timeout=WAIT_MS)
        assert HOSTILE in page.locator("#inbox").inner_text()
        assert page.locator("#inbox img, #queue img, #queue script, #inbox script").count() == 0
        page.wait_for_selector("#queue .photo.sent", state="attached", timeout=WAIT_MS)
        page.click("#tab-library")
        page.fill("#l-q", "window.__xss")
        page.click("#library-filter [type=submit]")
        card = page.locator("#library .concealment").filter(has_text=HOSTILE)
        card.wait_for(timeout=WAIT_MS)
        assert card.locator("img.thumb").count() == 1
        thumb = card.locator("img.thumb").element_handle()
        page.wait_for_function("i => i.complete && i.naturalWidth > 0", arg=thumb, timeout=WAIT_MS)
        assert page.locator("#library script, #library img:not(.thumb)").count() == 0
    assert stored(served, "bad place") == (1, 0)  # refused, fixed, resent: stored once


def test_the_app_speaks_french(browser, served):
    with phone(browser, served, "unit", "/field/", locale="fr-FR") as (page, _context):
        assert page.locator("html").get_attribute("lang") == "fr"
        assert page.locator("#tab-new").inner_text() == "Nouvelle saisie"
        assert page.locator("label[for=f-date]").inner_text() == "Date et heure"
        assert page.locator("#net").inner_text() == "en ligne"


def test_a_signed_out_phone_is_sent_to_sign_in(browser, served):
    context = browser.new_context(**PHONE)
    try:
        page = context.new_page()
        page.goto(f"{served['url']}/field/")
        page.wait_for_url(lambda u: u.endswith("/login?next=/field/"), timeout=WAIT_MS)
        assert page.locator("input[name=key]").count() == 1
    finally:
        context.close()
