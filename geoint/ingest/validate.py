"""Validation: typed, checked rows out; every bad row quarantined with its reason (SPEC §3).

Each validator takes a reader's frame (``_row`` plus the file's columns, values as the format
gave them) and returns a :class:`Validated` pair. A row fails on the first check it breaks, in
the order the checks are listed, and keeps its original values as JSON in ``raw``.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache

import numpy as np
import pandas as pd
import polars as pl

from geoint.errors import InputError
from geoint.geodesy import haversine_m
from geoint.ingest.coords import parse_coordinate, parse_position
from geoint.ingest.gazetteer import resolve_places
from geoint.schema import (
    COMMODITIES,
    MAX_ID_CHARS,
    PING_REQUIRED,
    QUARANTINE_SCHEMA,
    ROW_NUMBER,
    UTC_DATETIME,
    PositionPrecision,
    Reason,
)
from geoint.settings import IngestSettings
from geoint.vocabularies import SHIPPED, Vocabularies

FLOAT32_MAX = float(np.finfo(np.float32).max)  # optional ping numbers are stored as float32
ENUM_SORT_ROWS = 100_000  # from this many rows, text keys are sorted as Enum codes
ECHO_CHARS = 100  # characters of a refused value repeated in its quarantine detail
SEIZURE_MIN_YEAR = 1970  # seizure archives (CEN, ASAM) reach back decades, unlike pings
SEIZURE_VOCABULARIES = (
    "commodity", "transport_mode", "direction", "concealment", "detection_method", "vehicle_type",
)  # fmt: skip
# a seizure given only a client id gets this id: the same client id, the same seizure id
CLIENT_ID_NAMESPACE = uuid.UUID("4f1f6f0e-3c55-5b8e-9a43-6b1f3c0c2d15")
_POSITION_COLUMNS = ("lat", "lon", "position", "place")


@dataclass
class Validated:
    """Rows that passed (typed) and rows that failed (QUARANTINE_SCHEMA)."""

    good: pl.DataFrame
    quarantined: pl.DataFrame
    # every check each refused row broke (not only its first): what a form shows at its fields
    errors: pl.DataFrame | None = None


@dataclass(frozen=True)
class Check:
    """One rule: rows where `failed` is true are quarantined with `reason` and `detail`."""

    column: str
    reason: Reason
    failed: pl.Expr
    detail: pl.Expr


PING_COLUMNS_HINT = " (map other names with --map lat=latitude)"


def require_columns(
    frame: pl.DataFrame, file: str, required: Sequence[str], hint: str = ""
) -> None:
    """Raise InputError naming the file and the first missing required column."""
    for column in required:
        if column not in frame.columns:
            found = ", ".join(c for c in frame.columns if c != ROW_NUMBER) or "none"
            raise InputError(
                file,
                f"this required column (required: {', '.join(required)}; found: {found}){hint}",
                column=column,
            )


def parse_timestamps(values: pl.Series) -> pl.Series:
    """Return UTC datetimes from ISO 8601 text, epoch seconds or datetimes; null if unparsable."""
    name = values.name
    if values.dtype == pl.Datetime or isinstance(values.dtype, pl.Datetime):
        zone = values.dtype.time_zone
        values = values.dt.cast_time_unit("us")
        return (
            values.dt.convert_time_zone("UTC") if zone else values.dt.replace_time_zone("UTC")
        ).alias(name)
    if values.dtype == pl.Date:
        return values.cast(pl.Datetime("us")).dt.replace_time_zone("UTC").alias(name)
    if values.dtype.is_numeric():
        return _from_epoch(values.cast(pl.Float64)).alias(name)
    text = values.cast(pl.String).str.strip_chars()
    epoch = _from_epoch(text.cast(pl.Float64, strict=False))
    if not epoch.null_count():  # every value epoch seconds (devices): no ISO parse
        return epoch.alias(name)
    iso = pd.to_datetime(text.to_numpy(), format="ISO8601", utc=True, errors="coerce")
    iso_series = pl.Series(name, np.asarray(iso.tz_convert(None), dtype="datetime64[us]"))
    return epoch.fill_null(iso_series.dt.replace_time_zone("UTC")).alias(name)


def _from_epoch(seconds: pl.Series) -> pl.Series:
    return pl.select(_epoch_time(pl.lit(seconds))).to_series()


def _epoch_time(seconds: pl.Expr) -> pl.Expr:
    """UTC datetimes of epoch seconds (null beyond ±1e11 s, NaN or infinite)."""
    finite = seconds.is_finite() & (seconds.abs() < 1e11)
    micros = pl.when(finite).then((seconds * 1e6).round()).otherwise(None).cast(pl.Int64)
    return micros.cast(pl.Datetime("us")).dt.replace_time_zone("UTC")


def validate_pings(
    frame: pl.DataFrame, file: str, settings: IngestSettings, now: datetime
) -> Validated:
    """Check pings: identity, coordinates, time and optional numbers."""
    require_columns(frame, file, PING_REQUIRED, PING_COLUMNS_HINT)
    parsed = [
        pl.col("vehicle_id").cast(pl.String).str.strip_chars().alias("_vehicle_id"),
        _decimal(frame, "lat").alias("_lat"),
        _decimal(frame, "lon").alias("_lon"),
        _epoch_seconds(frame, "ts").alias("_ts"),
        *[_number(frame, c).alias(f"_{c}") for c in ("speed_kmh", "heading", "accuracy_m")],
        (
            pl.col("source").cast(pl.String)
            if "source" in frame.columns
            else pl.lit(None, pl.String)
        ).alias("_source"),
    ]
    earliest = datetime(settings.min_year, 1, 1, tzinfo=now.tzinfo)
    latest = now + timedelta(seconds=settings.max_future_s)
    checks = [
        *_identifier("vehicle_id", "_vehicle_id", "a vehicle id"),
        *_coordinate_checks(frame),
        *_time_checks("ts", "ISO 8601 or epoch seconds", earliest, latest),
        *_optional_number_checks(frame),
    ]
    stored = [
        ROW_NUMBER,
        pl.col("_vehicle_id").alias("vehicle_id"),
        pl.col("_ts").alias("ts"),
        pl.col("_lat").alias("lat"),
        pl.col("_lon").alias("lon"),
        *[
            pl.col(f"_{c}").cast(pl.Float32).alias(c)
            for c in ("speed_kmh", "heading", "accuracy_m")
        ],
        pl.col("_source").alias("source"),
    ]
    passing = _all_passing(frame, parsed, checks, stored)
    if passing is not None:
        return Validated(passing, empty_quarantine())
    typed = _slow_parses(frame.with_columns(parsed), frame)
    good, bad = _split(typed, checks)
    return Validated(good.select(stored), bad)


def _all_passing(
    frame: pl.DataFrame,
    parsed: Sequence[pl.Expr | pl.Series],
    checks: Sequence[Check],
    output: Sequence[str | pl.Expr],
) -> pl.DataFrame | None:
    """The `output` of `frame`'s rows `parsed` in one pass, if every row passes every check;
    None if any fails (or needs a slower parse, which a failed check shows).

    One query for the usual post of clean rows, instead of a parse, a check and a selection
    (docs/ingest.md, "Session 11")."""
    failed = pl.any_horizontal([check.failed.fill_null(False) for check in checks])
    result = frame.lazy().with_columns(parsed).select(*output, failed.alias("__bad")).collect()
    if result.drop_in_place("__bad").any():  # in place: `drop` would be another query
        return None
    return result


def _decimal(frame: pl.DataFrame, column: str) -> pl.Expr:
    """`_coordinate`'s decimal numbers, as an expression (text it cannot read stays null)."""
    if frame.schema[column].is_numeric():
        return pl.col(column).cast(pl.Float64)
    return pl.col(column).cast(pl.String).str.strip_chars().cast(pl.Float64, strict=False)


