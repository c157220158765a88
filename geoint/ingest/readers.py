"""Read an input of any supported format into one table; values are not validated here.

Every reader returns the records as rows numbered by ``_row`` (1-based: the record for CSV, not
counting the header; the feature for GeoJSON; the point for GPX; the line for NDJSON; the row for
Parquet), and the records it could not even split into fields as quarantine rows. CSV gives text
columns; the other formats give their native types. Blank CSV records (every field empty) carry
nothing and are skipped, as are blank NDJSON lines; their numbers are not reused.
"""

from __future__ import annotations

import csv
import io
import json
import xml.etree.ElementTree as ET
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from operator import methodcaller
from pathlib import Path

import numpy as np
import orjson
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pyproj
import shapely

from geoint.errors import InputError
from geoint.schema import QUARANTINE_SCHEMA, ROW_NUMBER, Reason

FORMATS = ("csv", "geojson", "gpx", "parquet", "ndjson")
# the columns naming a thing: a list or a struct there is refused, not read as its JSON text
IDENTIFIERS = ("vehicle_id", "seizure_id", "other_vehicle_id", "corridor_id")
EXTENSIONS = {
    ".csv": "csv",
    ".txt": "csv",
    ".tsv": "csv",
    ".geojson": "geojson",
    ".json": "geojson",
    ".gpx": "gpx",
    ".parquet": "parquet",
    ".geoparquet": "parquet",
    ".pq": "parquet",
    ".ndjson": "ndjson",
    ".jsonl": "ndjson",
}

_Source = Path | bytes
_WGS84 = pyproj.CRS.from_epsg(4326)
_GEOMETRY_TYPES = np.array(
    ["Point", "LineString", "LinearRing", "Polygon", "MultiPoint", "MultiLineString",
     "MultiPolygon", "GeometryCollection"]
)  # fmt: skip
_CSV_SEPARATORS = (",", ";", "\t", "|")
_PROPERTIES = methodcaller("get", "properties")
_GEOMETRY = methodcaller("get", "geometry")
_HEAD_BYTES = 65_536


@dataclass
class ReadResult:
    """The records of one input, the records that could not be split, and the format read."""

    frame: pl.DataFrame
    rejected: pl.DataFrame
    format: str


def detect_format(path: Path, fmt: str | None = None) -> str:
    """The reader format: ``fmt`` when given (a format or an extension), else the extension."""
    if fmt is not None:
        name = fmt.strip().lower().lstrip(".")
        if name in FORMATS:
            return name
        if f".{name}" in EXTENSIONS:
            return EXTENSIONS[f".{name}"]
        raise InputError(str(path), f"--format one of {', '.join(FORMATS)} (got {fmt!r})")
    suffix = Path(path).suffix.lower()
    if suffix in EXTENSIONS:
        return EXTENSIONS[suffix]
    raise InputError(
        str(path),
        f"a file ending in {', '.join(EXTENSIONS)} (formats {', '.join(FORMATS)}), "
        f"or an explicit --format (got {suffix or 'no extension'!r})",
    )


def parse_column_map(items: Sequence[str]) -> dict[str, str]:
    """``{canonical: source}`` from ``CANONICAL=SOURCE`` items such as ``lat=latitude``."""
    mapping: dict[str, str] = {}
    for item in items:
        canonical, sep, source = item.partition("=")
        canonical, source = canonical.strip(), source.strip()
        if not sep or not canonical or not source:
            raise ValueError(f"--map {item!r}: expected CANONICAL=SOURCE, e.g. lat=latitude")
        if canonical in mapping:
            raise ValueError(f"--map {item!r}: {canonical!r} is mapped twice")
        mapping[canonical] = source
    return mapping


def read_records(
    path: Path, fmt: str | None = None, column_map: Mapping[str, str] | None = None
) -> ReadResult:
    """The records of the file at ``path``, renamed by ``column_map`` (canonical -> source)."""
    path = Path(path)
    fmt = detect_format(path, fmt)
    if not path.is_file():
        raise InputError(str(path), "an existing, readable file")
    return _read(path, str(path), fmt, column_map)


