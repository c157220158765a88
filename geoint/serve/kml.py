"""KML 2.2 of point records (events, alerts, seizures) for Google Earth and GIS tools.

One ``Folder`` of ``Placemark``s (one GDAL layer), each with a ``TimeStamp``, its fields as
``ExtendedData`` and a ``styleUrl`` to one shared ``Style`` per value of the styling field
(commodity, event type, CAP severity). No icon file is referenced, so nothing is fetched when
the file opens. The description is HTML that Google Earth renders: every value in it is
HTML-escaped first, and the XML writer escapes the whole again, so untrusted text (seizure
descriptions, vehicle ids) is shown as text, never run.
"""

from __future__ import annotations

import hashlib
import html
import math
import re
import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

import polars as pl

from geoint.atomic import write_bytes
from geoint.palette import CATEGORY_COLOURS, COMMODITY_COLOURS, SEVERITY_COLOURS

KML_NS = "http://www.opengis.net/kml/2.2"
KML_MEDIA_TYPE = "application/vnd.google-earth.kml+xml"
UNSTYLED = "#999999"
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")  # no XML 1.0 for these


@dataclass(frozen=True)
class KmlLayout:
    """How records of one kind become placemarks."""

    title: str
    id_column: str
    name_columns: tuple[str, ...]  # joined with " · " into the placemark's name
    style_column: str
    time_column: str
    colours: Mapping[str, str]


SEIZURES = KmlLayout(
    "Seizures", "seizure_id", ("seizure_id", "commodity"), "commodity", "ts", COMMODITY_COLOURS
)
EVENTS = KmlLayout(
    "Track events", "event_id", ("event_type", "vehicle_id"), "event_type", "start", {}
)
ALERTS = KmlLayout(
    "Alerts", "id", ("severity", "title"), "severity", "event_time", SEVERITY_COLOURS
)


def kml_document(rows: Sequence[Mapping[str, Any]], layout: KmlLayout) -> bytes:
    """The KML document of `rows` (dicts with ``lat``, ``lon`` and the layout's columns)."""
    root = ET.Element("kml", xmlns=KML_NS)
    document = ET.SubElement(root, "Document")
    ET.SubElement(document, "name").text = layout.title
    styles = sorted({str(row.get(layout.style_column) or "none") for row in rows})
    others = iter(CATEGORY_COLOURS * (len(styles) // len(CATEGORY_COLOURS) + 1))
    for value in styles:
        colour = layout.colours.get(value) or (UNSTYLED if layout.colours else next(others))
        style = ET.SubElement(document, "Style", id=_style_id(value))
        icon = ET.SubElement(style, "IconStyle")
        ET.SubElement(icon, "color").text = _kml_colour(colour)
        ET.SubElement(icon, "scale").text = "1.1"
    folder = ET.SubElement(document, "Folder")
    ET.SubElement(folder, "name").text = layout.title
    for row in rows:
        _placemark(folder, row, layout)
    ET.indent(root, space=" ")
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)


def write_kml(frame: pl.DataFrame, path: Path, layout: KmlLayout) -> int:
    """Write `frame`'s rows as KML to `path` atomically; return the row count."""
    write_bytes(kml_document(frame.to_dicts(), layout), Path(path))
    return frame.height


def _placemark(folder: ET.Element, row: Mapping[str, Any], layout: KmlLayout) -> None:
    mark = ET.SubElement(folder, "Placemark", id=f"{layout.id_column}-{row[layout.id_column]}")
    names = [_text(row.get(c)) for c in layout.name_columns]
    ET.SubElement(mark, "name").text = " · ".join(n for n in names if n)
    fields = {k: v for k, v in row.items() if k not in ("lat", "lon")}
    cells = "".join(
        f"<tr><th>{html.escape(k)}</th><td>{html.escape(_text(v))}</td></tr>"
        for k, v in fields.items()
    )
    ET.SubElement(mark, "description").text = f"<table>{cells}</table>"
    when = row.get(layout.time_column)
    if when is not None:
        ET.SubElement(ET.SubElement(mark, "TimeStamp"), "when").text = _text(when)
    style = str(row.get(layout.style_column) or "none")
    ET.SubElement(mark, "styleUrl").text = f"#{_style_id(style)}"
    extended = ET.SubElement(mark, "ExtendedData")
    for key, value in fields.items():
        data = ET.SubElement(extended, "Data", name=key)
        ET.SubElement(data, "value").text = _text(value)
    point = ET.SubElement(mark, "Point")
    ET.SubElement(point, "coordinates").text = f"{row['lon']!r},{row['lat']!r}"


def _style_id(value: str) -> str:
    """A style id from any value: XML NCName characters only, kept distinct by a hex suffix."""
    safe = "".join(c if c.isascii() and (c.isalnum() or c in "-_") else "_" for c in value)
    suffix = hashlib.sha256(value.encode()).hexdigest()[:8]
    return f"s-{safe}-{suffix}" if safe != value else f"s-{safe}"


def _kml_colour(hex_rgb: str) -> str:
    """``#rrggbb`` as KML's ``aabbggrr``."""
    r, g, b = hex_rgb[1:3], hex_rgb[3:5], hex_rgb[5:7]
    return f"ff{b}{g}{r}"


def _text(value: Any) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return ""
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return ", ".join(_text(v) for v in value)
    return _NOT_XML.sub("\ufffd", str(value))
