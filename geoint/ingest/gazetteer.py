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
