"""Import: verify a partner's package whole, then store its new records with their origin.

Nothing is stored unless the signature, the manifest, the schema version and every record
check out. Records are keyed by kind and id: one already held with the same content is a
duplicate (so importing a package twice stores nothing), one with other content is a conflict,
reported and never overwritten. Partner seizures also go into the seizures table, so that
the map, the collections and every seizure reader show them; provenance stays in
``exchange_records`` (docs/exchange.md).
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import polars as pl
import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from geoint.exchange.package import ExchangeError, read_package, records_validator
from geoint.exchange.policy import FIELDS, REQUIRED, PolicyError, parse_rules
from geoint.h3index import latlng_to_cells
from geoint.store.tables import (
    exchange_packages,
    exchange_records,
    ingest_ledger,
    seizures,
)
from geoint.store.workspace import Workspace, insert_frame

LEDGER_KIND = "exchange"
CONFLICTS_LISTED = 20  # conflicting ids named in a report (all are counted)


@dataclass
class ImportReport:
    """What an import stored: new records, duplicates and conflicts (never overwritten)."""

    file: str
    package_id: str
    origin: str
    kind: str
    records: int
    stored: int
    duplicates: int
    conflicts: int
    conflict_ids: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        """The report as JSON-ready fields."""
        return asdict(self)


def import_package(
    workspace: Workspace,
    path: Path,
    trusted: Ed25519PublicKey,
    resolution: int,
    now: datetime | None = None,
) -> ImportReport:
    """Verify the package at `path` against the trusted key and store its new records
    (seizure cells at H3 `resolution`)."""
    started = time.perf_counter()
    manifest, data = read_package(path, trusted)
    kind = manifest["kind"]
    try:
        policy = parse_rules(manifest["policy"], kind, f"{path}: manifest policy")
    except PolicyError as exc:
        raise ExchangeError(f"refused: {exc}") from exc
    lines = data.splitlines()
    if len(lines) != manifest["counts"]["records"]:
        raise ExchangeError(
            f"{path}: refused: {len(lines)} records, the manifest counts "
            f"{manifest['counts']['records']}"
        )
    records = _parse(path, lines)
    error = next(records_validator(policy).iter_errors(records), None)
    if error is not None:
        index, *inner = error.instance_path
        where = "/".join(str(p) for p in inner) or "(record)"
        raise ExchangeError(
            f"{path}: refused: record {int(index) + 1} ({kind}), field {where}: {error.message}"
        )
    table = pl.read_ndjson(data, infer_schema_length=None) if lines else pl.DataFrame()
    table = _with_fields(table, kind).with_row_index("_record")
    frame = _frame(path, kind, table, lines)
    report = ImportReport(
        file=str(path),
        package_id=manifest["package_id"],
        origin=manifest["sender"],
        kind=kind,
        records=len(records),
        stored=0,
        duplicates=0,
        conflicts=0,
    )
    with workspace.writer():
        fresh, duplicates, conflicts = _classify(workspace, kind, frame)
        report.duplicates, report.conflicts = duplicates, conflicts.height
        report.conflict_ids = conflicts["record_id"].head(CONFLICTS_LISTED).to_list()
        if fresh.height:
            _store(workspace, path, manifest, policy.rules, fresh, table, resolution, now)
            report.stored = fresh.height
    report.seconds = time.perf_counter() - started
    return report


def _parse(path: Path, lines: list[bytes]) -> list[dict[str, Any]]:
    """The records as JSON objects, parsed in one call (a bad line is then found and named)."""
    try:
        return orjson.loads(b"[" + b",".join(lines) + b"]")
    except orjson.JSONDecodeError:
        for number, line in enumerate(lines, start=1):
            try:
                orjson.loads(line)
            except orjson.JSONDecodeError as exc:
                raise ExchangeError(
                    f"{path}: refused: record {number} is not JSON ({exc})"
                ) from exc
        raise ExchangeError(f"{path}: refused: the records are not JSON lines") from None


def _frame(path: Path, kind: str, table: pl.DataFrame, lines: list[bytes]) -> pl.DataFrame:
    """Id, time, position, digest and text of each record; refuses repeated ids."""
    id_field, time_field, _ = REQUIRED[kind]
    frame = table.select(
        "_record",
        pl.col(id_field).cast(pl.String).alias("record_id"),
        pl.col(time_field).cast(pl.String).alias("when"),
        pl.col("position").struct.field("lat").cast(pl.Float64),
        pl.col("position").struct.field("lon").cast(pl.Float64),
        pl.Series("digest", [hashlib.sha256(line).hexdigest() for line in lines], pl.String),
        pl.Series("content", lines, pl.Binary).cast(pl.String),
    )
    repeated = frame.filter(pl.col("record_id").is_duplicated())
    if repeated.height:
        first = repeated.row(0, named=True)
        raise ExchangeError(
            f"{path}: refused: record {first['_record'] + 1} repeats the id {first['record_id']!r}"
        )
    return frame.with_columns(ts=_parse_times(pl.col("when")))


def _parse_times(text: pl.Expr) -> pl.Expr:
    """UTC datetimes from exchange times: a day is its midnight UTC."""
    day = text.str.len_chars() == 10
    return (
        pl.when(day)
        .then(text.str.to_datetime("%Y-%m-%d", time_zone="UTC", strict=False))
        .otherwise(text.str.to_datetime(time_zone="UTC", time_unit="us", strict=False))
    )


def _classify(
    workspace: Workspace, kind: str, frame: pl.DataFrame
) -> tuple[pl.DataFrame, int, pl.DataFrame]:
    """New records, how many are held already with the same content, and conflicts: held with
    other content, or (seizures) the id of one of the workspace's own seizures."""
    query = sa.select(exchange_records.c.record_id, exchange_records.c.digest).where(
        exchange_records.c.kind == kind
    )
    with workspace.engine.connect() as conn:
        held = pl.read_database(query, conn, schema_overrides={"record_id": pl.String})
        own = pl.DataFrame(schema={"record_id": pl.String})
        if kind == "seizures":
            own_ids = sa.select(seizures.c.seizure_id.label("record_id")).where(
                seizures.c.seizure_id.not_in(
                    sa.select(exchange_records.c.record_id).where(
                        exchange_records.c.kind == "seizures"
                    )
                )
            )
            own = pl.read_database(own_ids, conn, schema_overrides={"record_id": pl.String})
    held = held.cast({"record_id": pl.String, "digest": pl.String})
    joined = frame.join(held.rename({"digest": "held"}), on="record_id", how="left")
    same = joined["held"] == joined["digest"]
    other = joined["held"].is_not_null() & ~same.fill_null(False)
    clash = joined["record_id"].is_in(own["record_id"].cast(pl.String).implode())
    fresh = joined.filter(joined["held"].is_null() & ~clash).drop("held")
    conflicts = joined.filter(other | clash).sort("_record")
    return fresh, int(same.fill_null(False).sum()), conflicts


