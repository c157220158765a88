"""Column names, dtypes, vocabularies and reports shared by every stage."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

import polars as pl

from geoint.vocabularies import SHIPPED

UTC_DATETIME = pl.Datetime("us", "UTC")

# Pings as every stage after ingest sees them (stored in the workspace's Parquet partitions).
PING_SCHEMA: dict[str, pl.DataType] = {
    "ping_id": pl.UInt64(),
    "vehicle_id": pl.String(),
    "ts": UTC_DATETIME,
    "lat": pl.Float64(),
    "lon": pl.Float64(),
    "speed_kmh": pl.Float32(),
    "heading": pl.Float32(),
    "accuracy_m": pl.Float32(),
    "source": pl.String(),
    "cell": pl.UInt64(),
    "spike": pl.Boolean(),
}
PING_REQUIRED = ("vehicle_id", "ts", "lat", "lon")

# A reader's output: one row per input record, `_row` is its 1-based record number in the file.
ROW_NUMBER = "_row"
# identifiers (vehicle, seizure, corridor ids) are at most this long, without control
# characters: the width of the SQL id columns, and what a tracking app may send
MAX_ID_CHARS = 128

# the CEN vocabularies' codes, shipped as data (geoint/vocabularies.toml)
COMMODITIES = SHIPPED.codes("commodity")
TRANSPORT_MODES = SHIPPED.codes("transport_mode")
DIRECTIONS = SHIPPED.codes("direction")
# CEN fields seizure trends group by (``crossing``: the official crossing near the seizure)
SEIZURE_TREND_FIELDS = (
    "commodity", "transport_mode", "concealment", "detection_method", "direction",
    "origin_country", "crossing",
)  # fmt: skip


class PositionPrecision(StrEnum):
    """How a seizure's position was obtained."""

    EXACT = "exact"  # coordinates given (decimal or degrees-minutes-seconds)
    PLACE = "place"  # resolved from a place name, unique match
    PLACE_AMBIGUOUS = "place_ambiguous"  # several places share the name; the best was taken


class Reason(StrEnum):
    """Machine-readable quarantine reasons (SPEC §3)."""

    MISSING_VALUE = "missing_value"
    NULL_COORDINATES = "null_coordinates"
    NAN_COORDINATES = "nan_coordinates"
    OUT_OF_RANGE_COORDINATES = "out_of_range_coordinates"
    NULL_ISLAND = "null_island"
    UNPARSABLE_COORDINATES = "unparsable_coordinates"
    UNPARSABLE_TIME = "unparsable_time"
    TIME_BEFORE_MIN = "time_before_2000"
    TIME_IN_FUTURE = "time_in_future"
    UNPARSABLE_NUMBER = "unparsable_number"
    INVALID_VALUE = "invalid_value"
    UNKNOWN_PLACE = "unknown_place"
    DUPLICATE = "duplicate"
    CONFLICTING_DUPLICATE = "conflicting_duplicate"
    NOT_A_POINT = "not_a_point"
    MALFORMED_RECORD = "malformed_record"
    UNKNOWN_STOP = "unknown_stop"


DUPLICATE_REASONS = frozenset({Reason.DUPLICATE, Reason.CONFLICTING_DUPLICATE})

# Quarantine rows as stages produce them before the store adds file and batch.
QUARANTINE_SCHEMA: dict[str, pl.DataType] = {
    ROW_NUMBER: pl.Int64(),
    "column": pl.String(),
    "reason": pl.String(),
    "detail": pl.String(),
    "raw": pl.String(),
}


@dataclass
class IngestReport:
    """What one ingest did: every input row is accepted, a duplicate, or quarantined."""

    file: str
    kind: str
    rows: int = 0
    accepted: int = 0
    duplicates: int = 0
    quarantined: int = 0
    quarantined_by_reason: dict[str, int] = field(default_factory=dict)
    flagged_spikes: int = 0
    already_ingested: bool = False
    batch_id: str = ""
    seconds: float = 0.0

    def summary(self) -> str:
        """One line for the audit log: what was stored, refused and where."""
        return (
            f"{self.kind}: {self.rows} rows, {self.accepted} accepted, {self.duplicates} "
            f"duplicates, {self.quarantined} quarantined, batch {self.batch_id}"
            + (" (already ingested)" if self.already_ingested else "")
        )

    def to_dict(self) -> dict:
        """The report as the JSON object of SPEC §12 (a copy: `dataclasses.asdict`'s deep copy
        cost a live post's response 3 % of the server's time)."""
        return {**vars(self), "quarantined_by_reason": dict(self.quarantined_by_reason)}


class EventType(StrEnum):
    """Track event types (SPEC §6)."""

    BORDER_CROSSING = "border_crossing"
    UNOFFICIAL_CROSSING = "unofficial_crossing"
    CLOSED_HOURS_CROSSING = "closed_hours_crossing"
    DARK_CROSSING = "dark_crossing"
    SIGNAL_GAP_NEAR_BORDER = "signal_gap_near_border"
    BORDER_LOITER = "border_loiter"
    RENDEZVOUS = "rendezvous"
    OFF_ROAD_NEAR_BORDER = "off_road_near_border"
    SHUTTLE = "shuttle"
    ROUTE_DEVIATION = "route_deviation"
    UNAUTHORIZED_STOP = "unauthorized_stop"
    TRANSIT_OVERDUE = "transit_overdue"
    WATCHLIST_HIT = "watchlist_hit"
    IDENTITY_CONFLICT = "identity_conflict"
    GNSS_ANOMALY = "gnss_anomaly"


# The gazetteer of place names (`geoint.layers.gazetteer.build_gazetteer`), for seizure positions.
GAZETTEER_SCHEMA: dict[str, pl.DataType] = {
    "name": pl.String(),
    "lat": pl.Float64(),
    "lon": pl.Float64(),
    "population": pl.Float64(),
    "source": pl.String(),  # "region" places win over "world" places of the same name
}

# Events as detectors produce them and the workspace stores them (SPEC §6, §12).
EVENT_SCHEMA: dict[str, pl.DataType] = {
    "event_id": pl.String(),  # deterministic: type, vehicle and first evidence ping
    "event_type": pl.String(),
    "vehicle_id": pl.String(),
    "other_vehicle_id": pl.String(),  # rendezvous partner, else null
    "start": UTC_DATETIME,
    "end": UTC_DATETIME,
    "lat": pl.Float64(),
    "lon": pl.Float64(),
    "cell": pl.UInt64(),
    "side_from": pl.Int8(),  # side codes of the region: 0, 1, -1 (neither)
    "side_to": pl.Int8(),
    "night": pl.Boolean(),
    "distance_to_border_m": pl.Float64(),
    "distance_to_crossing_m": pl.Float64(),
    "evidence": pl.List(pl.UInt64()),  # ping ids
    "detail": pl.String(),  # JSON: thresholds and measured values that explain the event
}
# Columns of `geoint events export` (cells as hex, times ISO 8601 UTC).
EVENT_EXPORT_COLUMNS = (
    "event_id", "event_type", "vehicle_id", "other_vehicle_id", "start", "end", "lat", "lon",
    "cell", "night", "distance_to_border_m", "distance_to_crossing_m",
)  # fmt: skip
# Columns of a ground-truth file (`truth.csv` from `geoint simulate`).
TRUTH_COLUMNS = ("event_type", "vehicle_id", "other_vehicle_id", "start", "end", "lat", "lon")
