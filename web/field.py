"""The field app (``/field``): the page shell of a land-border unit's phone app, its texts in the
caller's language, and its alert inbox in words.

The page is a static shell: its sections (new seizure, my queue, alerts, concealment library)
are drawn by ``web/static/field/app.js`` from the API, and the service worker
(``web/static/field/sw.js``, served at ``/field/sw.js``) keeps it, its assets, the vocabularies,
the gazetteer and the inbox for use without network (docs/field.md). Every text the script
writes is handed to it here as data and written as text, never as HTML.
"""

from __future__ import annotations

import hashlib
import html
import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from geoint.layers import Region
from geoint.web.i18n import N_, gettext_for
from geoint.web.map import STATIC, measures

FIELD_STATIC = STATIC / "field"
SERVICE_WORKER = FIELD_STATIC / "sw.js"
# The simplified seizure form after the position, in order: (name, label, control); a select is
# filled from GET /api/v1/vocabularies (free text where the server has no vocabulary for it)
FORM = (
    ("commodity", N_("Commodity"), "select"),
    ("quantity", N_("Quantity"), '<input type="text" inputmode="decimal" autocomplete="off">'),
    ("unit", N_("Unit"), "select"),
    ("transport_mode", N_("Transport mode"), "select"),
    ("vehicle_type", N_("Vehicle type"), "select"),
    ("concealment", N_("Concealment method"), "select"),
    ("detection_method", N_("Detection method"), "select"),
    ("direction", N_("Direction"), "select"),
    ("vehicle_id", N_("Vehicle id or plate"),
     '<input type="text" autocomplete="off" maxlength="128">'),
    ("description", N_("Description"), '<textarea rows="3" maxlength="4000"></textarea>'),
    ("photos", N_("Photos"), '<input type="file" accept="image/*" capture="environment" multiple>'),
)  # fmt: skip
SECTIONS = (
    ("new", N_("New seizure")),
    ("queue", N_("My queue")),
    ("inbox", N_("Alerts")),
    ("library", N_("Library")),
)


def service_worker() -> bytes:
    """The service worker's script, its cache version the digest of the app's files (and of
    the vendored Leaflet it keeps): any change to them makes browsers install a new worker."""
    digest = hashlib.sha256()
    for path in sorted([*FIELD_STATIC.rglob("*"), *(STATIC / "vendor" / "leaflet").rglob("*")]):
        if path.is_file():
            digest.update(path.read_bytes())
    return SERVICE_WORKER.read_bytes().replace(b"__VERSION__", digest.hexdigest()[:16].encode())


def region_view(region: Region) -> list[list[float]]:
    """The box the form's small map opens on: the region's (or its border's), as Leaflet bounds
    ``[[south, west], [north, east]]``."""
    west, south, east, north = region.bbox or tuple(region.read("border").total_bounds)
    return [[float(south), float(west)], [float(north), float(east)]]


def inbox_entries(alerts: Sequence[Mapping[str, Any]], lang: str) -> list[dict[str, Any]]:
    """The inbox's alerts: what the app shows of each, the reason said in words in `lang`."""
    _ = gettext_for(lang)
    entries = []
    for alert in alerts:
        event = alert.get("event")
        reason = measures(event, _) if event else ""
        entries.append(
            {
                "id": alert["id"],
                "title": _(alert["title"]),
                "kind": _(event["event_type"].replace("_", " ")) if event else alert["rule"],
                "reason": reason or alert["explanation"],
                "status": alert["status"],
                "status_text": _(alert["status"]),
                "severity": alert["severity"],
                "severity_text": _(alert["severity"]),
                "event_time": alert["event_time"],
                "last_seen": alert["last_seen"],
                "lat": alert["lat"],
                "lon": alert["lon"],
                "sector": alert["sector"],
                "vehicles": alert["vehicles"],
                "version": alert["version"],
            }
        )
    return entries