def _epoch_seconds(frame: pl.DataFrame, column: str) -> pl.Expr | pl.Series:
    """`parse_timestamps`' epoch seconds, as an expression (other text stays null);
    datetimes and dates parsed whole."""
    dtype = frame.schema[column]
    if dtype == pl.Date or isinstance(dtype, pl.Datetime):
        return parse_timestamps(frame[column])
    seconds = pl.col(column).cast(pl.Float64, strict=False)
    if not dtype.is_numeric():
        seconds = pl.col(column).cast(pl.String).str.strip_chars().cast(pl.Float64, strict=False)
    return _epoch_time(seconds)


def _slow_parses(typed: pl.DataFrame, frame: pl.DataFrame) -> pl.DataFrame:
    """Text the one-pass parse left null though given (degrees-minutes-seconds, ISO 8601)
    parsed by `_coordinate` and `parse_timestamps`, for the columns holding some.

    Devices send decimal degrees and epoch seconds: their posts take the one pass only, a
    handful of expressions instead of a dozen steps, each a wait for the interpreter lock
    under load (docs/ingest.md, session 7)."""
    given = {
        target: pl.col(column).cast(pl.String).str.strip_chars()
        for target, column in (("_lat", "lat"), ("_lon", "lon"), ("_ts", "ts"))
        if frame.schema[column] == pl.String
    }
    if not given:
        return typed
    missing = typed.select(
        (pl.col(target).is_null() & text.is_not_null() & (text != "")).any().alias(target)
        for target, text in given.items()
    ).row(0, named=True)
    slow = {
        "_lat": lambda: _coordinate(frame["lat"], "lat"),
        "_lon": lambda: _coordinate(frame["lon"], "lon"),
        "_ts": lambda: parse_timestamps(frame["ts"]),
    }
    redone = [slow[target]().alias(target) for target, found in missing.items() if found]
    return typed.with_columns(redone) if redone else typed