def read_records_bytes(
    data: bytes, name: str, fmt: str | None, column_map: Mapping[str, str] | None = None
) -> ReadResult:
    """The records of an in-memory input (an HTTP body); ``name`` labels it in errors."""
    return _read(bytes(data), name, detect_format(Path(name), fmt), column_map)


def _read(source: _Source, name: str, fmt: str, column_map: Mapping[str, str] | None) -> ReadResult:
    reader = _READERS[fmt]
    frame, rejected = reader(source, name, dict(column_map or {}))
    frame, odd = _plain_values(frame)
    if odd.height:
        rejected = pl.concat([rejected, odd]).sort(ROW_NUMBER)
    return ReadResult(frame=frame, rejected=rejected, format=fmt)


def _binary_text(values: pl.Series) -> pl.Expr:
    """Bytes as UTF-8 text; a value that is not UTF-8 as ``0x`` and its hex digits."""
    try:
        values.cast(pl.String)
    except pl.exceptions.PolarsError:
        distinct = values.drop_nulls().unique()  # the error path: decoded value by value
        text = [_decoded(raw) for raw in distinct.to_list()]
        return pl.col(values.name).replace_strict(distinct, text, return_dtype=pl.String)
    return pl.col(values.name).cast(pl.String)


def _decoded(raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return "0x" + raw.hex()


def _plain_values(frame: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """`frame` with every column a scalar type validation can read, and the rows whose
    identifier is not a single value (quarantined as ``invalid_value``).

    Parquet and JSON may hold lists, structs, bytes, durations or decimals anywhere: lists and
    structs become their JSON text (so a list of coordinates or times fails its parse check
    with a reason, and extra columns keep their content in ``raw``), except in an identifier
    column, where such a row is refused; bytes become UTF-8 text (``0x`` hex when they are
    not UTF-8); durations and times become text no time parser accepts; decimals floats.
    """
    columns, refused = [], []
    for column, dtype in frame.schema.items():
        value = pl.col(column)
        if dtype.is_nested():
            as_json = pl.struct(value.alias("v")).struct.json_encode().str.slice(5)
            value = pl.when(value.is_not_null()).then(as_json.str.strip_suffix("}"))
            if column in IDENTIFIERS:
                refused.append((column, dtype))
        elif dtype == pl.Binary:
            value = _binary_text(frame[column])
        elif isinstance(dtype, pl.Duration):
            value = pl.format("a duration of {} µs", value.dt.total_microseconds())
        elif dtype == pl.Time:
            value = pl.format("a time of day {}", value.cast(pl.String))
        elif isinstance(dtype, pl.Decimal):
            value = value.cast(pl.Float64)
        else:
            continue
        columns.append(value.alias(column))
    if not columns:
        return frame, _no_rejects()
    rejects = [
        _quarantine(
            frame.filter(pl.col(column).is_not_null())[ROW_NUMBER].to_list(),
            Reason.INVALID_VALUE,
            f"expected a single value, got a {str(dtype).split('(')[0].lower()}",
            [None] * frame[column].is_not_null().sum(),
            column,
        )
        for column, dtype in refused
    ]
    plain = frame.with_columns(columns)
    if refused:
        rejected = (
            pl.concat(rejects)
            .unique(ROW_NUMBER, keep="first", maintain_order=True)
            .sort(ROW_NUMBER)  # the order of `rows` below
        )
        rows = plain.filter(pl.col(ROW_NUMBER).is_in(rejected[ROW_NUMBER].implode()))
        raw = rows.select(pl.struct(pl.exclude(ROW_NUMBER)).struct.json_encode())
        rejected = rejected.with_columns(raw=raw.to_series())
        return plain.filter(~pl.col(ROW_NUMBER).is_in(rejected[ROW_NUMBER].implode())), rejected
    return plain, _no_rejects()


# --- shared helpers -------------------------------------------------------------------------


def _bytes(source: _Source) -> bytes:
    return source.read_bytes() if isinstance(source, Path) else source


def _numbered(table: pl.DataFrame, rows: Sequence[int] | np.ndarray, file: str) -> pl.DataFrame:
    """``table`` with ``_row`` in front."""
    if ROW_NUMBER in table.columns:
        raise InputError(file, f"no column named {ROW_NUMBER!r} (reserved)", column=ROW_NUMBER)
    numbers = pl.DataFrame({ROW_NUMBER: pl.Series(rows, dtype=pl.Int64)})
    return numbers.hstack(table) if table.width else numbers


def _quarantine(
    rows: Sequence[int] | np.ndarray,
    reason: Reason,
    detail: Sequence[str | None] | str,
    raw: Sequence[str | None],
    column: str | None = None,
) -> pl.DataFrame:
    """Quarantine rows in QUARANTINE_SCHEMA."""
    n = len(rows)
    return pl.DataFrame(
        {
            ROW_NUMBER: list(rows),
            "column": [column] * n,
            "reason": [reason.value] * n,
            "detail": [detail] * n if isinstance(detail, str) else list(detail),
            "raw": list(raw),
        },
        schema=QUARANTINE_SCHEMA,
    )


def _no_rejects() -> pl.DataFrame:
    return pl.DataFrame(schema=QUARANTINE_SCHEMA)


def _mapped(frame: pl.DataFrame, column_map: Mapping[str, str], file: str) -> pl.DataFrame:
    """``frame`` with each source column renamed to its canonical name."""
    if not column_map:
        return frame
    for canonical, source in column_map.items():
        if source not in frame.columns:
            found = ", ".join(c for c in frame.columns if c != ROW_NUMBER)
            raise InputError(
                file,
                f"a column named {source!r} (mapped to {canonical!r}); the columns are: {found}",
                column=source,
            )
        if canonical == ROW_NUMBER:
            raise InputError(file, f"no mapping to {ROW_NUMBER!r} (reserved)", column=source)
    sources = list(column_map.values())
    twice = {s for s in sources if sources.count(s) > 1}
    if twice:
        raise InputError(file, "each column mapped to one canonical name", column=min(twice))
    kept = set(frame.columns) - set(sources)
    for canonical, source in column_map.items():
        if canonical in kept:
            raise InputError(
                file,
                f"no column {canonical!r} already, since {source!r} is mapped to that name",
                column=canonical,
            )
    return frame.rename({source: canonical for canonical, source in column_map.items()})


def _records_frame(records: list[dict | None]) -> pl.DataFrame:
    """One row per JSON object (None gives an empty row), columns in order of appearance."""
    try:
        return pl.from_dicts(records, infer_schema_length=None)
    except (pl.exceptions.PolarsError, TypeError, ValueError, OverflowError):
        return _records_frame_slowly(records)


def _records_frame_slowly(records: list[dict | None]) -> pl.DataFrame:
    """Error path of _records_frame: a column whose values differ in type becomes text."""
    names = list(dict.fromkeys(key for record in records if record for key in record))
    columns = []
    for name in names:
        values = [record.get(name) if record else None for record in records]
        kinds = {type(value) for value in values} - {type(None)}
        series = None
        # One kind only: polars' own inference can turn a list into a struct when both occur.
        if len(kinds) <= 1 or kinds == {int, float}:
            try:
                series = pl.Series(name, values, strict=kinds != {int, float})
            except (pl.exceptions.PolarsError, TypeError, ValueError, OverflowError):
                series = None
        if series is None or series.dtype == pl.Object:
            series = pl.Series(name, [_as_text(value) for value in values], dtype=pl.String)
        columns.append(series)
    return pl.DataFrame(columns)


def _as_text(value: object) -> str | None:
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)


def _point_positions(
    frame: pl.DataFrame,
    geometries: np.ndarray,
    raw: Callable[[np.ndarray], Sequence[str | None]],
    column: str,
    crs: pyproj.CRS | None = None,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """``frame`` with ``lon``/``lat`` from its Point geometries; other rows go to quarantine.

    ``raw`` gives the raw text of the rows at the given positions (called for rejects only).
    """
    type_ids = shapely.get_type_id(geometries)
    points = (type_ids == 0) & ~shapely.is_empty(geometries)
    x = shapely.get_x(np.where(points, geometries, None))
    y = shapely.get_y(np.where(points, geometries, None))
    if crs is not None and not crs.equals(_WGS84, ignore_axis_order=True):
        transformer = pyproj.Transformer.from_crs(crs, _WGS84, always_xy=True)
        x[points], y[points] = transformer.transform(x[points], y[points])
    bad = np.flatnonzero(~points)
    rejected = _no_rejects()
    if len(bad):
        ids = type_ids[bad]
        names = _GEOMETRY_TYPES[np.clip(ids, 0, None)]
        detail = np.where(
            ids < 0,
            "missing or invalid geometry, expected a Point",
            np.where(ids == 0, "empty Point geometry", np.char.add(names, ", expected a Point")),
        )
        rows = frame[ROW_NUMBER].gather(bad).to_list()
        rejected = _quarantine(rows, Reason.NOT_A_POINT, detail.tolist(), raw(bad), column)
    kept = frame.with_columns(lon=pl.Series(x), lat=pl.Series(y)).filter(pl.Series(points))
    return kept, rejected


# --- CSV --------------------------------------------------------------------------------------


def _read_csv(
    source: _Source, name: str, column_map: Mapping[str, str]
) -> tuple[pl.DataFrame, pl.DataFrame]:
    if isinstance(source, Path):
        with source.open("rb") as file:
            head = file.read(_HEAD_BYTES)
    else:
        head = source
    if not head.strip():
        raise InputError(name, "a CSV file with a header line (the file is empty)")
    if name.lower().endswith(".tsv"):
        separator = "\t"
    else:
        header = head.split(b"\n", 1)[0].decode("utf-8", errors="replace")
        counts = {sep: header.count(sep) for sep in _CSV_SEPARATORS}
        separator = max(_CSV_SEPARATORS, key=lambda sep: (counts[sep], sep == ","))
    try:
        table = pl.read_csv(source, infer_schema=False, separator=separator)
        frame, rejected = _numbered(table, range(1, table.height + 1), name), _no_rejects()
    except pl.exceptions.NoDataError:
        raise InputError(name, "a CSV file with a header line (the file is empty)") from None
    except pl.exceptions.PolarsError:
        frame, rejected = _read_csv_slowly(_bytes(source), name, separator)
    fields = [c for c in frame.columns if c != ROW_NUMBER]
    unnamed_empty = [c for c in fields if not c.strip() and frame[c].null_count() == frame.height]
    frame = frame.drop(unnamed_empty)
    if fields:
        frame = frame.filter(~pl.all_horizontal(pl.exclude(ROW_NUMBER).is_null()))
    return _mapped(frame, column_map, name), rejected


def _read_csv_slowly(data: bytes, name: str, separator: str) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Error path for CSV polars cannot split: records with too many fields go to quarantine.

    Records with fewer fields than the header are padded with nulls, as polars does.
    """
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise InputError(name, f"UTF-8 text (invalid byte at offset {error.start})") from None
    consumed: list[str] = []

    def lines():
        for line in io.StringIO(text, newline=""):
            consumed.append(line)
            yield line

    # Strict: a record csv cannot split for sure (an unclosed quote) is rejected, not guessed.
    reader = csv.reader(lines(), delimiter=separator, strict=True)
    try:
        header = next(reader, None)
    except csv.Error as error:
        raise InputError(name, f"a readable CSV header line ({error})") from None
    if not header:
        raise InputError(name, "a CSV file with a header line")
    try:
        names = pl.read_csv("".join(consumed).encode(), separator=separator, n_rows=0).columns
    except pl.exceptions.PolarsError as error:
        raise InputError(name, f"a readable CSV header line ({error})") from None
    width = len(names)
    good: list[list[str | None]] = []
    good_rows: list[int] = []
    bad_rows: list[int] = []
    bad_detail: list[str] = []
    bad_raw: list[str] = []
    number = 0
    while True:
        consumed.clear()
        try:
            fields = next(reader)
            problem = None if len(fields) <= width else f"{len(fields)} fields, expected {width}"
        except StopIteration:
            break
        except csv.Error as error:
            fields, problem = [], f"unreadable CSV record: {error}"
        number += 1
        if problem is not None:
            bad_rows.append(number)
            bad_detail.append(problem)
            bad_raw.append("".join(consumed).rstrip("\r\n"))
        elif any(fields):
            good.append([field or None for field in fields] + [None] * (width - len(fields)))
            good_rows.append(number)
    table = pl.DataFrame(good, schema=dict.fromkeys(names, pl.String), orient="row")
    rejected = _quarantine(bad_rows, Reason.MALFORMED_RECORD, bad_detail, bad_raw)
    return _numbered(table, good_rows, name), rejected


# --- NDJSON -----------------------------------------------------------------------------------


def _read_ndjson(
    source: _Source, name: str, column_map: Mapping[str, str]
) -> tuple[pl.DataFrame, pl.DataFrame]:
    data = _bytes(source)
    if not data.strip():
        raise InputError(name, "one JSON object per line (the file is empty)")
    lines = data.count(b"\n") + (not data.endswith(b"\n"))
    try:
        table = pl.read_ndjson(data, infer_schema_length=None)
    except (pl.exceptions.PolarsError, TypeError, ValueError, OverflowError):
        table = None
    if table is not None and table.height == lines:
        frame, rejected = _numbered(table, range(1, lines + 1), name), _no_rejects()
    else:
        frame, rejected = _read_ndjson_slowly(data, name)
    return _mapped(frame, column_map, name), rejected


def _read_ndjson_slowly(data: bytes, name: str) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Error path for NDJSON polars cannot read: lines not holding a JSON object are rejected."""
    records: list[dict] = []
    rows: list[int] = []
    bad_rows: list[int] = []
    bad_detail: list[str] = []
    bad_raw: list[str] = []
    for number, line in enumerate(data.split(b"\n"), start=1):
        if not line.strip():
            continue
        try:
            value = orjson.loads(line)
            problem = None if isinstance(value, dict) else "expected a JSON object"
        except orjson.JSONDecodeError as error:
            value, problem = None, f"not JSON: {error}"
        if problem is None:
            records.append(value)
            rows.append(number)
        else:
            bad_rows.append(number)
            bad_detail.append(problem)
            bad_raw.append(line.decode("utf-8", errors="replace").rstrip("\r"))
    rejected = _quarantine(bad_rows, Reason.MALFORMED_RECORD, bad_detail, bad_raw)
    return _numbered(_records_frame(records), rows, name), rejected


# --- GeoJSON ----------------------------------------------------------------------------------


def _read_geojson(
    source: _Source, name: str, column_map: Mapping[str, str]
) -> tuple[pl.DataFrame, pl.DataFrame]:
    try:
        document = orjson.loads(_bytes(source))
    except orjson.JSONDecodeError as error:
        raise InputError(name, f"GeoJSON, a JSON document ({error})") from None
    kind = document.get("type") if isinstance(document, dict) else type(document).__name__
    if kind == "FeatureCollection" and isinstance(document.get("features"), list):
        features = document["features"]
    elif kind == "Feature":
        features = [document]
    else:
        raise InputError(name, f"a GeoJSON FeatureCollection or Feature (found {kind!r})")
    _check_geojson_crs(document.get("crs"), name)

    rows = np.arange(1, len(features) + 1)
    malformed = _no_rejects()
    if not _all_features(features):
        ok = [_is_feature(feature) for feature in features]
        bad = [i for i, good in enumerate(ok) if not good]
        raw = [orjson.dumps(features[i]).decode() for i in bad]
        malformed = _quarantine(
            rows[bad], Reason.MALFORMED_RECORD, "expected a GeoJSON Feature object", raw
        )
        features = [feature for feature, good in zip(features, ok, strict=True) if good]
        rows = rows[ok]
    properties = list(map(_PROPERTIES, features))
    geometries = list(map(_GEOMETRY, features))
    frame = _mapped(_numbered(_records_frame(properties), rows, name), column_map, name)
    if "lat" in frame.columns and "lon" in frame.columns:
        return frame, malformed
    shapes = shapely.from_geojson(list(map(orjson.dumps, geometries)), on_invalid="ignore")
    shapes = np.asarray(shapes, dtype=object)

    def raw(positions: np.ndarray) -> list[str]:
        return [orjson.dumps(features[i]).decode() for i in positions]

    frame, not_points = _point_positions(frame, shapes, raw, "geometry")
    rejected = pl.concat([malformed, not_points]).sort(ROW_NUMBER)
    return frame, rejected


def _all_features(features: list) -> bool:
    """Whether every entry is an object with object or null properties (no Python-level loop)."""
    if set(map(type, features)) - {dict}:
        return False
    return not set(map(type, map(_PROPERTIES, features))) - {dict, type(None)}


def _is_feature(feature: object) -> bool:
    return isinstance(feature, dict) and isinstance(feature.get("properties"), dict | None)


def _check_geojson_crs(crs: object, name: str) -> None:
    """Reject a legacy ``crs`` member naming anything but WGS84 longitude/latitude."""
    if crs is None:
        return
    properties = crs.get("properties") if isinstance(crs, dict) else None
    label = properties.get("name") if isinstance(properties, dict) else None
    try:
        parsed = pyproj.CRS.from_user_input(label) if isinstance(label, str) else None
    except pyproj.exceptions.CRSError:
        parsed = None
    if parsed is None:
        raise InputError(name, f"coordinates in WGS84 (CRS84); unknown CRS in 'crs' member: {crs}")
    if not parsed.equals(_WGS84, ignore_axis_order=True):
        raise InputError(
            name, f"coordinates in WGS84 (CRS84); the 'crs' member names {label} ({parsed.name})"
        )


# --- GPX --------------------------------------------------------------------------------------


def _read_gpx(
    source: _Source, name: str, column_map: Mapping[str, str]
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Track points (trk/trkseg/trkpt) and route points (rte/rtept) of GPX 1.0 or 1.1.

    Tracks and routes are numbered together in file order; a track without a <name> is called
    ``<file stem>:<number>``. Waypoints are not part of any track and are ignored.
    """
    tracks: list[str | None] = []
    track: list[int] = []
    columns: dict[str, list[str | None]] = {
        c: [] for c in ("lat", "lon", "time", "speed", "course")
    }
    lat, lon, time, speed, course = columns.values()
    parser = ET.iterparse(io.BytesIO(_bytes(source)), events=("end",))
    try:
        for _, element in parser:
            tag = element.tag.rpartition("}")[2]
            if tag in ("trkpt", "rtept"):
                track.append(len(tracks))
                lat.append(element.get("lat"))
                lon.append(element.get("lon"))
                children = {child.tag.rpartition("}")[2]: child.text for child in element}
                time.append(children.get("time"))
                speed.append(children.get("speed"))
                course.append(children.get("course"))
            elif tag in ("trk", "rte"):
                names = [child.text for child in element if child.tag.rpartition("}")[2] == "name"]
                tracks.append(names[0].strip() if names and names[0] else None)
                element.clear()
            elif tag == "trkseg":
                element.clear()
    except ET.ParseError as error:
        raise InputError(name, f"GPX, an XML document ({error})") from None
    if parser.root.tag.rpartition("}")[2] != "gpx":
        raise InputError(name, f"a GPX document (root element is <{parser.root.tag}>)")
    if track and track[-1] >= len(tracks):
        tracks.append(None)
    stem = Path(name).stem
    labels = [label or f"{stem}:{number}" for number, label in enumerate(tracks, start=1)]

    def text(column: str) -> pl.Expr:
        return pl.col(column).str.strip_chars().replace("", None)

    def number(column: str) -> pl.Expr:
        return text(column).cast(pl.Float64, strict=False)

    table = pl.DataFrame(
        {"track": track, **columns},
        schema={"track": pl.Int64, **dict.fromkeys(columns, pl.String)},
    ).select(
        vehicle_id=pl.lit(pl.Series(labels, dtype=pl.String)).gather(pl.col("track")),
        ts=text("time"),
        lat=number("lat"),
        lon=number("lon"),
        speed_kmh=number("speed") * 3.6,
        heading=number("course"),
    )
    frame = _numbered(table, range(1, table.height + 1), name)
    return _mapped(frame, column_map, name), _no_rejects()


# --- Parquet / GeoParquet ---------------------------------------------------------------------


def _read_parquet(
    source: _Source, name: str, column_map: Mapping[str, str]
) -> tuple[pl.DataFrame, pl.DataFrame]:
    try:
        schema = pq.read_schema(source if isinstance(source, Path) else pa.BufferReader(source))
        table = pl.read_parquet(source)
    except (pl.exceptions.PolarsError, pa.ArrowException, OSError) as error:
        raise InputError(name, f"a Parquet file ({error})") from None
    frame = _mapped(_numbered(table, range(1, table.height + 1), name), column_map, name)
    geo = (schema.metadata or {}).get(b"geo")
    if geo is None or ("lat" in frame.columns and "lon" in frame.columns):
        return frame, _no_rejects()
    try:
        meta = orjson.loads(geo)
        column = meta["primary_column"]
        spec = meta["columns"][column]
    except (orjson.JSONDecodeError, KeyError, TypeError):
        raise InputError(name, "GeoParquet 'geo' metadata naming its primary column") from None
    if column not in frame.columns:
        raise InputError(name, "the GeoParquet primary geometry column", column=column)
    if str(spec.get("encoding", "")).upper() != "WKB":
        raise InputError(
            name, f"WKB geometry (encoding is {spec.get('encoding')!r})", column=column
        )
    crs = _geoparquet_crs(spec, name, column)
    shapes = shapely.from_wkb(frame[column].to_numpy(), on_invalid="ignore")

    def raw(positions: np.ndarray) -> list[str | None]:
        return shapely.to_wkt(shapes[positions]).tolist()

    return _point_positions(frame.drop(column), shapes, raw, column, crs)


def _geoparquet_crs(spec: dict, name: str, column: str) -> pyproj.CRS:
    """The CRS of a GeoParquet geometry column (OGC:CRS84 when the metadata has none)."""
    if "crs" not in spec:
        return pyproj.CRS.from_user_input("OGC:CRS84")
    crs = spec["crs"]
    try:
        if isinstance(crs, dict):
            return pyproj.CRS.from_json_dict(crs)
        if isinstance(crs, str):
            return pyproj.CRS.from_user_input(crs)
    except pyproj.exceptions.CRSError:
        pass
    raise InputError(name, f"a known CRS in the GeoParquet metadata (got {crs!r})", column=column)


_READERS: dict[
    str, Callable[[_Source, str, Mapping[str, str]], tuple[pl.DataFrame, pl.DataFrame]]
] = {
    "csv": _read_csv,
    "geojson": _read_geojson,
    "gpx": _read_gpx,
    "parquet": _read_parquet,
    "ndjson": _read_ndjson,
}
