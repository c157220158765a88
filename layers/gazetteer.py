"""The gazetteer for place-name positions: the region's places first, then world places."""

from __future__ import annotations

import geopandas as gpd
import polars as pl

from geoint.layers.region import Region
from geoint.layers.world import world_places
from geoint.schema import GAZETTEER_SCHEMA


def build_gazetteer(region: Region | None = None) -> pl.DataFrame:
    """Return ``name, lat, lon, population, source, country`` for the region's and the world's
    places.

    Polygon places are represented by their centroid (a representative point inside them).
    """
    frames = []
    if region is not None:
        places = region.read("places")
        if len(places):
            points = places.geometry.representative_point()
            population = places.get("population")
            frames.append(
                pl.DataFrame(
                    {
                        "name": places["name"].astype(str).tolist(),
                        "lat": points.y.to_numpy(),
                        "lon": points.x.to_numpy(),
                        "population": None
                        if population is None
                        else population.astype(float).to_numpy(),
                        "source": "region",
                    },
                    schema=GAZETTEER_SCHEMA,
                ).with_columns(pl.Series("country", _countries(places), dtype=pl.String))
            )
    world = world_places()
    for column in ("name", "nameascii"):
        frames.append(
            pl.DataFrame(
                {
                    "name": world[column].astype(str).tolist(),
                    "lat": world.geometry.y.to_numpy(),
                    "lon": world.geometry.x.to_numpy(),
                    "population": world["pop_max"].astype(float).to_numpy(),
                    "source": "world",
                },
                schema=GAZETTEER_SCHEMA,
            ).with_columns(pl.Series("country", world["adm0name"].astype(str).tolist()))
        )
    return pl.concat(frames).unique(["name", "lat", "lon", "source"], maintain_order=True)


def _countries(places: gpd.GeoDataFrame) -> list[str | None]:
    """Each place's country, when the layer names one."""
    if "country" not in places.columns:
        return [None] * len(places)
    return [str(c) if isinstance(c, str) and c else None for c in places["country"]]