def _time_checks(column: str, form: str, earliest: datetime, latest: datetime) -> list[Check]:
    """Checks that the parsed time `_ts` exists and lies within [earliest, latest]."""
    return [
        Check(column, Reason.UNPARSABLE_TIME, pl.col("_ts").is_null(),
              _detail(f"expected {form}", column)),
        Check(column, Reason.TIME_BEFORE_MIN, pl.col("_ts") < _instant(earliest),
              _detail(f"expected a time after {earliest:%Y-%m-%d}", column)),
        Check(column, Reason.TIME_IN_FUTURE, pl.col("_ts") > _instant(latest),
              _detail(f"expected a time before {latest:%Y-%m-%dT%H:%M:%SZ}", column)),
    ]  # fmt: skip


def _instant(value: datetime) -> pl.Expr:
    """`value` as a UTC microsecond literal: `pl.lit` of an aware datetime builds a Series
    (a trip through the engine, ~0.1 ms); an integer cast is an expression."""
    if value.tzinfo is None:
        return pl.lit(value)
    micros = (value - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1)
    return pl.lit(micros, pl.Int64).cast(pl.Datetime("us", "UTC"))


def _optional_number_checks(frame: pl.DataFrame) -> list[Check]:
    """Checks for the optional numeric ping columns the file has."""

    def beyond(column: str) -> pl.Expr:  # NaN, ±inf, or infinite once stored as float32
        return ~pl.col(column).is_finite() | (pl.col(column).abs() > FLOAT32_MAX)

    ranges = {
        "speed_kmh": (
            (pl.col("_speed_kmh") < 0) | beyond("_speed_kmh"),
            "expected a finite speed >= 0",
        ),
        "heading": (
            (pl.col("_heading") < 0) | (pl.col("_heading") > 360) | beyond("_heading"),
            "expected a heading in [0, 360]",
        ),
        "accuracy_m": (
            (pl.col("_accuracy_m") < 0) | beyond("_accuracy_m"),
            "expected a finite accuracy >= 0",
        ),
    }
    checks = []
    for column, (out_of_range, expected) in ranges.items():
        if column in frame.columns:
            checks.append(_unparsable_number(frame, column))
            checks.append(
                Check(column, Reason.INVALID_VALUE, out_of_range, _detail(expected, column))
            )
    return checks


def _coordinate(values: pl.Series, axis: str) -> pl.Series:
    """Decimal numbers directly; other text (degrees-minutes-seconds) through the parser."""
    if values.dtype.is_numeric():
        return values.cast(pl.Float64)
    text = values.cast(pl.String).str.strip_chars()
    numbers = text.cast(pl.Float64, strict=False)
    other = (numbers.is_null() & text.is_not_null() & (text != "")).arg_true()
    if other.len():
        numbers = numbers.scatter(other, parse_coordinate(text.gather(other), axis))  # type: ignore[arg-type]
    return numbers


def _number(frame: pl.DataFrame, column: str) -> pl.Expr:
    if column not in frame.columns:
        return pl.lit(None, pl.Float64)
    if frame.schema[column].is_numeric():
        return pl.col(column).cast(pl.Float64)
    return pl.col(column).cast(pl.String).str.strip_chars().cast(pl.Float64, strict=False)


def _unparsable_number(frame: pl.DataFrame, column: str) -> Check:
    given = pl.col(column).cast(pl.String).str.strip_chars()
    return Check(
        column,
        Reason.UNPARSABLE_NUMBER,
        given.is_not_null() & (given != "") & pl.col(f"_{column}").is_null(),
        _detail("expected a number", column),
    )


def _coordinate_checks(frame: pl.DataFrame, lat: str = "lat", lon: str = "lon") -> list[Check]:
    lat_given = _given(frame, lat)
    lon_given = _given(frame, lon)
    return [
        Check(
            lat,
            Reason.NULL_COORDINATES,
            ~lat_given | ~lon_given,
            pl.lit("expected both lat and lon"),
        ),
        Check(
            lat,
            Reason.UNPARSABLE_COORDINATES,
            pl.col("_lat").is_null() | pl.col("_lon").is_null(),
            pl.format(
                "expected decimal or degrees-minutes-seconds, got lat={} lon={}",
                pl.col(lat).cast(pl.String),
                pl.col(lon).cast(pl.String),
            ),
        ),
        *_position_range_checks(lat),
    ]


def _position_range_checks(column: str) -> list[Check]:
    """Checks on the parsed `_lat`/`_lon`: NaN, outside ±90/±180, exactly (0, 0)."""
    return [
        Check(column, Reason.NAN_COORDINATES, pl.col("_lat").is_nan() | pl.col("_lon").is_nan(),
              pl.lit("expected numbers, got NaN")),
        Check(column, Reason.OUT_OF_RANGE_COORDINATES,
              (pl.col("_lat").abs() > 90) | (pl.col("_lon").abs() > 180),
              pl.format("expected lat in [-90, 90] and lon in [-180, 180], got {} {}",
                        pl.col("_lat"), pl.col("_lon"))),
        Check(column, Reason.NULL_ISLAND, (pl.col("_lat") == 0) & (pl.col("_lon") == 0),
              pl.lit("expected a real position, got (0, 0)")),
    ]  # fmt: skip


