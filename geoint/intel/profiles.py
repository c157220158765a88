"""CTS-style risk profiles: indicators over transit declarations and the seizure history, a
score per declaration, and an alert for a high-risk declaration once its transit has started.

A profiles file (TOML, `geoint/intel/profiles.toml` documents the indicator kinds) lists
``[[profile]]`` tables, each with ``[[profile.indicator]]`` tables; a profile hits when all its
indicators hold. Every declaration gets the sum of its hit profiles' scores (capped at 100), a
level (`IntelSettings.high_risk_score`, `medium_risk_score`) and the hits with their evidence.
"""

from __future__ import annotations

import re
import tomllib
from datetime import datetime, timedelta
from importlib.resources import files
from pathlib import Path
from typing import Annotated, Any, Literal

import geopandas as gpd
import numpy as np
import orjson
import polars as pl
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from geoint.alerts.rules import AlertRule, Candidate, assign_sectors, load_rules
from geoint.alerts.store import AlertStore
from geoint.errors import GeointError
from geoint.ground import Ground
from geoint.h3index import cells_to_hex, latlng_to_cells
from geoint.layers import RegionIndex
from geoint.schema import COMMODITIES
from geoint.settings import GeointSettings
from geoint.store.workspace import Workspace
from geoint.times import utc_now_or

Commodity = Literal[COMMODITIES]  # type: ignore[valid-type]
Party = Literal["operator", "consignee", "vehicle"]
PARTY_COLUMNS = {"operator": "operator", "consignee": "consignee", "vehicle": "vehicle_id"}


class ProfileError(GeointError, ValueError):
    """A profiles file that cannot be used: the message names the file, profile and field."""


