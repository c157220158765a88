"""Coordinate text to decimal degrees, vectorised with polars string expressions.

Accepted forms of one coordinate (case and whitespace, including newlines, do not matter):
decimal degrees (``6.3794``, ``-2.5``), decimal with a hemisphere letter before or after
(``6.3794N``, ``2.70 E``), degrees-minutes-seconds with symbols (``13°43'00"N``,
``13°43'00''N``), degrees and decimal minutes (``6°22.76'N``), and hyphen, colon or space
separated forms (``13-43N``, ``013-43.5E``, ``13 43 00 N``, ``N 13 43 00``). S and W are
negative. Minutes or seconds of 60 or more, degrees beyond ±90 (lat) or ±180 (lon), a sign
together with a hemisphere, or a hemisphere of the other axis give null.
"""

from __future__ import annotations

from typing import Literal

import polars as pl

Axis = Literal["lat", "lon"]

_LIMIT = {"lat": 90.0, "lon": 180.0}
_HEMISPHERES = {"lat": ("N", "S"), "lon": ("E", "W")}

_NUMBER = r"[0-9]+(?:\.[0-9]+)?"
# Degrees, then optionally minutes, then optionally seconds, each followed by its symbol
# (° ' ") or separated by a hyphen, a colon or a space; the text is normalised first.
_BODY = (
    rf"^(?P<sign>[-+])? ?(?P<deg>{_NUMBER})"
    rf"(?: ?°|(?: ?° ?| ?[-:] ?| )(?P<min>{_NUMBER})"
    rf"(?: ?'|(?: ?' ?| ?[-:] ?| )(?P<sec>{_NUMBER}) ?\"?)?)?$"
)
# Ways to split a combined position into its two coordinates, tried in this order.
_POSITION_SPLITS = (
    r"^(?P<a>[^A-Z,;]+[NSEW]) ?[,;-]? ?(?P<b>[^A-Z,;]+[NSEW])$",  # 13°43'N 121°02'E
    r"^(?P<a>[NSEW][^A-Z,;]+?) ?[,;-]? ?(?P<b>[NSEW][^A-Z,;]+)$",  # N 13 43 E 121 02
    r"^(?P<a>[^A-Z,;]+)[,;](?P<b>[^A-Z,;]+)$",  # 6.3794, 2.7035
    r"^(?P<a>[^A-Z,; ]+) (?P<b>[^A-Z,; ]+)$",  # 6.3794 2.7035
)


def _normalised(text: pl.Expr) -> pl.Expr:
    """Upper case, one spelling per symbol, single spaces, no surrounding space."""
    return (
        text.str.to_uppercase()
        .str.replace_all("[\u00ba\u02da]", "°")  # ordinal indicator, ring above
        .str.replace_all("[\u2032\u2018\u2019\u00b4`]", "'")  # prime, curly quotes, accents
        .str.replace_all("''", '"', literal=True)
        .str.replace_all("[\u2033\u201c\u201d]", '"')  # double prime, curly double quotes
        .str.replace_all('"+', '"')
        .str.replace_all("[\u2212\u2013\u2014]", "-")  # minus sign, en and em dashes
        .str.replace_all(r"\s+", " ")
        .str.strip_chars()
    )


def _degrees(axis: Axis) -> pl.Expr:
    """Signed decimal degrees from the columns lead, trail, sign, deg, min and sec."""
    lead, trail, sign = pl.col("lead"), pl.col("trail"), pl.col("sign")
    deg_text, min_text, sec_text = pl.col("deg"), pl.col("min"), pl.col("sec")
    hemisphere = pl.coalesce(lead, trail)
    minutes = min_text.cast(pl.Float64).fill_null(0.0)
    seconds = sec_text.cast(pl.Float64).fill_null(0.0)
    value = deg_text.cast(pl.Float64) + minutes / 60.0 + seconds / 3600.0
    valid = (
        ~(lead.is_not_null() & trail.is_not_null())
        & (hemisphere.is_null() | hemisphere.is_in(list(_HEMISPHERES[axis])))
        & ~(sign.is_not_null() & hemisphere.is_not_null())
        & ~(min_text.is_not_null() & deg_text.str.contains(".", literal=True))
        & ~(sec_text.is_not_null() & min_text.str.contains(".", literal=True))
        # Exactly 60' with no seconds is a rounding carry (5.99999° written 5°60'00"): 378 NGA
        # ASAM positions have it and their descriptions give the same place as 06-00.
        # 60.5' or 61' are errors.
        & ((minutes < 60.0) | ((minutes == 60.0) & (seconds == 0.0)))
        & (seconds < 60.0)
        & (value <= _LIMIT[axis])
    ).fill_null(False)
    negative = ((sign == "-") | hemisphere.is_in(["S", "W"])).fill_null(False)
    return pl.when(valid).then(pl.when(negative).then(-value).otherwise(value))


def _parse(text: pl.Series, axis: Axis) -> pl.Series:
    """Decimal degrees of normalised coordinate text, null where it does not parse."""
    body = (
        pl.col("text")
        .str.replace(r"^[NSEW] ?", "")
        .str.replace(r" ?[NSEW]$", "")
        .str.extract_groups(_BODY)
    )
    parts = (
        pl.DataFrame({"text": text})
        .select(
            lead=pl.col("text").str.extract(r"^([NSEW])", 1),
            trail=pl.col("text").str.extract(r"([NSEW])$", 1),
            body=body,
        )
        .unnest("body")
    )
    return parts.select(_degrees(axis).alias(text.name)).to_series()


def parse_coordinate(values: pl.Series, axis: Axis) -> pl.Series:
    """Decimal degrees (Float64) of coordinate text; null where it cannot be parsed."""
    frame = pl.DataFrame({"v": values})
    if values.dtype.is_numeric():
        number = pl.col("v").cast(pl.Float64)
        limited = pl.when(number.abs() <= _LIMIT[axis]).then(number)
        return frame.select(limited.alias(values.name)).to_series()
    text = frame.select(_normalised(pl.col("v").cast(pl.String))).to_series()
    return _parse(text.alias(values.name), axis)


def parse_position(values: pl.Series) -> tuple[pl.Series, pl.Series]:
    """(lat, lon) in decimal degrees of combined position text such as ``13°43'00"N 121°02'00"E``.

    The two coordinates are separated by their hemisphere letters (then optionally a comma,
    semicolon or dash), a comma or semicolon, or a space; latitude comes first unless the
    hemisphere letters say otherwise.
    """
    text = pl.col("text")
    splits = (
        pl.DataFrame({"text": values.cast(pl.String)})
        .select(_normalised(text))
        .select(
            [text.str.extract_groups(p).alias(f"split{i}") for i, p in enumerate(_POSITION_SPLITS)]
        )
    )
    names = splits.columns
    pair = splits.select(
        first=pl.coalesce([pl.col(n).struct.field("a") for n in names]).str.strip_chars(),
        second=pl.coalesce([pl.col(n).struct.field("b") for n in names]).str.strip_chars(),
    ).with_columns(
        swapped=pl.col("first").str.contains("[EW]") & pl.col("second").str.contains("[NS]")
    )
    lat = pair.select(pl.when("swapped").then("second").otherwise("first")).to_series()
    lon = pair.select(pl.when("swapped").then("first").otherwise("second")).to_series()
    return _parse(lat.alias("lat"), "lat"), _parse(lon.alias("lon"), "lon")