def _given(frame: pl.DataFrame, column: str) -> pl.Expr:
    if frame.schema[column] == pl.String:
        return pl.col(column).str.strip_chars().fill_null("") != ""
    return pl.col(column).is_not_null()


def _missing(column: str, typed: str, what: str) -> Check:
    return Check(
        column,
        Reason.MISSING_VALUE,
        pl.col(typed).is_null() | (pl.col(typed) == ""),
        pl.lit(f"expected {what}"),
    )


def _identifier(column: str, typed: str, what: str) -> list[Check]:
    """An identifier is given, at most MAX_ID_CHARS long, and free of control characters."""
    return [
        _missing(column, typed, what),
        Check(
            column,
            Reason.INVALID_VALUE,
            (pl.col(typed).str.len_chars() > MAX_ID_CHARS)
            | pl.col(typed).str.contains(r"[\x00-\x1F\x7F]"),
            pl.format(
                f"expected {what} of at most {MAX_ID_CHARS} characters without control "
                "characters, got {} characters",
                pl.col(typed).str.len_chars(),
            ),
        ),
    ]


@lru_cache(maxsize=256)
def _detail(expected: str, column: str) -> pl.Expr:
    """`expected` and the value given, cut at ECHO_CHARS (the whole value is in ``raw``)."""
    given = pl.col(column).cast(pl.String)
    cut = pl.when(given.str.len_chars() > ECHO_CHARS).then(
        given.str.slice(0, ECHO_CHARS) + pl.lit("…")
    )
    return pl.format(f"{expected}, got {{}}", cut.otherwise(given).fill_null("empty"))


def _split(typed: pl.DataFrame, checks: Sequence[Check]) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Split rows into passing and failing; failing rows carry the first broken check."""
    original = [c for c in typed.columns if not c.startswith("_")]
    failed = [c.failed.fill_null(False) for c in checks]
    marked = typed.with_columns(pl.any_horizontal(failed).alias("__bad"))
    if not marked["__bad"].any():  # the usual case: no row to quarantine, no reasons to build
        return marked.drop("__bad"), empty_quarantine()
    reason, column, detail = (
        pl.lit(None, pl.String),
        pl.lit(None, pl.String),
        pl.lit(None, pl.String),
    )
    for check, fail in zip(reversed(checks), reversed(failed), strict=True):
        reason = pl.when(fail).then(pl.lit(check.reason.value)).otherwise(reason)
        column = pl.when(fail).then(pl.lit(check.column)).otherwise(column)
        detail = pl.when(fail).then(check.detail).otherwise(detail)
    good = marked.filter(~pl.col("__bad")).drop("__bad")
    bad = (
        marked.filter(pl.col("__bad"))
        .with_columns(reason.alias("__reason"), column.alias("__column"), detail.alias("__detail"))
        .select(
            pl.col(ROW_NUMBER).cast(pl.Int64),
            pl.col("__column").alias("column"),
            pl.col("__reason").alias("reason"),
            pl.col("__detail").alias("detail"),
            _raw_json(original),
        )
    )
    return good, bad


def _raw_json(columns: Sequence[str]) -> pl.Expr:
    fields = [pl.col(c).cast(pl.String) for c in columns if c != ROW_NUMBER]
    if not fields:
        return pl.lit("{}").alias("raw")
    return pl.struct(fields).struct.json_encode().alias("raw")


def empty_quarantine() -> pl.DataFrame:
    """Return an empty quarantine frame (a copy: building one from the schema costs ~60 µs,
    and a group of posts asks for several)."""
    return _EMPTY_QUARANTINE.clone()


_EMPTY_QUARANTINE = pl.DataFrame(schema=QUARANTINE_SCHEMA)


def duplicates_within(
    frame: pl.DataFrame, keys: Sequence[str], same: Sequence[str], raw: Sequence[str]
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Keep the first row (in file order) of every key; later rows become duplicate rows.

    A later row whose `same` columns equal the first one's is a ``duplicate``; one that
    differs is a ``conflicting_duplicate`` (the same vehicle at two places at one time).
    The kept rows come back sorted by `keys`, which is how the store wants them.
    """
    ordered = sort_by_keys(frame, keys)
    repeat = pl.all_horizontal([pl.col(k) == pl.col(k).shift(1) for k in keys]).fill_null(False)
    repeated = ordered.select(repeat.alias("_repeat")).to_series()
    if not repeated.any():  # the usual input: no more queries
        return ordered, empty_quarantine()
    marked = ordered.with_columns(repeated)
    first = marked.filter(~pl.col("_repeat")).drop("_repeat")
    # each row's run-first values, carried forward over the repeats that follow it
    runs = marked.with_columns(
        [
            pl.when(~pl.col("_repeat")).then(pl.col(c)).forward_fill().alias(f"_first_{c}")
            for c in same
        ]
    )
    later = runs.filter(pl.col("_repeat")).drop("_repeat")
    return first, _duplicate_rows(later, keys, same, raw)