def _store(
    workspace: Workspace,
    path: Path,
    manifest: dict[str, Any],
    rules: dict[str, Any],
    fresh: pl.DataFrame,
    table: pl.DataFrame,
    resolution: int,
    now: datetime | None,
) -> None:
    """One transaction: the package, its new records with their origin and, for seizures, the
    seizure rows (a ledger batch of kind ``exchange``, as every seizure row has a batch)."""
    now = now or datetime.now(UTC)
    kind, package_id = manifest["kind"], manifest["package_id"]
    batch = workspace.begin_batch(LEDGER_KIND, str(path), manifest["files"]["records.ndjson"])
    provenance = fresh.select(
        pl.lit(kind).alias("kind"),
        "record_id",
        pl.lit(manifest["sender"]).alias("origin"),
        pl.lit(package_id).alias("package_id"),
        "ts",
        "lat",
        "lon",
        "digest",
        "content",
    )
    rows = None
    if kind == "seizures":
        rows = _seizure_rows(fresh, table, rules, resolution, batch.batch)
    with workspace.engine.begin() as conn:
        known = conn.execute(
            sa.select(exchange_packages.c.package_id).where(
                exchange_packages.c.package_id == package_id
            )
        ).first()
        if known is None:
            conn.execute(
                exchange_packages.insert().values(
                    package_id=package_id,
                    origin=manifest["sender"],
                    kind=kind,
                    created=datetime.fromisoformat(manifest["created"]),
                    received_at=now,
                    file=str(path),
                    records=manifest["counts"]["records"],
                    stored=fresh.height,
                    duplicates=manifest["counts"]["records"] - fresh.height,
                    conflicts=0,
                )
            )
        insert_frame(conn, exchange_records, provenance)
        if rows is not None:
            insert_frame(conn, seizures, rows)
        conn.execute(
            ingest_ledger.update()
            .where(ingest_ledger.c.batch == batch.batch)
            .values(
                status="committed",
                committed_at=now,
                rows=manifest["counts"]["records"],
                accepted=fresh.height,
            )
        )


def _seizure_rows(
    fresh: pl.DataFrame, table: pl.DataFrame, rules: dict[str, Any], resolution: int, batch: int
) -> pl.DataFrame:
    """Rows of the seizures table for new partner seizures: a band is stored as its middle,
    a coarsened position as its cell's centre with the precision ``h3:N``."""
    picked = table[fresh["_record"]]
    quantity = pl.col("quantity").cast(pl.Float64)
    if isinstance(picked.schema["quantity"], pl.Struct):  # banded (all null: no struct)
        band = pl.col("quantity")
        quantity = (band.struct.field("min") + band.struct.field("max")) / 2
    position = rules["position"]
    precision = (
        pl.lit(f"h3:{position.parameter}")
        if position.name == "h3"
        else pl.col("position_precision").fill_null("exact")
    )
    cells = latlng_to_cells(fresh["lat"].to_numpy(), fresh["lon"].to_numpy(), resolution)
    text = [
        c.name
        for c in seizures.columns
        # a client id is the sender's own idempotency key
        if c.name
        not in ("seizure_id", "ts", "lat", "lon", "cell", "batch", "quantity", "client_id")
        and c.name != "position_precision"
    ]
    return picked.select(
        fresh["record_id"].alias("seizure_id"),
        fresh["ts"],
        fresh["lat"],
        fresh["lon"],
        pl.Series("cell", cells.astype(np.int64)),
        precision.cast(pl.String).alias("position_precision"),
        quantity.alias("quantity"),
        *(
            (pl.col(c) if c in picked.columns else pl.lit(None)).cast(pl.String).alias(c)
            for c in text
        ),
        pl.lit(batch).alias("batch"),
    )


def _with_fields(table: pl.DataFrame, kind: str) -> pl.DataFrame:
    """The records' frame with a null column for each field none of them carries."""
    missing = [f for f in FIELDS[kind] if f not in table.columns]
    return table.with_columns(pl.lit(None).alias(f) for f in missing)
