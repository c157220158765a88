"""Redaction policies: which field of an exchanged record leaves, and how coarse (docs/exchange.md).

A policy is a TOML file whose ``[fields]`` table maps a record field to a rule: ``keep``,
``drop``, ``day`` (a time to its UTC day), ``h3:N`` (the position as the centre of its H3 cell at
resolution N), ``band:N`` (a quantity to its band of width N) or ``pseudonym`` (a keyed hash per
partner). A field the policy does not name is dropped: deny by default. The policy is applied
column by column over the whole frame of records (`redact`).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from geoint.errors import GeointError
from geoint.h3index import cell_centres, cells_to_hex, latlng_to_cells

KINDS = ("seizures", "alerts", "events")

# What each field is; the rules a field accepts follow from it (RULES_BY_TYPE).
FIELDS: dict[str, dict[str, str]] = {
    "seizures": {
        "seizure_id": "id",
        "date": "time",
        "position": "position",
        "position_precision": "text",
        "place": "text",
        "commodity": "text",
        "quantity": "number",
        "unit": "text",
        "transport_mode": "text",
        "concealment": "text",
        "detection_method": "text",
        "direction": "text",
        "origin_country": "text",
        "destination_country": "text",
        "vehicle_id": "identifier",
        "description": "text",
    },
    "alerts": {
        "alert_id": "id",
        "event_time": "time",
        "position": "position",
        "rule": "text",
        "alert_type": "text",
        "status": "text",
        "severity": "text",
        "urgency": "text",
        "certainty": "text",
        "title": "text",
        "explanation": "text",
        "created_at": "time",
        "updated_at": "time",
        "last_seen": "time",
        "count": "number",
        "sector": "text",
        "vehicles": "identifiers",
        "label": "text",
    },
    "events": {
        "event_id": "id",
        "start": "time",
        "position": "position",
        "event_type": "text",
        "vehicle_id": "identifier",
        "other_vehicle_id": "identifier",
        "end": "time",
        "night": "flag",
        "distance_to_border_m": "number",
        "distance_to_crossing_m": "number",
    },
}
# Every record needs its identity, its time and its place: a policy may coarsen, never drop them.
REQUIRED = {kind: tuple(list(fields)[:3]) for kind, fields in FIELDS.items()}
RULES_BY_TYPE = {
    "id": ("keep", "pseudonym"),
    "time": ("keep", "drop", "day"),
    "position": ("keep", "h3"),
    "number": ("keep", "drop", "band"),
    "identifier": ("keep", "drop", "pseudonym"),
    "identifiers": ("keep", "drop", "pseudonym"),
    "text": ("keep", "drop"),
    "flag": ("keep", "drop"),
}
# Free text generated from vehicle ids repeats them: it may leave only with the ids themselves.
NAMES_VEHICLES = {"alerts": {"title": "vehicles", "explanation": "vehicles"}}
PSEUDONYM = re.compile(r"^p:[0-9a-f]{32}$")
_RULE = re.compile(r"^(keep|drop|day|pseudonym|h3:(\d{1,2})|band:([0-9.eE+]+))$")


class PolicyError(GeointError, ValueError):
    """A policy file cannot be used; the message names the file and the field."""


@dataclass(frozen=True)
class Rule:
    """One field's rule: its name (keep, drop, day, h3, band, pseudonym) and parameter."""

    name: str
    parameter: float | int | None = None

    def __str__(self) -> str:
        if self.parameter is None:
            return self.name
        value = self.parameter
        shown = int(value) if isinstance(value, float) and value.is_integer() else value
        return f"{self.name}:{shown}"


@dataclass(frozen=True)
class Policy:
    """The rules of one record kind, every field named (unnamed ones are ``drop``)."""

    kind: str
    rules: dict[str, Rule]

    @property
    def sent(self) -> list[str]:
        """The fields a record carries under this policy, in the kind's field order."""
        return [f for f in FIELDS[self.kind] if self.rules[f].name != "drop"]

    def to_manifest(self) -> dict[str, str]:
        """The rules as the manifest states them (every field, drops included)."""
        return {field: str(rule) for field, rule in self.rules.items()}


def load_policy(path: Path, kind: str) -> Policy:
    """Read and validate a policy TOML file for records of `kind`."""
    path = Path(path)
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise PolicyError(f"{path}: cannot read the policy ({exc.strerror})") from exc
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise PolicyError(f"{path}: not a TOML file ({exc})") from exc
    unknown = sorted(set(document) - {"fields"})
    if unknown:
        raise PolicyError(f"{path}: [{unknown[0]}]: unknown table; a policy has only [fields]")
    fields = document.get("fields")
    if not isinstance(fields, dict):
        raise PolicyError(f"{path}: expected a [fields] table mapping each field to a rule")
    return parse_rules(fields, kind, str(path))


