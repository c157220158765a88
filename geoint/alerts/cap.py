"""Alerts as OASIS CAP 1.2 messages (scope Restricted) and as an Atom feed of CAP entries.

Each version of an alert is one CAP message: identifier ``geoint-alert-<id>-v<version>``,
``msgType`` Alert for the first version, Cancel once dismissed, Update otherwise, with
``references`` to the first and the previous message. Text goes through ElementTree, which
escapes it; characters XML 1.0 cannot carry are replaced by U+FFFD.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from geoint.settings import AlertSettings

CAP_NS = "urn:oasis:names:tc:emergency:cap:1.2"
ATOM_NS = "http://www.w3.org/2005/Atom"
CAP_MEDIA_TYPE = "application/cap+xml"
ATOM_MEDIA_TYPE = "application/atom+xml"
CELL_RADIUS_KM = 0.5  # about the circumradius of an H3 resolution-8 cell
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
ET.register_namespace("cap", CAP_NS)


def cap_identifier(alert_id: int, version: int) -> str:
    """The CAP identifier of one version of an alert."""
    return f"geoint-alert-{alert_id}-v{version}"


def cap_time(iso: str) -> str:
    """A time as CAP 1.2 wants it: seconds and an explicit offset, no fraction, no 'Z'."""
    moment = datetime.fromisoformat(iso).astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S+00:00")


def cap_element(
    alert: dict[str, Any],
    history: Sequence[dict[str, Any]],
    settings: AlertSettings,
    web: str | None = None,
) -> ET.Element:
    """The CAP ``alert`` element of an alert's current version (`history` oldest first)."""
    sent_by_version = {change["version"]: change["at"] for change in history}
    version = alert["version"]
    root = ET.Element(f"{{{CAP_NS}}}alert")
    _add(root, "identifier", cap_identifier(alert["id"], version))
    _add(root, "sender", settings.sender)
    _add(root, "sent", cap_time(sent_by_version.get(version, alert["updated"])))
    _add(root, "status", "Actual")
    msg_type = "Alert" if version == 1 else "Cancel" if alert["status"] == "dismissed" else "Update"
    _add(root, "msgType", msg_type)
    _add(root, "scope", "Restricted")
    _add(root, "restriction", settings.restriction)
    if history:
        last = history[-1]
        note = f"{last['action']} by {last['actor']}" + (
            f": {last['note']}" if last["note"] else ""
        )
        _add(root, "note", note)
    if version > 1:
        earlier = sorted({1, version - 1} & set(sent_by_version))
        references = [
            f"{settings.sender},{cap_identifier(alert['id'], v)},{cap_time(sent_by_version[v])}"
            for v in earlier
        ]
        _add(root, "references", " ".join(references))
    info = ET.SubElement(root, f"{{{CAP_NS}}}info")
    _add(info, "language", "en")
    _add(info, "category", "Security")
    _add(info, "event", alert["title"])
    closed = alert["status"] in ("resolved", "dismissed")
    _add(info, "responseType", "AllClear" if closed else "Monitor")
    _add(info, "urgency", alert["urgency"])
    _add(info, "severity", alert["severity"])
    _add(info, "certainty", alert["certainty"])
    _add(info, "onset", cap_time(alert["event_time"]))
    _add(info, "senderName", "geoint")
    subject = ", ".join(alert["vehicles"]) or f"cell {alert['cell']}"
    _add(info, "headline", f"{alert['title']}: {subject}"[:160])
    description = (
        f"{alert['explanation']} Seen {alert['count']} time(s), last at {alert['last_seen']}; "
        f"status {alert['status']}."
    )
    _add(info, "description", description)
    if web:
        _add(info, "web", web)
    parameters = {
        "rule": alert["rule"],
        "type": alert["type"],
        "status": alert["status"],
        "count": str(alert["count"]),
        "lastSeen": alert["last_seen"],
        "cell": alert["cell"],
        "vehicles": " ".join(alert["vehicles"]),
        "label": alert["label"] or "",
    }
    if alert.get("raised_late"):  # the words are in the description (the explanation)
        parameters["raisedLateSeconds"] = str(alert["raised_late"]["late_s"])
    for name, value in parameters.items():
        parameter = ET.SubElement(info, f"{{{CAP_NS}}}parameter")
        _add(parameter, "valueName", name)
        _add(parameter, "value", value)
    area = ET.SubElement(info, f"{{{CAP_NS}}}area")
    where = f"H3 cell {alert['cell']}"
    _add(area, "areaDesc", f"sector {alert['sector']}, {where}" if alert["sector"] else where)
    _add(area, "circle", f"{alert['lat']:.6f},{alert['lon']:.6f} {CELL_RADIUS_KM}")
    return root