class _Indicator(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SeizureHistory(_Indicator):
    """A party linked to a seizure within `days` before the transit starts."""

    kind: Literal["seizure_history"]
    party: Party
    commodity: Commodity | Literal["declared"] | None = None  # type: ignore[valid-type]
    days: int = Field(gt=0, le=3650)


class Route(_Indicator):
    """The declared origin, destination, commodity and HS code prefix (each optional)."""

    kind: Literal["route"]
    origin_country: str | None = Field(None, min_length=1)
    destination_country: str | None = Field(None, min_length=1)
    commodity: Commodity | None = None  # type: ignore[valid-type]
    hs_prefix: str | None = Field(None, pattern=r"^\d{2,10}$")


class Watchlisted(_Indicator):
    """A party on the watch list."""

    kind: Literal["watchlist"]
    party: Party


class CrossingClosed(_Indicator):
    """The corridor's official crossing closed when the transit starts."""

    kind: Literal["crossing_closed"]


Indicator = Annotated[
    SeizureHistory | Route | Watchlisted | CrossingClosed, Field(discriminator="kind")
]


class Profile(BaseModel):
    """A named profile: its indicators must all hold."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]*$", max_length=64)
    title: str = Field(min_length=1)
    score: float = Field(gt=0, le=100)
    indicator: tuple[Indicator, ...] = Field(min_length=1)


def default_profiles_path() -> Path:
    """The profiles file shipped with the package."""
    return Path(str(files("geoint.intel") / "profiles.toml"))


def load_profiles(path: Path | None = None) -> tuple[Profile, ...]:
    """Read and validate a profiles file; errors name the file, the profile and the field."""
    path = Path(path) if path is not None else default_profiles_path()
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ProfileError(f"{path}: expected a readable TOML profiles file ({exc})") from None
    unknown = sorted(set(document) - {"profile"})
    if unknown:
        raise ProfileError(f"{path}: field '{unknown[0]}': expected only [[profile]] tables")
    profiles = []
    for number, raw in enumerate(document.get("profile", []), start=1):
        name = raw.get("id", number) if isinstance(raw, dict) else number
        try:
            profiles.append(Profile.model_validate(raw))
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"] if _is_field(p)) or "profile"
            raise ProfileError(
                f"{path}: profile '{name}', field '{where}': {first['msg']}"
            ) from None
    ids = [p.id for p in profiles]
    repeated = sorted({i for i in ids if ids.count(i) > 1})
    if repeated:
        raise ProfileError(f"{path}: profile '{repeated[0]}', field 'id': repeated")
    if not profiles:
        raise ProfileError(f"{path}: field 'profile': expected at least one [[profile]] table")
    return tuple(profiles)


def _is_field(part: object) -> bool:
    """Whether a pydantic error location part names a field or an index (not a union member
    such as ``route`` or ``literal[...]``)."""
    if isinstance(part, int):
        return True
    tags = ("seizure_history", "route", "watchlist", "crossing_closed", "none")
    return bool(re.fullmatch(r"[a-z_][a-z0-9_]*", str(part))) and part not in tags


def score_declarations(
    workspace: Workspace,
    profiles: tuple[Profile, ...],
    index: RegionIndex | None,
    settings: GeointSettings,
) -> pl.DataFrame:
    """Every stored declaration with ``id``, ``score``, ``level`` and ``hits`` (by start)."""
    declarations = workspace.read_table("declarations").drop("batch")
    declarations = declarations.sort("start", "vehicle_id", "corridor_id").with_row_index("_row")
    columns = ("seizure_id", "ts", "commodity", "vehicle_id")
    seizures = workspace.read_table("seizures", columns=columns)
    watchlist = workspace.read_table("watchlist")
    crossing = _corridor_crossings(index, settings.intel.crossing_radius_m)
    hits: list[pl.DataFrame] = []
    for profile in profiles:  # a handful of profiles, each vectorised over the declarations
        rows: pl.DataFrame | None = None
        for indicator in profile.indicator:
            found = _indicator_hits(indicator, declarations, seizures, watchlist, crossing, index)
            rows = (
                found
                if rows is None
                else rows.join(found, on="_row").select(
                    "_row", pl.concat_list("evidence", "evidence_right").alias("evidence")
                )
            )
        hits.append(rows.with_columns(
            profile=pl.lit(profile.id), title=pl.lit(profile.title), score=pl.lit(profile.score)
        ))  # fmt: skip
    every = pl.concat(hits) if hits else pl.DataFrame(
        schema={"_row": pl.UInt32, "evidence": pl.List(pl.String), "profile": pl.String,
                "title": pl.String, "score": pl.Float64})  # fmt: skip
    per_row = every.group_by("_row").agg(
        pl.col("score").sum().clip(upper_bound=100).alias("score"),
        pl.struct("profile", "title", "score", "evidence").alias("hits"),
    )
    intel = settings.intel
    scored = declarations.join(per_row, on="_row", how="left").with_columns(
        pl.col("score").fill_null(0.0)
    )
    return scored.with_columns(
        id=pl.concat_str(
            "vehicle_id", "corridor_id", pl.col("start").dt.strftime("%Y-%m-%dT%H:%M:%SZ"),
            separator="/",
        ),
        level=pl.when(pl.col("score") >= intel.high_risk_score).then(pl.lit("high"))
        .when(pl.col("score") >= intel.medium_risk_score).then(pl.lit("medium"))
        .otherwise(pl.lit("low")),
        hits=pl.col("hits").fill_null(pl.lit([], dtype=per_row.schema["hits"])),
    ).sort("_row").drop("_row")  # fmt: skip


def _indicator_hits(
    indicator: Any,
    declarations: pl.DataFrame,
    seizures: pl.DataFrame,
    watchlist: pl.DataFrame,
    crossing: pl.DataFrame,
    index: RegionIndex | None,
) -> pl.DataFrame:
    """``_row`` and ``evidence`` (texts) of the declarations meeting one indicator."""
    d = declarations
    if isinstance(indicator, Route):
        keep = pl.lit(True)
        for name in ("origin_country", "destination_country"):
            wanted = getattr(indicator, name)
            if wanted is not None:
                keep &= pl.col(name).str.to_lowercase() == wanted.lower()
        if indicator.commodity is not None:
            keep &= pl.col("commodity") == indicator.commodity
        if indicator.hs_prefix is not None:
            keep &= pl.col("hs_code").str.starts_with(indicator.hs_prefix)
        evidence = f"route: {indicator.model_dump(exclude={'kind'}, exclude_none=True)}"
        return d.filter(keep.fill_null(False)).select("_row", evidence=pl.lit([evidence]))
    if isinstance(indicator, Watchlisted):
        kinds = ["vehicle"] if indicator.party == "vehicle" else ["person", "company"]
        listed = watchlist.with_columns(pl.col("kind").cast(pl.String).fill_null("vehicle"))
        listed = listed.filter(pl.col("kind").is_in(kinds)).select(
            name=_party_name("vehicle_id"), reason="reason", expires="expires"
        )
        party = d.select("_row", "start", name=_party_name(PARTY_COLUMNS[indicator.party]))
        joined = party.join(listed, on="name").filter(
            pl.col("expires").is_null() | (pl.col("expires") > pl.col("start"))
        )
        return joined.group_by("_row").agg(
            evidence=pl.format(f"{indicator.party} on the watch list: {{}}", "reason")
        )
    if isinstance(indicator, SeizureHistory):
        name = _party_name(PARTY_COLUMNS[indicator.party])
        links = d.select(party=name, seized_vehicle="vehicle_id").unique()
        party = d.select("_row", "start", "commodity", party=name)
        linked = party.join(links.drop_nulls(), on="party").join(
            seizures.rename({"commodity": "seized", "vehicle_id": "seized_vehicle"}),
            on="seized_vehicle",
        )
        window = (pl.col("ts") < pl.col("start")) & (
            pl.col("ts") >= pl.col("start") - timedelta(days=indicator.days)
        )
        if indicator.commodity == "declared":
            window &= pl.col("seized") == pl.col("commodity")
        elif indicator.commodity is not None:
            window &= pl.col("seized") == indicator.commodity
        return linked.filter(window.fill_null(False)).group_by("_row").agg(
            evidence=pl.format(
                f"{indicator.party} linked to seizure {{}} ({{}}, {{}})",
                "seizure_id", "seized", pl.col("ts").dt.strftime("%Y-%m-%d"),
            )
        )  # fmt: skip
    if crossing.height == 0 or index is None:  # crossing_closed without a region: no hit
        return pl.DataFrame(schema={"_row": pl.UInt32, "evidence": pl.List(pl.String)})
    at = d.select("_row", "start", "corridor_id").join(crossing, on="corridor_id")
    starts = at["start"].dt.replace_time_zone(None).to_numpy().astype("datetime64[ns]")
    is_open = index.crossing_open(at["crossing_row"].to_numpy(), starts)
    closed = at.filter(pl.Series(~is_open))
    return closed.select(
        "_row",
        evidence=pl.concat_list(
            pl.format("crossing {} closed when the transit starts", "crossing")
        ),
    )


def _party_name(column: str) -> pl.Expr:
    """A party's name as matched: case and runs of spaces do not matter."""
    return pl.col(column).str.to_lowercase().str.replace_all(r"\s+", " ").str.strip_chars()


def _corridor_crossings(index: RegionIndex | None, radius_m: float) -> pl.DataFrame:
    """``corridor_id, crossing_row, crossing, lat, lon``: each corridor's nearest official
    crossing within `radius_m` of its line."""
    schema = {"corridor_id": pl.String, "crossing_row": pl.Int64, "crossing": pl.String,
              "lat": pl.Float64, "lon": pl.Float64}  # fmt: skip
    if index is None or "corridors" not in index.region.layers or len(index.crossings) == 0:
        return pl.DataFrame(schema=schema)
    crs = index.region.crs
    corridors = index.region.read("corridors")[["corridor_id", "geometry"]].to_crs(crs)
    crossings = index.crossings[["name", "geometry"]].reset_index(drop=True)
    crossings["crossing_row"] = np.arange(len(crossings))
    nearest = gpd.sjoin_nearest(corridors, crossings.to_crs(crs), max_distance=radius_m)
    nearest = nearest.drop_duplicates("corridor_id")
    points = crossings.geometry.to_numpy()[nearest["crossing_row"].to_numpy()]
    return pl.DataFrame(
        {
            "corridor_id": nearest["corridor_id"].astype(str).to_list(),
            "crossing_row": nearest["crossing_row"].astype(np.int64).to_list(),
            "crossing": nearest["name"].astype(str).to_list(),
            "lat": [p.y for p in points],
            "lon": [p.x for p in points],
        },
        schema=schema,
    )


def declaration_candidates(
    scored: pl.DataFrame,
    rules: tuple[AlertRule, ...],
    crossing: pl.DataFrame,
    now: datetime,
) -> list[Candidate]:
    """One candidate per started declaration scoring at least a declaration rule's minimum;
    placed at its corridor's crossing (else its destination office)."""
    out = []
    located = scored.join(crossing.select("corridor_id", "lat", "lon"), on="corridor_id",
                          how="left")  # fmt: skip
    for rule in rules:
        if rule.kind != "declaration":
            continue
        due = located.filter((pl.col("score") >= rule.min_score) & (pl.col("start") <= now))
        lat = due["lat"].fill_null(due["dest_lat"]).to_numpy()
        lon = due["lon"].fill_null(due["dest_lon"]).to_numpy()
        cells = cells_to_hex(latlng_to_cells(lat, lon, 8)) if due.height else []
        for row, y, x, cell in zip(due.iter_rows(named=True), lat, lon, cells, strict=True):
            profiles = "; ".join(
                f"{h['title']} (+{h['score']:g}: {', '.join(h['evidence'])})" for h in row["hits"]
            )
            out.append(Candidate(
                rule=rule, alert_type="high_risk_declaration", subject=row["vehicle_id"],
                source=f"declaration:{row['id']}", start=row["start"], end=row["deadline"],
                lat=float(y), lon=float(x), cell=cell, vehicles=(row["vehicle_id"],),
                explanation=(
                    f"Rule {rule.id} ({rule.title}): declaration {row['id']} (operator "
                    f"{row['operator'] or 'not given'}, consignee {row['consignee'] or 'not given'}"
                    f", commodity {row['commodity'] or 'not given'}) scores "
                    f"{row['score']:g} ≥ {rule.min_score:g}. Profiles hit: {profiles}."
                ),
            ))  # fmt: skip
    return out


def raise_declaration_alerts(
    workspace: Workspace,
    ground: Ground,
    settings: GeointSettings,
    now: datetime | None = None,
) -> dict[str, int]:
    """Score the declarations and raise the declaration rules' alerts for those started
    (crossing indicators need the region's layers: a `RegionIndex` as the ground)."""
    index = ground if isinstance(ground, RegionIndex) else None
    profiles = load_profiles(settings.intel.profiles_file)
    scored = score_declarations(workspace, profiles, index, settings)
    crossing = _corridor_crossings(index, settings.intel.crossing_radius_m)
    rules = load_rules(settings.alerts.rules_file)
    candidates = declaration_candidates(scored, rules, crossing, utc_now_or(now))
    assign_sectors(candidates, ground)
    report = AlertStore(workspace).apply(candidates, settings.alerts.dedup_window_s, now)
    return {**report, "scored": scored.height, "high": int((scored["level"] == "high").sum())}


def declarations_json(scored: pl.DataFrame) -> list[dict[str, Any]]:
    """Scored declarations as JSON-ready dicts (times ISO 8601)."""
    return orjson.loads(orjson.dumps(scored.to_dicts()))