def parse_rules(fields: dict[str, Any], kind: str, source: str) -> Policy:
    """Validate a field → rule mapping (a policy file's or a manifest's) for `kind`."""
    if kind not in KINDS:
        raise PolicyError(f"{source}: kind {kind!r}: expected one of {', '.join(KINDS)}")
    known = FIELDS[kind]
    rules: dict[str, Rule] = {}
    for field, text in fields.items():
        where = f"{source}: [fields] {field}"
        if field not in known:
            raise PolicyError(
                f"{where}: not a field of {kind} records (expected one of {', '.join(known)})"
            )
        rule = _parse_rule(text, where)
        allowed = RULES_BY_TYPE[known[field]]
        if rule.name not in allowed:
            shown = ", ".join(
                "h3:N" if a == "h3" else "band:N" if a == "band" else a for a in allowed
            )
            raise PolicyError(f"{where}: rule {text!r} does not apply here (expected {shown})")
        rules[field] = rule
    for field in REQUIRED[kind]:
        if rules.get(field, Rule("drop")).name == "drop":
            allowed = ", ".join(a for a in RULES_BY_TYPE[known[field]] if a != "drop")
            raise PolicyError(
                f"{source}: [fields] {field}: every {kind} record needs it; "
                f"name it with one of {allowed.replace('h3', 'h3:N')}"
            )
    for text_field, ids in NAMES_VEHICLES.get(kind, {}).items():
        text_rule, id_rule = rules.get(text_field), rules.get(ids, Rule("drop"))
        if text_rule is not None and text_rule.name == "keep" and id_rule.name != "keep":
            raise PolicyError(
                f"{source}: [fields] {text_field}: it names the {ids} in plain text; "
                f"keep it only when {ids} is kept (else drop it)"
            )
    return Policy(kind, {f: rules.get(f, Rule("drop")) for f in known})


def _parse_rule(text: Any, where: str) -> Rule:
    match = _RULE.match(text) if isinstance(text, str) else None
    if match is None:
        raise PolicyError(
            f"{where}: expected keep, drop, day, h3:N, band:N or pseudonym, got {text!r}"
        )
    if match.group(2) is not None:
        resolution = int(match.group(2))
        if not 0 <= resolution <= 15:
            raise PolicyError(f"{where}: h3:N needs a resolution from 0 to 15, got {resolution}")
        return Rule("h3", resolution)
    if match.group(3) is not None:
        try:
            width = float(match.group(3))
        except ValueError:
            width = float("nan")
        if not np.isfinite(width) or width <= 0:
            raise PolicyError(f"{where}: band:N needs a positive band width, got {text!r}")
        return Rule("band", width)
    return Rule(match.group(1))


def pseudonym_key(secret: bytes, partner: str) -> bytes:
    """The key of one partner's pseudonyms, derived from the sender's secret."""
    return hmac.new(secret, b"geoint-exchange pseudonym\0" + partner.encode(), "sha256").digest()


def pseudonyms(values: pl.Series, key: bytes) -> pl.Series:
    """Keyed hashes of identifiers (nulls stay null): equal values, equal pseudonyms.

    Each distinct value is hashed once (records share vehicles), then mapped back in one join.
    """
    distinct = values.drop_nulls().unique()
    hashed = [
        "p:" + hmac.new(key, value.encode(), hashlib.sha256).hexdigest()[:32]
        for value in distinct.to_list()
    ]
    mapping = dict(zip(distinct.to_list(), hashed, strict=True))
    return values.replace_strict(mapping, default=None, return_dtype=pl.String)


def redact(frame: pl.DataFrame, policy: Policy, key: bytes) -> pl.DataFrame:
    """Apply the policy to canonical records: columns of the kind's fields (times as UTC
    datetimes, position as ``lat``/``lon``, identifier lists as lists of strings); return the
    columns to send, in field order, ready to write as JSON."""
    columns = []
    for field in policy.sent:
        rule = policy.rules[field]
        kind = FIELDS[policy.kind][field]
        if kind == "position":
            columns.append(_position(frame, rule))
        elif kind == "time":
            pattern = "%Y-%m-%d" if rule.name == "day" else "%Y-%m-%dT%H:%M:%S%.fZ"
            columns.append(pl.col(field).dt.strftime(pattern))
        elif rule.name == "band":
            width = float(rule.parameter or 1)
            low = (pl.col(field) / width).floor() * width
            band = pl.struct(low.alias("min"), (low + width).alias("max"))
            columns.append(pl.when(pl.col(field).is_not_null()).then(band).alias(field))
        elif rule.name == "pseudonym" and kind == "identifiers":
            columns.append(pl.lit(_pseudonym_lists(frame[field], key)).alias(field))
        elif rule.name == "pseudonym":
            columns.append(pl.lit(pseudonyms(frame[field].cast(pl.String), key)).alias(field))
        else:
            columns.append(pl.col(field))
    return frame.select(columns)


def _position(frame: pl.DataFrame, rule: Rule) -> pl.Expr:
    if rule.name == "keep":
        return pl.struct(pl.col("lat"), pl.col("lon")).alias("position")
    resolution = int(rule.parameter or 0)
    cells = latlng_to_cells(frame["lat"].to_numpy(), frame["lon"].to_numpy(), resolution)
    lat, lon = cell_centres(cells)
    return pl.struct(
        pl.lit(pl.Series(np.round(lat, 7))).alias("lat"),
        pl.lit(pl.Series(np.round(lon, 7))).alias("lon"),
        pl.lit(pl.Series(cells_to_hex(cells), dtype=pl.String)).alias("h3"),
        pl.lit(resolution).alias("resolution"),
    ).alias("position")


def _pseudonym_lists(lists: pl.Series, key: bytes) -> pl.Series:
    """Lists of identifiers with each replaced by its pseudonym (a null list becomes empty)."""
    flat = pl.DataFrame({"_row": np.arange(len(lists)), "value": lists}).explode("value")
    flat = flat.with_columns(pseudonyms(flat["value"], key).alias("value"))
    grouped = flat.group_by("_row", maintain_order=True).agg(pl.col("value").drop_nulls())
    return grouped["value"].alias(lists.name)
