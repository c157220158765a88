"""Every SQL table of the workspace database, in one place (SQLAlchemy Core: SQLite, PostgreSQL).

Ingest: the ledger of batches, the quarantine, the catalogue of ping parts, counters; records:
seizures, watch list, transit declarations; the service: API keys, sessions, the audit log;
alerts: alerts, their sources, their changes (the SSE sequence) and labels.
"""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()
# The largest value of an ``sa.Integer`` column on PostgreSQL (``integer``, 32 bits; SQLite's
# hold 64): a larger id asked for matches no row, and must not reach the database, which
# refuses to compare with it.
MAX_INTEGER = 2**31 - 1

ingest_ledger = sa.Table(
    "ingest_ledger",
    metadata,
    sa.Column("batch", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("file", sa.Text, nullable=False),
    sa.Column("sha256", sa.String(64), nullable=False, index=True),
    sa.Column("status", sa.String(16), nullable=False),  # started | committed | aborted
    sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("committed_at", sa.DateTime(timezone=True)),
    sa.Column("rows", sa.Integer, nullable=False, default=0),
    sa.Column("accepted", sa.Integer, nullable=False, default=0),
    sa.Column("duplicates", sa.Integer, nullable=False, default=0),
    sa.Column("quarantined", sa.Integer, nullable=False, default=0),
    sa.Column("flagged_spikes", sa.Integer, nullable=False, default=0),
    sa.Column("first_ping_id", sa.BigInteger),
)

quarantine = sa.Table(
    "quarantine",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column(
        "batch", sa.Integer, sa.ForeignKey("ingest_ledger.batch"), nullable=False, index=True
    ),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("file", sa.Text, nullable=False),
    sa.Column("row", sa.Integer),
    sa.Column("column", sa.String(64)),
    sa.Column("reason", sa.String(48), nullable=False, index=True),
    sa.Column("detail", sa.Text),
    sa.Column("raw", sa.Text),
)

# The catalogue of ping parts: one row per batch and UTC date, written in the transaction that
# commits the batch, so a reader's one query sees every committed part and no other. A part
# merged by `Workspace.compact` points at the part now holding its rows (`merged_into`); its
# file is deleted after a grace period, as a reader that listed it before may still read it.
ping_parts = sa.Table(
    "ping_parts",
    metadata,
    sa.Column("batch", sa.Integer, primary_key=True),
    sa.Column("day", sa.Date, primary_key=True),
    sa.Column("rows", sa.Integer, nullable=False),
    sa.Column("bytes", sa.BigInteger, nullable=False),
    sa.Column("merged_into", sa.Integer),
    sa.Column("merged_at", sa.DateTime(timezone=True)),
    sa.Column("file_deleted", sa.Boolean, nullable=False, default=False),
    sa.Index("ix_ping_parts_live", "merged_into", "day"),
)
# ledger rows by status: recovery looks only at started batches (an index for old workspaces too)
LEDGER_STATUS_INDEX = sa.Index("ix_ingest_ledger_status", ingest_ledger.c.status)

# Ping batches stored by the service and not yet analysed incrementally: entered in the
# transaction that commits the batch, removed once its events and alerts are stored, so a
# server killed in between catches them up at its next start (`geoint.api.app`).
pending_analysis = sa.Table(
    "pending_analysis",
    metadata,
    sa.Column("batch", sa.Integer, sa.ForeignKey("ingest_ledger.batch"), primary_key=True),
)

counters = sa.Table(
    "counters",
    metadata,
    sa.Column("name", sa.String(32), primary_key=True),
    sa.Column("value", sa.BigInteger, nullable=False),
)

seizures = sa.Table(
    "seizures",
    metadata,
    sa.Column("seizure_id", sa.String(128), primary_key=True),
    sa.Column("ts", sa.DateTime(timezone=True), nullable=False, index=True),
    sa.Column("lat", sa.Float, nullable=False),
    sa.Column("lon", sa.Float, nullable=False),
    sa.Column("cell", sa.BigInteger, nullable=False, index=True),
    sa.Column("position_precision", sa.String(16), nullable=False),
    sa.Column("place", sa.Text),
    sa.Column("commodity", sa.String(32)),
    sa.Column("quantity", sa.Float),
    sa.Column("unit", sa.String(32)),
    sa.Column("transport_mode", sa.String(32)),
    sa.Column("concealment", sa.Text),
    sa.Column("detection_method", sa.Text),
    sa.Column("direction", sa.String(16)),
    sa.Column("origin_country", sa.Text),
    sa.Column("destination_country", sa.Text),
    sa.Column("vehicle_id", sa.String(128), index=True),
    sa.Column("description", sa.Text),
    sa.Column("batch", sa.Integer, sa.ForeignKey("ingest_ledger.batch"), nullable=False),
    sa.Column("vehicle_type", sa.String(32)),
    sa.Column("client_id", sa.String(128)),  # a client's idempotency key (docs/field.md)
    # where coordinates given after entry came from (geoint.store.positions; docs/field.md)
    sa.Column("position_source", sa.String(16)),
)
# one seizure per client id, whatever the resends and races: the database says so, not a read
SEIZURE_CLIENT_ID_INDEX = sa.Index("ux_seizures_client_id", seizures.c.client_id, unique=True)

watchlist = sa.Table(
    "watchlist",
    metadata,
    sa.Column("vehicle_id", sa.String(128), primary_key=True),  # or a person's, a company's
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("expires", sa.DateTime(timezone=True)),
    sa.Column("batch", sa.Integer, sa.ForeignKey("ingest_ledger.batch"), nullable=False),
    sa.Column("kind", sa.String(16)),  # vehicle (also when null), person, company
)

declarations = sa.Table(
    "declarations",
    metadata,
    sa.Column("vehicle_id", sa.String(128), primary_key=True),
    sa.Column("corridor_id", sa.String(128), primary_key=True),
    sa.Column("start", sa.DateTime(timezone=True), primary_key=True),
    sa.Column("deadline", sa.DateTime(timezone=True), nullable=False),
    sa.Column("dest_lat", sa.Float, nullable=False),
    sa.Column("dest_lon", sa.Float, nullable=False),
    sa.Column("batch", sa.Integer, sa.ForeignKey("ingest_ledger.batch"), nullable=False),
    # CTS-style consignment fields, optional (risk profiles read them)
    sa.Column("operator", sa.Text),
    sa.Column("consignee", sa.Text),
    sa.Column("commodity", sa.String(32)),
    sa.Column("hs_code", sa.String(16)),
    sa.Column("origin_country", sa.Text),
    sa.Column("destination_country", sa.Text),
)

# Photos of seizures (docs/field.md): files content-addressed under the workspace's photos/,
# one row per seizure and content; a client id makes an upload's resend harmless.
seizure_photos = sa.Table(
    "seizure_photos",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("seizure_id", sa.String(128), nullable=False, index=True),
    sa.Column("sha256", sa.String(64), nullable=False),
    sa.Column("media_type", sa.String(16), nullable=False),
    sa.Column("width", sa.Integer, nullable=False),
    sa.Column("height", sa.Integer, nullable=False),
    sa.Column("bytes", sa.Integer, nullable=False),
    sa.Column("exif_lat", sa.Float),
    sa.Column("exif_lon", sa.Float),
    sa.Column("client_id", sa.String(128), unique=True),
    sa.Column("uploaded_by", sa.String(16), nullable=False),  # the key's id
    sa.Column("uploaded_at", sa.DateTime(timezone=True), nullable=False),
    sa.UniqueConstraint("seizure_id", "sha256"),
    sqlite_autoincrement=True,  # a deleted photo's id is never given to another
)

RECORD_TABLES: dict[str, sa.Table] = {
    "seizures": seizures,
    "watchlist": watchlist,
    "declarations": declarations,
}


# ------------------------------------------------------------------------- service
api_keys = sa.Table(
    "api_keys",
    metadata,
    sa.Column("id", sa.String(16), primary_key=True),
    sa.Column("role", sa.String(16), nullable=False),
    sa.Column("sectors", sa.Text, nullable=False),  # JSON list of sector ids
    sa.Column("salt", sa.String(32), nullable=False),
    sa.Column("digest", sa.String(64), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("revoked_at", sa.DateTime(timezone=True)),
)

sessions = sa.Table(
    "sessions",
    metadata,
    sa.Column("digest", sa.String(64), primary_key=True),
    sa.Column("key_id", sa.String(16), sa.ForeignKey("api_keys.id"), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False, index=True),
)

audit_log = sa.Table(
    "audit_log",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False, index=True),
    sa.Column("key_id", sa.String(16), nullable=False, index=True),
    sa.Column("method", sa.String(8), nullable=False),
    sa.Column("path", sa.Text, nullable=False),
    sa.Column("status", sa.Integer, nullable=False),
    sa.Column("summary", sa.Text, nullable=False),
)

KEY_TABLES = [api_keys, sessions, audit_log]


# -------------------------------------------------------------------------- alerts
alerts = sa.Table(
    "alerts",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("rule", sa.String(64), nullable=False),
    sa.Column("alert_type", sa.String(48), nullable=False, index=True),
    sa.Column("subject", sa.String(128), nullable=False),  # vehicle id or cell hex
    sa.Column("status", sa.String(16), nullable=False, index=True),
    sa.Column("severity", sa.String(16), nullable=False, index=True),
    sa.Column("urgency", sa.String(16), nullable=False),
    sa.Column("certainty", sa.String(16), nullable=False),
    sa.Column("title", sa.Text, nullable=False),
    sa.Column("explanation", sa.Text, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, index=True),
    sa.Column("event_time", sa.DateTime(timezone=True), nullable=False),
    sa.Column("last_seen", sa.DateTime(timezone=True), nullable=False),
    sa.Column("count", sa.Integer, nullable=False),
    sa.Column("lat", sa.Float, nullable=False),
    sa.Column("lon", sa.Float, nullable=False),
    sa.Column("cell", sa.String(16), nullable=False),
    sa.Column("sector", sa.String(128), index=True),
    sa.Column("vehicles", sa.Text, nullable=False),  # JSON list
    sa.Column("evidence", sa.Text, nullable=False),  # JSON {"events": [...], "pings": [...]}
    sa.Column("label", sa.String(16)),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Index("ix_alerts_rule_subject", "rule", "subject"),
)

# pages by time (`AlertStore.frame_page`): the index holds (event_time, id), the order served
ALERT_EVENT_TIME_INDEX = sa.Index("ix_alerts_event_time", alerts.c.event_time)

alert_sources = sa.Table(
    "alert_sources",
    metadata,
    sa.Column("rule", sa.String(64), primary_key=True),
    sa.Column("source", sa.String(256), primary_key=True),  # event id, or cell:day
    sa.Column("alert_id", sa.Integer, sa.ForeignKey("alerts.id"), nullable=False),
)

alert_changes = sa.Table(
    "alert_changes",
    metadata,
    sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("alert_id", sa.Integer, sa.ForeignKey("alerts.id"), nullable=False, index=True),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("actor", sa.String(64), nullable=False),
    sa.Column("action", sa.String(16), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("note", sa.Text, nullable=False),
    sa.UniqueConstraint("alert_id", "version"),
    sqlite_autoincrement=True,  # never reuse a sequence number
)

alert_labels = sa.Table(
    "alert_labels",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("alert_id", sa.Integer, sa.ForeignKey("alerts.id"), nullable=False, index=True),
    sa.Column("label", sa.String(16), nullable=False),
    sa.Column("actor", sa.String(64), nullable=False),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("note", sa.Text, nullable=False),
)

ALERT_TABLES = [alerts, alert_sources, alert_changes, alert_labels]


# ---------------------------------------------------------------------- patrol effort
# Effort of patrol debriefs per cell and UTC day (geoint.patrol.debrief): minutes present, of
# them minutes of searches that found nothing, and seizures; `debrief` is the ledger batch
# (kind "debrief") that recorded it.
patrol_effort = sa.Table(
    "patrol_effort",
    metadata,
    sa.Column("debrief", sa.Integer, sa.ForeignKey("ingest_ledger.batch"), primary_key=True),
    sa.Column("cell", sa.BigInteger, primary_key=True),
    sa.Column("day", sa.Date, primary_key=True),
    sa.Column("minutes", sa.Float, nullable=False),
    sa.Column("nothing_minutes", sa.Float, nullable=False),
    sa.Column("seizures", sa.Integer, nullable=False),
    sa.Index("ix_patrol_effort_cell_day", "cell", "day"),
)


# ------------------------------------------------------------------------ exchange
# Packages imported from partner administrations (docs/exchange.md). Provenance lives here, in
# tables of their own keyed by record id, so existing workspaces need no column added: a record
# with no `exchange_records` row is the workspace's own. Only the key is indexed: lookups go by
# record id, and two more indexes made a 100 k import about 15 % slower.
exchange_packages = sa.Table(
    "exchange_packages",
    metadata,
    sa.Column("package_id", sa.String(64), primary_key=True),
    sa.Column("origin", sa.String(128), nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("created", sa.DateTime(timezone=True), nullable=False),
    sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("file", sa.Text, nullable=False),
    sa.Column("records", sa.Integer, nullable=False),
    sa.Column("stored", sa.Integer, nullable=False),
    sa.Column("duplicates", sa.Integer, nullable=False),
    sa.Column("conflicts", sa.Integer, nullable=False),
)

exchange_records = sa.Table(
    "exchange_records",
    metadata,
    sa.Column("kind", sa.String(16), primary_key=True),  # seizures | alerts | events
    sa.Column("record_id", sa.String(128), primary_key=True),
    sa.Column("origin", sa.String(128), nullable=False),
    sa.Column(
        "package_id", sa.String(64), sa.ForeignKey("exchange_packages.package_id"), nullable=False
    ),
    sa.Column("ts", sa.DateTime(timezone=True), nullable=False),
    sa.Column("lat", sa.Float, nullable=False),
    sa.Column("lon", sa.Float, nullable=False),
    sa.Column("digest", sa.String(64), nullable=False),  # SHA-256 of the record as received
    sa.Column("content", sa.Text, nullable=False),  # the record as received (JSON)
)

EXCHANGE_TABLES = [exchange_packages, exchange_records]


# -------------------------------------------------------------- closed user groups
user_groups = sa.Table(
    "user_groups",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(128), nullable=False, unique=True),
    sa.Column("description", sa.Text, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
)

group_members = sa.Table(
    "group_members",
    metadata,
    sa.Column("group_id", sa.Integer, sa.ForeignKey("user_groups.id"), primary_key=True),
    sa.Column("key_id", sa.String(16), sa.ForeignKey("api_keys.id"), primary_key=True, index=True),
    sa.Column("added_at", sa.DateTime(timezone=True), nullable=False),
)

# One row per share; `seq` orders them for the members' SSE streams (never reused).
group_shares = sa.Table(
    "group_shares",
    metadata,
    sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("group_id", sa.Integer, sa.ForeignKey("user_groups.id"), nullable=False, index=True),
    sa.Column("kind", sa.String(16), nullable=False),  # alert | seizure
    sa.Column("item_id", sa.String(128), nullable=False),
    sa.Column("note", sa.Text, nullable=False),
    sa.Column("shared_by", sa.String(16), nullable=False),
    sa.Column("shared_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("item", sa.Text, nullable=False),  # the item as shared (JSON)
    sqlite_autoincrement=True,
)

GROUP_TABLES = [user_groups, group_members, group_shares]


# ----------------------------------------------------------------- seizure intelligence
# The official crossing each seizure was made at or near (`geoint.intel.crossings`): derived
# from the region, so kept beside the seizures rather than in them (no migration of old
# workspaces; recomputed when the served region's crossings change).
seizure_crossings = sa.Table(
    "seizure_crossings",
    metadata,
    sa.Column("seizure_id", sa.String(128), primary_key=True),
    sa.Column("crossing", sa.Text, index=True),  # null: no crossing within the radius
    sa.Column("distance_m", sa.Float),
    sa.Column("region", sa.String(64), nullable=False),  # fingerprint of the crossings layer
)

# WCO-style enforcement operations: a named window with an optional scope (JSON lists; empty:
# every commodity, every sector); what falls inside is tagged on read (`geoint.intel.operations`).
operations = sa.Table(
    "operations",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("start", sa.DateTime(timezone=True), nullable=False),
    sa.Column("end", sa.DateTime(timezone=True), nullable=False),
    sa.Column("commodities", sa.Text, nullable=False),
    sa.Column("sectors", sa.Text, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
)