def sort_by_keys(frame: pl.DataFrame, keys: Sequence[str]) -> pl.DataFrame:
    """Return `frame` sorted by `keys` then file order; cheap when it is already sorted.

    Text keys are sorted through an Enum of their (few) distinct values: integer sorts are
    several times faster than string sorts on millions of rows.
    """
    if frame.select(pl.struct(*keys, ROW_NUMBER).is_sorted()).item():
        return frame
    if frame.height < ENUM_SORT_ROWS:  # a group of posts: one query, not five
        return frame.sort([*keys, ROW_NUMBER])
    by = []
    for key in keys:
        if frame.schema[key] == pl.String:
            levels = frame[key].drop_nulls().unique().sort().to_list()
            by.append(pl.col(key).cast(pl.Enum(levels)).to_physical())
        else:
            by.append(pl.col(key))
    return frame.sort([*by, pl.col(ROW_NUMBER)])


def duplicates_of_stored(
    frame: pl.DataFrame,
    stored: pl.DataFrame,
    keys: Sequence[str],
    same: Sequence[str],
    raw: Sequence[str],
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Drop rows whose key is already stored; they become duplicate quarantine rows."""
    if stored.height == 0 or frame.height == 0:
        return frame, empty_quarantine()
    reference = stored.select(*keys, *[pl.col(c).alias(f"_first_{c}") for c in same]).unique(keys)
    new = frame.join(reference.select(keys), on=keys, how="anti", maintain_order="left")
    if new.height == frame.height:  # the usual case: nothing stored again
        return new, empty_quarantine()
    old = frame.join(reference, on=keys, how="inner", maintain_order="left")
    return new, _duplicate_rows(old, keys, same, raw)


def _duplicate_rows(
    rows: pl.DataFrame, keys: Sequence[str], same: Sequence[str], raw: Sequence[str]
) -> pl.DataFrame:
    equal = pl.all_horizontal(
        [(pl.col(c) == pl.col(f"_first_{c}")).fill_null(pl.col(c).is_null()) for c in same]
    )
    key_text = pl.concat_str([pl.col(k).cast(pl.String) for k in keys], separator=" @ ")
    return rows.select(
        pl.col(ROW_NUMBER).cast(pl.Int64),
        pl.lit(keys[0]).alias("column"),
        pl.when(equal)
        .then(pl.lit(Reason.DUPLICATE.value))
        .otherwise(pl.lit(Reason.CONFLICTING_DUPLICATE.value))
        .alias("reason"),
        pl.format("already have {}", key_text).alias("detail"),
        _raw_json(raw),
    )


def flag_spikes(pings: pl.DataFrame, max_speed_kmh: float) -> pl.Series:
    """Return True for pings whose implied speed to both neighbours exceeds `max_speed_kmh`.

    `pings` must be sorted by vehicle and time; a vehicle's first and last pings have only one
    neighbour and are never spikes.
    """
    fast = segment_speeds_kmh(pings) > max_speed_kmh  # segment i joins pings i and i + 1
    spike = np.zeros(pings.height, dtype=bool)
    if pings.height > 2:
        spike[1:-1] = fast[:-1] & fast[1:]
    return pl.Series("spike", spike)


def segment_speeds_kmh(pings: pl.DataFrame) -> np.ndarray:
    """Return the implied speed from each ping to the next (NaN across vehicles; inf if no time)."""
    if pings.height < 2:
        return np.zeros(0)
    lat = pings["lat"].to_numpy()
    lon = pings["lon"].to_numpy()
    seconds = np.diff(pings["ts"].to_numpy()).astype("m8[us]").astype(np.int64) / 1e6
    vehicle = pings["vehicle_id"]
    same = vehicle.slice(1) == vehicle.slice(0, pings.height - 1)
    # a comparison is no query (filling its nulls is): a small group pays for each one
    same = same.to_numpy() if not same.null_count() else same.fill_null(False).to_numpy()
    metres = haversine_m(lat[:-1], lon[:-1], lat[1:], lon[1:])
    with np.errstate(divide="ignore", invalid="ignore"):
        speed = np.where(seconds > 0, metres / seconds * 3.6, np.where(metres > 0, np.inf, 0.0))
    return np.where(same, speed, np.nan)


def client_seizure_id(client_id: str) -> str:
    """The seizure id given to a record that has only a client id (the same for every resend)."""
    return f"C-{uuid.uuid5(CLIENT_ID_NAMESPACE, client_id)}"


def validate_seizures(
    frame: pl.DataFrame,
    file: str,
    gazetteer: pl.DataFrame,
    now: datetime,
    vocabularies: Vocabularies = SHIPPED,
) -> Validated:
    """Check CEN-style seizures; positions from lat/lon, a `position` text or a `place` name;
    the vocabulary fields hold a code, a label or an alias of their (extended) vocabularies."""
    if "date" not in frame.columns:
        for alias in ("datetime", "ts"):
            if alias in frame.columns:
                frame = frame.rename({alias: "date"})
                break
    if "client_id" in frame.columns and "seizure_id" not in frame.columns:
        frame = frame.with_columns(pl.lit(None, pl.String).alias("seizure_id"))
    require_columns(frame, file, ("seizure_id", "date"), " (or client_id)")
    has_latlon = {"lat", "lon"} <= set(frame.columns)
    if not has_latlon and "position" not in frame.columns and "place" not in frame.columns:
        raise InputError(
            file, "a position: columns lat and lon, or position, or place", column="lat"
        )
    lat, lon = _seizure_position(frame, has_latlon)
    places = (
        resolve_places(frame["place"].cast(pl.String), gazetteer)
        if "place" in frame.columns
        else pl.DataFrame(
            {
                "lat": [None] * frame.height,
                "lon": [None] * frame.height,
                "position_precision": [None] * frame.height,
            },
            schema={"lat": pl.Float64, "lon": pl.Float64, "position_precision": pl.String},
        )
    )
    exact = lat.is_not_null() & lon.is_not_null()
    position_given = _position_given(frame, has_latlon)
    client_id = _optional_text(frame, "client_id")
    given_id = _optional_text(frame, "seizure_id")
    typed = frame.with_columns(
        client_id.alias("_client_id"),
        pl.coalesce(given_id, _client_seizure_ids(frame)).alias("_seizure_id"),
        parse_timestamps(frame["date"]).alias("_ts"),
        pl.when(exact).then(lat).otherwise(places["lat"]).alias("_lat"),
        pl.when(exact).then(lon).otherwise(places["lon"]).alias("_lon"),
        pl.when(exact)
        .then(pl.lit(PositionPrecision.EXACT.value))
        .otherwise(places["position_precision"])
        .alias("_position_precision"),
        position_given.alias("_position_given"),
        _number(frame, "quantity").alias("_quantity"),
        *[
            (
                vocabularies.normalise(c, pl.col(c))
                if c in frame.columns
                else pl.lit(None, pl.String)
            ).alias(f"_{c}")
            for c in SEIZURE_VOCABULARIES
        ],
    )
    earliest = datetime(SEIZURE_MIN_YEAR, 1, 1, tzinfo=now.tzinfo)
    place_text = (
        pl.col("place").cast(pl.String) if "place" in frame.columns else pl.lit(None, pl.String)
    )
    checks = [
        *_identifier("seizure_id", "_seizure_id", "a seizure id (or a client_id)"),
        *(
            [_optional_identifier("client_id", "_client_id", "a client id")]
            if "client_id" in frame.columns
            else []
        ),
        *_time_checks("date", "an ISO 8601 date or datetime", earliest, now),
        Check(
            "position" if not has_latlon else "lat",
            Reason.UNPARSABLE_COORDINATES,
            pl.col("_position_given") & pl.col("_lat").is_null(),
            pl.lit("expected decimal or degrees-minutes-seconds coordinates"),
        ),
        Check(
            "place",
            Reason.UNKNOWN_PLACE,
            ~pl.col("_position_given") & place_text.is_not_null() & pl.col("_lat").is_null(),
            pl.format("expected a place in the gazetteer, got {}", place_text),
        ),
        Check(
            "lat",
            Reason.NULL_COORDINATES,
            pl.col("_lat").is_null(),
            pl.lit("expected lat/lon, a position or a place name"),
        ),
        *_position_range_checks("lat"),
        *[
            _term_check(frame, c, vocabularies.codes(c))
            for c in SEIZURE_VOCABULARIES
            if c in frame.columns
        ],
    ]
    if "quantity" in frame.columns:
        checks += [
            _unparsable_number(frame, "quantity"),
            Check(
                "quantity",
                Reason.INVALID_VALUE,
                pl.col("_quantity") < 0,
                _detail("expected a quantity >= 0", "quantity"),
            ),
        ]
    good, bad = _split(typed, checks)
    text = (
        "unit", "origin_country", "destination_country", "vehicle_id", "description", "place",
    )  # fmt: skip
    good = good.select(
        ROW_NUMBER,
        pl.col("_seizure_id").alias("seizure_id"),
        pl.col("_ts").alias("ts"),
        pl.col("_lat").alias("lat"),
        pl.col("_lon").alias("lon"),
        pl.col("_position_precision").alias("position_precision"),
        pl.col("_quantity").alias("quantity"),
        *[pl.col(f"_{c}").alias(c) for c in SEIZURE_VOCABULARIES],
        *[
            (
                pl.col(c).cast(pl.String).str.strip_chars()
                if c in frame.columns
                else pl.lit(None, pl.String)
            ).alias(c)
            for c in text
        ],
        pl.col("_client_id").alias("client_id"),
    )
    return Validated(good, bad, _every_failure(typed, checks))


def _client_seizure_ids(frame: pl.DataFrame) -> pl.Series:
    """The seizure id each row's client id gives (null without one); hashed per row, as uuid5
    has no vectorised form: records posted by hand are few."""
    if "client_id" not in frame.columns:
        return pl.Series([None] * frame.height, dtype=pl.String)
    given = frame.select(_optional_text(frame, "client_id")).to_series()
    return pl.Series(
        [None if c is None else client_seizure_id(c) for c in given.to_list()], dtype=pl.String
    )


def _optional_identifier(column: str, typed: str, what: str) -> Check:
    """An optional identifier, when given, is at most MAX_ID_CHARS long without control chars."""
    return _identifier(column, typed, what)[1]


def _term_check(frame: pl.DataFrame, column: str, codes: Sequence[str]) -> Check:
    """A vocabulary field that was given must stand for one of its terms."""
    return Check(
        column,
        Reason.INVALID_VALUE,
        _given(frame, column) & pl.col(f"_{column}").is_null(),
        _detail(f"expected one of {', '.join(codes)} (or their English or French labels)", column),
    )


def _every_failure(typed: pl.DataFrame, checks: Sequence[Check]) -> pl.DataFrame:
    """Every (row, column) check broken, in check order; a position reports only its first."""
    found = [
        typed.filter(check.failed.fill_null(False)).select(
            pl.col(ROW_NUMBER).cast(pl.Int64),
            pl.lit(check.column).alias("column"),
            pl.lit(check.reason.value).alias("reason"),
            check.detail.cast(pl.String).alias("detail"),
            pl.lit(order).alias("_order"),
        )
        for order, check in enumerate(checks)
    ]
    if not found:
        return empty_quarantine().drop("raw")
    group = pl.when(pl.col("column").is_in(_POSITION_COLUMNS)).then(pl.lit("position"))
    return (
        pl.concat(found)
        .with_columns(group.otherwise(pl.col("column")).alias("_group"))
        .sort(ROW_NUMBER, "_order")
        .unique([ROW_NUMBER, "_group"], keep="first", maintain_order=True)
        .drop("_order", "_group")
    )


def _seizure_position(frame: pl.DataFrame, has_latlon: bool) -> tuple[pl.Series, pl.Series]:
    if has_latlon:
        return _coordinate(frame["lat"], "lat"), _coordinate(frame["lon"], "lon")
    if "position" in frame.columns:
        return parse_position(frame["position"].cast(pl.String))
    empty = pl.Series([None] * frame.height, dtype=pl.Float64)
    return empty, empty


def _position_given(frame: pl.DataFrame, has_latlon: bool) -> pl.Expr:
    if has_latlon:
        return _given(frame, "lat") | _given(frame, "lon")
    if "position" in frame.columns:
        return _given(frame, "position")
    return pl.lit(False)


def _vocabulary(frame: pl.DataFrame, column: str) -> pl.Expr:
    if column not in frame.columns:
        return pl.lit(None, pl.String)
    cleaned = (
        pl.col(column)
        .cast(pl.String)
        .str.strip_chars()
        .str.to_lowercase()
        .str.replace_all(r"[\s\-/]+", "_")
    )
    return pl.when(cleaned == "").then(None).otherwise(cleaned)


def _vocabulary_check(column: str, allowed: Sequence[str]) -> Check:
    return Check(
        column,
        Reason.INVALID_VALUE,
        pl.col(f"_{column}").is_not_null() & ~pl.col(f"_{column}").is_in(list(allowed)),
        _detail(f"expected one of {', '.join(allowed)}", column),
    )


# --------------------------------------------------------------- watch list, declarations
WATCHLIST_KINDS = ("vehicle", "person", "company")
DECLARATION_TEXT = ("operator", "consignee", "origin_country", "destination_country")


def validate_watchlist(frame: pl.DataFrame, file: str, now: datetime) -> Validated:
    """Check CTS-style watch-list entries: a vehicle id (or, for persons and companies, their
    name in ``subject``), a reason, an optional expiry and ``kind`` (vehicle by default)."""
    if "vehicle_id" not in frame.columns and "subject" in frame.columns:
        frame = frame.rename({"subject": "vehicle_id"})
    require_columns(frame, file, ("vehicle_id", "reason"))
    expires = parse_timestamps(frame["expires"]) if "expires" in frame.columns else None
    typed = frame.with_columns(
        pl.col("vehicle_id").cast(pl.String).str.strip_chars().alias("_vehicle_id"),
        pl.col("reason").cast(pl.String).str.strip_chars().alias("_reason"),
        (expires if expires is not None else pl.lit(None, UTC_DATETIME)).alias("_expires"),
        _vocabulary(frame, "kind").fill_null("vehicle").alias("_kind"),
    )
    checks = [
        *_identifier("vehicle_id", "_vehicle_id", "a vehicle id (or a subject)"),
        _missing("reason", "_reason", "a reason"),
        *([_vocabulary_check("kind", WATCHLIST_KINDS)] if "kind" in frame.columns else []),
    ]
    if "expires" in frame.columns:
        checks.append(
            Check(
                "expires",
                Reason.UNPARSABLE_TIME,
                _given(frame, "expires") & pl.col("_expires").is_null(),
                _detail("expected an ISO 8601 date or datetime", "expires"),
            )
        )
    good, bad = _split(typed, checks)
    good = good.select(
        ROW_NUMBER,
        pl.col("_vehicle_id").alias("vehicle_id"),
        pl.col("_reason").alias("reason"),
        pl.col("_expires").alias("expires"),
        pl.col("_kind").alias("kind"),
    )
    return Validated(good, bad)


def validate_declarations(frame: pl.DataFrame, file: str, now: datetime) -> Validated:
    """Check transit declarations: vehicle, corridor, start, deadline and destination office."""
    required = ("vehicle_id", "corridor_id", "start", "deadline", "dest_lat", "dest_lon")
    require_columns(frame, file, required)
    typed = frame.with_columns(
        pl.col("vehicle_id").cast(pl.String).str.strip_chars().alias("_vehicle_id"),
        pl.col("corridor_id").cast(pl.String).str.strip_chars().alias("_corridor_id"),
        parse_timestamps(frame["start"]).alias("_start"),
        parse_timestamps(frame["deadline"]).alias("_deadline"),
        _coordinate(frame["dest_lat"], "lat").alias("_lat"),
        _coordinate(frame["dest_lon"], "lon").alias("_lon"),
        (
            SHIPPED.normalise("commodity", pl.col("commodity"))
            if "commodity" in frame.columns
            else pl.lit(None, pl.String)
        ).alias("_commodity"),
        _hs_code(frame).alias("_hs_code"),
    )
    checks = [
        *_identifier("vehicle_id", "_vehicle_id", "a vehicle id"),
        *_identifier("corridor_id", "_corridor_id", "a corridor id"),
        *([_term_check(frame, "commodity", COMMODITIES)] if "commodity" in frame.columns else []),
        *(
            [
                Check(
                    "hs_code",
                    Reason.INVALID_VALUE,
                    pl.col("_hs_code").is_not_null()
                    & ~pl.col("_hs_code").str.contains(r"^\d{4,10}$"),
                    _detail("expected an HS code of 4 to 10 digits", "hs_code"),
                )
            ]
            if "hs_code" in frame.columns
            else []
        ),
        Check(
            "start",
            Reason.UNPARSABLE_TIME,
            pl.col("_start").is_null(),
            _detail("expected an ISO 8601 datetime", "start"),
        ),
        Check(
            "deadline",
            Reason.UNPARSABLE_TIME,
            pl.col("_deadline").is_null(),
            _detail("expected an ISO 8601 datetime", "deadline"),
        ),
        Check(
            "deadline",
            Reason.INVALID_VALUE,
            pl.col("_deadline") <= pl.col("_start"),
            _detail("expected a deadline after the start", "deadline"),
        ),
        *_coordinate_checks(frame, "dest_lat", "dest_lon"),
    ]
    good, bad = _split(typed, checks)
    good = good.select(
        ROW_NUMBER,
        pl.col("_vehicle_id").alias("vehicle_id"),
        pl.col("_corridor_id").alias("corridor_id"),
        pl.col("_start").alias("start"),
        pl.col("_deadline").alias("deadline"),
        pl.col("_lat").alias("dest_lat"),
        pl.col("_lon").alias("dest_lon"),
        pl.col("_commodity").alias("commodity"),
        pl.col("_hs_code").alias("hs_code"),
        *[_optional_text(frame, c).alias(c) for c in DECLARATION_TEXT],
    )
    return Validated(good, bad)


def _optional_text(frame: pl.DataFrame, column: str) -> pl.Expr:
    """A text column stripped, empty as null (null when the input lacks the column)."""
    if column not in frame.columns:
        return pl.lit(None, pl.String)
    text = pl.col(column).cast(pl.String).str.strip_chars()
    return pl.when(text == "").then(None).otherwise(text)


def _hs_code(frame: pl.DataFrame) -> pl.Expr:
    """The HS code without its dots and spaces (``2710.19`` → ``271019``)."""
    if "hs_code" not in frame.columns:
        return pl.lit(None, pl.String)
    return _optional_text(frame, "hs_code").str.replace_all(r"[.\s]", "")