def cap_xml(
    alert: dict[str, Any],
    history: Sequence[dict[str, Any]],
    settings: AlertSettings,
    web: str | None = None,
) -> bytes:
    """The CAP 1.2 document (UTF-8 with an XML declaration) of an alert's current version."""
    return ET.tostring(cap_element(alert, history, settings, web), "utf-8", xml_declaration=True)


def atom_feed(
    entries: Sequence[tuple[dict[str, Any], Sequence[dict[str, Any]]]],
    feed_url: str,
    cap_url: Callable[[int], str],
    settings: AlertSettings,
    title: str = "geoint alerts",
) -> bytes:
    """An Atom 1.0 feed with one entry per alert, its current CAP message inline."""
    feed = ET.Element(f"{{{ATOM_NS}}}feed")
    _atom(feed, "id", feed_url)
    _atom(feed, "title", title)
    newest = max((alert["updated"] for alert, _ in entries), default=None)
    _atom(feed, "updated", _rfc3339(newest) if newest else _rfc3339(datetime.now(UTC).isoformat()))
    ET.SubElement(feed, f"{{{ATOM_NS}}}link", rel="self", href=feed_url, type=ATOM_MEDIA_TYPE)
    author = ET.SubElement(feed, f"{{{ATOM_NS}}}author")
    _atom(author, "name", "geoint")
    for alert, history in entries:
        entry = ET.SubElement(feed, f"{{{ATOM_NS}}}entry")
        _atom(entry, "id", f"urn:geoint:alert:{alert['id']}")
        _atom(entry, "title", f"{alert['severity']}: {alert['title']}")
        _atom(entry, "updated", _rfc3339(alert["updated"]))
        _atom(entry, "published", _rfc3339(alert["created"]))
        _atom(entry, "summary", alert["explanation"]).set("type", "text")
        for scheme, term in (("severity", alert["severity"]), ("status", alert["status"])):
            ET.SubElement(entry, f"{{{ATOM_NS}}}category", scheme=f"urn:geoint:{scheme}", term=term)
        href = cap_url(alert["id"])
        ET.SubElement(entry, f"{{{ATOM_NS}}}link", rel="alternate", type=CAP_MEDIA_TYPE, href=href)
        content = ET.SubElement(entry, f"{{{ATOM_NS}}}content", type=CAP_MEDIA_TYPE)
        content.append(cap_element(alert, history, settings, href))
    return ET.tostring(feed, "utf-8", xml_declaration=True)


def _add(parent: ET.Element, name: str, text: str) -> ET.Element:
    child = ET.SubElement(parent, f"{{{CAP_NS}}}{name}")
    child.text = _NOT_XML.sub("\ufffd", text)
    return child


def _atom(parent: ET.Element, name: str, text: str) -> ET.Element:
    child = ET.SubElement(parent, f"{{{ATOM_NS}}}{name}")
    child.text = _NOT_XML.sub("\ufffd", text)
    return child


def _rfc3339(iso: str) -> str:
    return datetime.fromisoformat(iso).astimezone(UTC).isoformat(timespec="seconds")
