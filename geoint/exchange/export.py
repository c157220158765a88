"""Export: the workspace's own records of one kind, redacted by a policy, as a signed package."""

from __future__ import annotations

import time
import uuid
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, timedelta
from datetime import time as day_time
from pathlib import Path
from typing import Any

import polars as pl
import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from geoint.exchange.package import (
    FORMAT,
    SCHEMA_VERSION,
    ExchangeError,
    private_secret,
    write_package,
)
from geoint.exchange.policy import Policy, pseudonym_key, redact
from geoint.store.tables import alerts, exchange_records, seizures
from geoint.store.workspace import Workspace
from geoint.times import iso, utc_now_or

SEIZURE_COLUMNS = (
    "seizure_id", "ts", "lat", "lon", "position_precision", "place", "commodity", "quantity",
    "unit", "transport_mode", "concealment", "detection_method", "direction", "origin_country",
    "destination_country", "vehicle_id", "description",
)  # fmt: skip
ALERT_COLUMNS = (
    "id", "event_time", "lat", "lon", "rule", "alert_type", "status", "severity", "urgency",
    "certainty", "title", "explanation", "created_at", "updated_at", "last_seen", "count",
    "sector", "vehicles", "label",
)  # fmt: skip


@dataclass
class ExportReport:
    """What an export wrote."""

    file: str
    package_id: str
    kind: str
    sender: str
    partner: str
    records: int
    period: dict[str, str | None]
    policy: dict[str, str]
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        """The report as JSON-ready fields."""
        return asdict(self)


def export_package(
    workspace: Workspace,
    policy: Policy,
    sender: str,
    partner: str,
    key: Ed25519PrivateKey,
    target: Path,
    start: date | None = None,
    end: date | None = None,
    now: datetime | None = None,
) -> ExportReport:
    """Write the workspace's own records of the policy's kind with times in [start, end]
    (UTC days, inclusive; None: open), redacted by the policy, signed with `key`."""
    started = time.perf_counter()
    for name, value in (("--sender", sender), ("--partner", partner)):
        if not value.strip() or len(value) > 128:
            raise ExchangeError(f"{name}: expected an administration name of 1 to 128 characters")
    if start and end and start > end:
        raise ExchangeError(f"--from {start} is after --to {end}")
    frame = own_records(workspace, policy.kind, start, end)
    sent = redact(frame, policy, pseudonym_key(private_secret(key), partner))
    records = sent.write_ndjson().encode() if sent.height else b""
    period = {"from": start.isoformat() if start else None, "to": end.isoformat() if end else None}
    manifest = {
        "format": FORMAT,
        "schema_version": SCHEMA_VERSION,
        "package_id": uuid.uuid4().hex,
        "sender": sender,
        "partner": partner,
        "created": iso(utc_now_or(now)).replace("+00:00", "Z"),
        "kind": policy.kind,
        "period": period,
        "policy": policy.to_manifest(),
        "counts": {"records": sent.height},
    }
    write_package(target, manifest, records, key)
    return ExportReport(
        file=str(target),
        package_id=manifest["package_id"],
        kind=policy.kind,
        sender=sender,
        partner=partner,
        records=sent.height,
        period=period,
        policy=manifest["policy"],
        seconds=time.perf_counter() - started,
    )


def own_records(
    workspace: Workspace, kind: str, start: date | None, end: date | None
) -> pl.DataFrame:
    """The workspace's own records of a kind (never those a partner sent: they are not ours to
    pass on), as the canonical columns `redact` takes, by time then id."""
    low = datetime.combine(start, day_time(), UTC) if start else None
    high = datetime.combine(end + timedelta(days=1), day_time(), UTC) if end else None
    if kind == "events":
        frame = workspace.read_events()
        if low:
            frame = frame.filter(pl.col("start") >= low)
        if high:
            frame = frame.filter(pl.col("start") < high)
        return frame.sort("start", "event_id")
    table, columns, when = (
        (seizures, SEIZURE_COLUMNS, "ts")
        if kind == "seizures"
        else (alerts, ALERT_COLUMNS, "event_time")
    )
    query = sa.select(*(table.c[c] for c in columns))
    if low:
        query = query.where(table.c[when] >= low)
    if high:
        query = query.where(table.c[when] < high)
    if kind == "seizures":
        received = sa.select(exchange_records.c.record_id).where(
            exchange_records.c.kind == "seizures"
        )
        query = query.where(seizures.c.seizure_id.not_in(received))
    with workspace.engine.connect() as conn:
        frame = pl.read_database(query, conn, infer_schema_length=None)
    times = [c for c in columns if isinstance(table.c[c].type, sa.DateTime)]
    frame = frame.with_columns(pl.col(times).cast(pl.Datetime("us")).dt.replace_time_zone("UTC"))
    if kind == "seizures":
        return frame.rename({"ts": "date"}).sort("date", "seizure_id")
    frame = frame.with_columns(
        pl.col("id").cast(pl.String).alias("alert_id"),
        pl.col("vehicles").str.json_decode(pl.List(pl.String)),
        pl.col("count").cast(pl.Float64),
    )
    return frame.drop("id").sort("event_time", "alert_id")
