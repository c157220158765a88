"""Place-name resolution: a seizure reported at "Seme" gets Seme's position and a precision flag.

The gazetteer itself is a DataFrame built at the edge (from the region's places layer and the
bundled world places, by ``geoint.layers``) with columns ``name, lat, lon, population, source``.
"""

from __future__ import annotations

import polars as pl

from geoint.schema import PositionPrecision


def place_key(names: pl.Expr) -> pl.Expr:
    """Return a matching key: lower case, accents removed, punctuation and spaces collapsed."""
    return (
        names.str.normalize("NFKD")
        .str.replace_all(r"\p{Mn}", "")
        .str.to_lowercase()
        .str.replace_all(r"[^\p{L}\p{N}]+", " ")
        .str.strip_chars()
    )


def resolve_places(names: pl.Series, gazetteer: pl.DataFrame) -> pl.DataFrame:
    """Return ``lat, lon, position_precision`` for each name (nulls where no place matches).

    Among places sharing a name, region places win over world places, then the most populous;
    the precision is then ``place_ambiguous`` so an analyst knows the position is a guess.
    """
    ranked = (
        gazetteer.with_columns(
            place_key(pl.col("name")).alias("_key"),
            (pl.col("source") == "region").alias("_regional"),
        )
        .sort(["_key", "_regional", "population"], descending=[False, True, True], nulls_last=True)
        .group_by("_key", maintain_order=True)
        .agg(
            pl.col("lat").first(),
            pl.col("lon").first(),
            # the same place listed twice (region and world, or name and ASCII name) is one match
            pl.struct(pl.col("lat").round(2), pl.col("lon").round(2)).n_unique().alias("_matches"),
        )
    )
    wanted = pl.DataFrame({"_name": names}).with_columns(
        place_key(pl.col("_name")).alias("_key"), pl.int_range(pl.len()).alias("_order")
    )
    joined = wanted.join(ranked, on="_key", how="left").sort("_order")
    return joined.select(
        "lat",
        "lon",
        pl.when(pl.col("_matches").is_null())
        .then(None)
        .when(pl.col("_matches") > 1)
        .then(pl.lit(PositionPrecision.PLACE_AMBIGUOUS.value))
        .otherwise(pl.lit(PositionPrecision.PLACE.value))
        .alias("position_precision"),
    )


def search_places(gazetteer: pl.DataFrame, text: str | None, limit: int | None) -> pl.DataFrame:
    """``name, country, lat, lon`` of the places a seizure's ``place`` may name.

    With `text`, the places whose name (ignoring case, accents and punctuation) starts with it,
    or has a word that does: whole-name prefixes first, then region places, then the most
    populous. Without, every place. At most `limit` (None: all); a name at one position once
    (positions to 5 decimals, about a metre).
    """
    places = gazetteer.with_columns(
        place_key(pl.col("name")).alias("_key"),
        (pl.col("source") == "region").alias("_regional"),
        (pl.col("country") if "country" in gazetteer.columns else pl.lit(None, pl.String))
        .cast(pl.String)
        .alias("country"),
    )
    order = ["_regional", "population"]
    if text:
        wanted = pl.select(place_key(pl.lit(text))).item()
        if not wanted:
            return places.select("name", "country", "lat", "lon").clear()
        places = places.filter(
            pl.col("_key").str.starts_with(wanted)
            | pl.col("_key").str.contains(f" {wanted}", literal=True)
        ).with_columns(pl.col("_key").str.starts_with(wanted).alias("_prefix"))
        order = ["_prefix", *order]
    return (
        places.sort(order, descending=True, nulls_last=True, maintain_order=True)
        # a name and its ASCII spelling match alike: one of them is enough
        .with_columns(pl.col("lat").round(5), pl.col("lon").round(5))
        .unique(["_key", "lat", "lon"], keep="first", maintain_order=True)
        .select("name", "country", "lat", "lon")
        .head(limit if limit is not None else places.height)
    )