def field_page(
    title: str, lang: str, static_url: str, urls: Mapping[str, str], view: list[list[float]]
) -> str:
    """The app's HTML shell in `lang`; `urls` names the API routes the script calls, `view` the
    box its small map opens on."""
    _ = gettext_for(lang)
    config = {"lang": lang, "urls": dict(urls), "view": view, "text": _strings(_)}
    e = html.escape
    texts = {
        "app": _("Field"),
        "date": _("Date and time"),
        "where": _("Where"),
        "gps": _("Use GPS"),
        "pick": _("Tap on the map"),
        "hint": _("place name or coordinates"),
        "save": _("Save"),
        "cancel": _("Cancel"),
        "concealment": _("Concealment method"),
        "commodity": _("Commodity"),
        "vehicle_type": _("Vehicle type"),
        "text": _("Text"),
        "search": _("Search"),
    }
    t = {key: e(text, quote=True) for key, text in texts.items()}
    tabs = "".join(
        f'<button type="button" class="tab" data-section="{name}" id="tab-{name}">'
        f'{e(_(label))}<span class="count" id="count-{name}"></span></button>'
        for name, label in SECTIONS
    )
    fields = "".join(_field(name, _(label), control) for name, label, control in FORM)
    asset = f"{static_url}field"
    return f"""<!doctype html>
<html lang="{lang}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1, viewport-fit=cover">
<meta name="theme-color" content="#0b3d2e">
<link rel="icon" href="data:,">
<title>{t["app"]} · {e(title)}</title>
<link rel="stylesheet" href="{static_url}vendor/leaflet/leaflet.css">
<link rel="stylesheet" href="{asset}/field.css">
<script type="application/json" id="field-config">{_json(config)}</script>
<script src="{static_url}vendor/leaflet/leaflet.js" defer></script>
<script type="module" src="{asset}/app.js"></script>
</head><body>
<header class="bar"><h1>{e(title)}</h1>
<p id="net" class="net" role="status" aria-live="polite"></p></header>
<p id="notice" class="notice" role="alert" hidden></p>
<main>
<section id="section-new" class="section" aria-labelledby="tab-new">
<form id="seizure" novalidate>
{_field("date", texts["date"], '<input type="datetime-local">')}
<div class="field" data-field="position">
<label for="f-where">{t["where"]}</label>
<div class="row"><button type="button" id="gps" class="secondary">{t["gps"]}</button>
<button type="button" id="pick" class="secondary">{t["pick"]}</button></div>
<input id="f-where" name="where" type="text" list="places" autocomplete="off"
 placeholder="{t["hint"]}">
<datalist id="places"></datalist>
<div id="pickmap" class="pickmap" hidden></div>
<p class="error" id="err-position" role="alert"></p></div>
{fields}
<ul id="photo-list" class="photos"></ul>
<div class="actions"><button type="submit" id="save" class="primary">{t["save"]}</button>
<button type="button" id="discard-edit" class="secondary" hidden>{t["cancel"]}</button></div>
<p id="saved" class="ok" role="status" aria-live="polite"></p>
</form></section>
<section id="section-queue" class="section" hidden aria-labelledby="tab-queue">
<ul id="queue" class="cards"></ul></section>
<section id="section-inbox" class="section" hidden aria-labelledby="tab-inbox">
<p id="inbox-state" class="muted"></p><ul id="inbox" class="cards"></ul></section>
<section id="section-library" class="section" hidden aria-labelledby="tab-library">
<form id="library-filter" class="filters">
{_filter("concealment", texts["concealment"])}
{_filter("commodity", texts["commodity"])}
{_filter("vehicle_type", texts["vehicle_type"])}
<label for="l-q">{t["text"]}</label><input id="l-q" name="q" type="search">
<button type="submit" class="secondary">{t["search"]}</button></form>
<p id="library-state" class="muted"></p><ul id="library" class="gallery"></ul></section>
</main>
<nav class="tabs">{tabs}</nav>
</body></html>
"""


def _field(name: str, label: str, control: str) -> str:
    """A form field: its label, its control (``select`` or an element to name) and its error."""
    named = f'id="f-{name}" name="{name}"'
    if control == "select":
        control = f'<select {named}><option value=""></option></select>'
    else:
        control = control.replace(" ", f" {named} ", 1)
    return (
        f'<div class="field" data-field="{name}"><label for="f-{name}">{html.escape(label)}'
        f'</label>{control}<p class="error" id="err-{name}" role="alert"></p></div>'
    )


def _filter(name: str, label: str) -> str:
    """A select of the library's filters (filled from the vocabularies)."""
    return (
        f'<label for="l-{name}">{html.escape(label)}</label>'
        f'<select id="l-{name}" name="{name}"><option value=""></option></select>'
    )


def _json(value: Any) -> str:
    """`value` as JSON that cannot end its ``<script>`` element."""
    text = json.dumps(value, ensure_ascii=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _strings(_: Callable[[str], str]) -> dict[str, str]:
    """The texts ``app.js`` writes itself (as text, never as HTML)."""
    return {
        "online": _("online"),
        "offline": _("offline: records are kept on this phone"),
        "signedOut": _("signed out: sign in again to send the queue"),
        "signIn": _("Sign in"),
        "queued": _("queued"),
        "sending": _("sending"),
        "sent": _("sent"),
        "refused": _("refused"),
        "photoQueued": _("photo queued"),
        "photoSent": _("photo sent"),
        "photoRefused": _("photo refused"),
        "photoPosition": _("its GPS position: {position}"),
        "usePosition": _("Use the photo's position"),
        "positionQueued": _("position queued"),
        "positionUsed": _("the record now has this position"),
        "positionRefused": _("position refused"),
        "fix": _("Fix and resend"),
        "discard": _("Discard"),
        "savedQueued": _("Saved: queued as {id}"),
        "emptyQueue": _("Nothing queued."),
        "required": _("required"),
        "future": _("the date is in the future"),
        "badDate": _("expected a date and time"),
        "notNumber": _("expected a number, e.g. 12.5"),
        "negative": _("expected a quantity of 0 or more"),
        "noPosition": _("give a position: GPS, a tap on the map, a place or coordinates"),
        "unknownPlace": _("no such place in the gazetteer"),
        "gpsWaiting": _("waiting for GPS…"),
        "gpsFailed": _("GPS failed: "),
        "noAlerts": _("No open alerts in your sectors."),
        "inboxOffline": _("offline: alerts as last loaded"),
        "ack": _("Acknowledge"),
        "resolve": _("Resolve"),
        "dismiss": _("Dismiss"),
        "note": _("Note"),
        "away": _("{km} km away"),
        "sector": _("sector"),
        "vehicles": _("vehicles"),
        "actionFailed": _("not changed: "),
        "noPhotos": _("No seizure with photos matches."),
        "libraryOffline": _("the library needs the network"),
        "loading": _("loading…"),
        "removePhoto": _("remove"),
        "fieldErrors": _("fix the fields marked in red"),
    }
