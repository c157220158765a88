"""Data quality of the seizure records, in the spirit of the WCO CEN Data Quality Charter.

Per source (the file name; for records posted to the API, the key that posted them: a unit)
and ISO week of submission: records submitted, accepted, duplicates and quarantined (share and
reasons), the completeness of each optional CEN field among the accepted records (share filled),
and the delay between seizure and entry (days from the seizure's time to the batch's commit).
"""

from __future__ import annotations

import re
from pathlib import PurePath
from typing import Any

import polars as pl
import sqlalchemy as sa

from geoint.store.tables import ingest_ledger, quarantine, seizures
from geoint.store.workspace import Workspace

CEN_FIELDS = (
    "place", "commodity", "quantity", "unit", "transport_mode", "concealment",
    "detection_method", "direction", "origin_country", "destination_country", "vehicle_id",
    "description",
)  # fmt: skip
_API_SOURCE = re.compile(r"\(key ([^,\s)]+)")


def source_name(file: str) -> str:
    """Who submitted a batch: ``key <id>`` for an API post, else the file's name."""
    posted = _API_SOURCE.search(file)
    return f"key {posted.group(1)}" if posted else PurePath(file).name


def quality_report(workspace: Workspace) -> dict[str, Any]:
    """``{"fields": [...], "weeks": [per source and week, oldest first]}``."""
    with workspace.engine.connect() as conn:
        ledger = conn.execute(
            sa.select(
                ingest_ledger.c.batch,
                ingest_ledger.c.file,
                ingest_ledger.c.committed_at,
                ingest_ledger.c.rows,
                ingest_ledger.c.accepted,
                ingest_ledger.c.duplicates,
                ingest_ledger.c.quarantined,
            ).where(ingest_ledger.c.kind == "seizures", ingest_ledger.c.status == "committed")
        ).all()
        reasons = conn.execute(
            sa.select(quarantine.c.batch, quarantine.c.reason, sa.func.count())
            .where(quarantine.c.kind == "seizures")
            .group_by(quarantine.c.batch, quarantine.c.reason)
        ).all()
        records = conn.execute(
            sa.select(seizures.c.batch, seizures.c.ts, *(seizures.c[n] for n in CEN_FIELDS))
        ).all()
    batches = pl.DataFrame(
        ledger,
        schema={
            "batch": pl.Int64,
            "file": pl.String,
            "committed_at": pl.Datetime("us"),
            "rows": pl.Int64,
            "accepted": pl.Int64,
            "duplicates": pl.Int64,
            "quarantined": pl.Int64,
        },
        orient="row",
    ).with_columns(
        source=pl.col("file").map_elements(source_name, return_dtype=pl.String),
        week=pl.col("committed_at").dt.truncate("1w").dt.date().cast(pl.String),
    )
    if batches.height == 0:
        return {"fields": list(CEN_FIELDS), "weeks": []}
    stored = pl.DataFrame(
        records,
        schema={
            "batch": pl.Int64,
            "ts": pl.Datetime("us"),
            **{n: pl.Float64 if n == "quantity" else pl.String for n in CEN_FIELDS},
        },
        orient="row",
    ).join(batches.select("batch", "source", "week", "committed_at"), on="batch")
    delay_days = (pl.col("committed_at") - pl.col("ts")).dt.total_seconds() / 86_400
    fields = stored.group_by("source", "week").agg(
        *(pl.col(n).is_not_null().mean().alias(n) for n in CEN_FIELDS),
        median_delay_days=delay_days.median(),
        max_delay_days=delay_days.max(),
    )
    refused = pl.DataFrame(
        reasons, schema={"batch": pl.Int64, "reason": pl.String, "count": pl.Int64}, orient="row"
    ).join(batches.select("batch", "source", "week"), on="batch")
    by_reason = refused.group_by("source", "week", "reason").agg(pl.col("count").sum())
    counts = batches.group_by("source", "week").agg(
        batches=pl.len(),
        submitted=pl.col("rows").sum(),
        accepted=pl.col("accepted").sum(),
        duplicates=pl.col("duplicates").sum(),
        quarantined=pl.col("quarantined").sum(),
    )
    table = counts.join(fields, on=["source", "week"], how="left").sort("week", "source")
    weeks = []
    for row in table.to_dicts():  # one row per source and week: few
        shares = {n: row.pop(n) for n in CEN_FIELDS}
        known = [v for v in shares.values() if v is not None]
        mine = by_reason.filter(
            (pl.col("source") == row["source"]) & (pl.col("week") == row["week"])
        )
        weeks.append(
            {
                **row,
                "quarantined_share": row["quarantined"] / row["submitted"]
                if row["submitted"]
                else None,
                "quarantined_by_reason": dict(zip(mine["reason"], mine["count"], strict=True)),
                "completeness": sum(known) / len(known) if known else None,
                "fields": shares,
            }
        )
    return {"fields": list(CEN_FIELDS), "weeks": weeks}
