"""The alert store (SPEC §8): candidates merged into alerts, de-duplication, lifecycle, labels.

`AlertStore.apply` merges `geoint.alerts.rules.Candidate` alerts into the ``alerts`` table: a
candidate whose source (rule and event id, or rule, cell and day) was seen before changes
nothing, so re-running an analysis adds no alert; a repeat of the same rule for the same subject
(vehicle or cell) within the de-duplication window of an open alert's event times updates it
(count, last seen) instead.

Every change of an alert (created, repeated, acknowledged, resolved, dismissed, labelled)
increments its ``version`` and appends a row to ``alert_changes``, whose ``seq`` grows
monotonically (the event ids of the SSE stream). State changes are guarded by the version:
an update applies only to the version it read, so two concurrent acknowledgements cannot both
succeed and the history never holds contradicting rows.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import polars as pl
import sqlalchemy as sa

from geoint.alerts.rules import Candidate, explained, late_words
from geoint.errors import GeointError
from geoint.store.tables import (
    ALERT_EVENT_TIME_INDEX,
    ALERT_TABLES,
    MAX_INTEGER,
    alert_changes,
    alert_labels,
    alert_sources,
    alerts,
)
from geoint.store.workspace import Box, Workspace, reserve, span_conditions
from geoint.times import as_utc, iso, utc_now_or

STATUSES = ("new", "acknowledged", "resolved", "dismissed")
SYSTEM_ACTOR = "geoint analyze"  # the actor of changes made by an analysis
OPEN_STATUSES = ("new", "acknowledged")
# verb -> (status it applies to, status it leads to)
TRANSITIONS = {
    "ack": ("new", "acknowledged"),
    "resolve": ("acknowledged", "resolved"),
    "dismiss": ("acknowledged", "dismissed"),
}
LABELS = ("true_positive", "false_positive")
_RETRIES = 5
_ALERT_COUNTER = "alert_id"
_CHANGE_COUNTER = "alert_change_seq"  # the SSE event ids (`_number_changes`)
_FEW_CANDIDATES = 500  # up to this many, `apply` reads only the candidates' own rows

_FRAME_SCHEMA: dict[str, pl.DataType] = {
    "id": pl.String(),
    "rule": pl.String(),
    "alert_type": pl.String(),
    "status": pl.String(),
    "severity": pl.String(),
    "title": pl.String(),
    "explanation": pl.String(),
    "event_time": pl.Datetime("us", "UTC"),
    "last_seen": pl.Datetime("us", "UTC"),
    "count": pl.Int64(),
    "lat": pl.Float64(),
    "lon": pl.Float64(),
    "cell": pl.String(),
    "sector": pl.String(),
    "vehicles": pl.List(pl.String()),
    "label": pl.String(),
}


class AlertNotFoundError(GeointError, LookupError):
    """No alert has this id (or the caller may not see it)."""


class AlertStateError(GeointError, ValueError):
    """A lifecycle change that the alert's status does not allow, or an unknown label."""


@dataclass
class AlertQuery:
    """Filters and a page of an alert list; ``cursor`` is the last id of the previous page."""

    limit: int = 100
    cursor: int | None = None
    since: datetime | None = None
    status: Sequence[str] = ()
    severity: Sequence[str] = ()
    alert_type: Sequence[str] = ()
    sector: Sequence[str] = ()
    boxes: Sequence[tuple[float, float, float, float]] = ()
    sectors: frozenset[str] | None = None  # a unit's scope; None sees everything


@dataclass
class _Merged:
    """An alert being built or extended by `AlertStore.apply`."""

    id: int | None
    first: Candidate | None  # None for an alert read from the store
    latest: Candidate | None
    event_time: datetime
    last_seen: datetime
    status: str = "new"
    version: int = 0
    count: int = 0
    repeats: list[Candidate] = field(default_factory=list)
    vehicles: list[str] = field(default_factory=list)
    events: list[str] = field(default_factory=list)
    pings: list[int] = field(default_factory=list)
    late: dict[str, Any] | None = None  # a stored alert's "raised_late" evidence, kept

    def add(self, candidate: Candidate) -> None:
        self.repeats.append(candidate)
        self.latest = candidate
        self.event_time = min(self.event_time, candidate.start)
        self.last_seen = max(self.last_seen, candidate.end)
        self.vehicles += [v for v in candidate.vehicles if v not in self.vehicles]
        self.events += list(candidate.event_ids)
        self.pings += list(candidate.ping_ids)


class AlertStore:
    """Alerts, their sources, history and labels in the workspace database."""

    def __init__(self, workspace: Workspace) -> None:
        self.engine = workspace.engine
        self._data_version = workspace.data_version
        self._last_seq_seen: tuple[int, int] | None = None  # (data version, last_seq)
        workspace.ensure_tables(ALERT_TABLES)
        with self.engine.begin() as conn:  # create_all adds no index to an existing table
            conn.execute(sa.schema.CreateIndex(ALERT_EVENT_TIME_INDEX, if_not_exists=True))

    # ------------------------------------------------------------------ raise
    def apply(
        self,
        candidates: Iterable[Candidate],
        window_s: float,
        now: datetime | None = None,
        actor: str = SYSTEM_ACTOR,
    ) -> dict[str, int]:
        """Store candidates: new alerts, repeats folded into open ones, known sources skipped.

        Returns counts ``created`` (alerts), ``updated`` (existing alerts that got repeats),
        ``repeats`` (candidates folded into an alert) and ``known`` (sources seen before).
        """
        now = utc_now_or(now)
        window = timedelta(seconds=window_s)
        pending = sorted(candidates, key=lambda c: (c.start, c.rule.id, c.subject, c.source))
        counts = {"created": 0, "updated": 0, "repeats": 0, "known": 0}
        with self.engine.begin() as conn:
            first_id = next_id = _lock_alert_ids(conn)  # serialises writers of new alerts
            rules = {c.rule.id for c in pending}
            # a few candidates (an incremental run) read only their own sources and subjects
            few = len(pending) <= _FEW_CANDIDATES
            seen = self._seen_sources(conn, rules, {c.source for c in pending} if few else None)
            merged = self._open_alerts(conn, rules, {c.subject for c in pending} if few else None)
            touched: list[_Merged] = []
            for candidate in pending:
                key = (candidate.rule.id, candidate.source)
                if key in seen:
                    counts["known"] += 1
                    continue
                seen.add(key)
                target = _within(
                    merged.get((candidate.rule.id, candidate.subject), []), candidate, window
                )
                if target is None:
                    target = _Merged(None, candidate, candidate, candidate.start, candidate.end)
                    merged.setdefault((candidate.rule.id, candidate.subject), []).append(target)
                else:
                    counts["repeats"] += 1
                if not target.repeats:
                    touched.append(target)
                target.add(candidate)
            rows, changes = [], []
            for alert in touched:
                if alert.id is None:
                    alert.id, next_id = next_id, next_id + 1
                    rows.append(_new_row(alert, now))
                    changes += _new_changes(alert, now, actor)
                    counts["created"] += 1
                else:
                    changes += self._extend(conn, alert, now, actor)
                    counts["updated"] += 1
            sources = [
                {"rule": c.rule.id, "source": c.source, "alert_id": alert.id}
                for alert in touched
                for c in alert.repeats
            ]
            if changes:
                _number_changes(conn, changes)
            for table, values in (
                (alerts, rows),
                (alert_changes, changes),
                (alert_sources, sources),
            ):
                if values:
                    conn.execute(table.insert(), values)
            reserve(conn, _ALERT_COUNTER, next_id - first_id)
        return counts

    @staticmethod
    def _seen_sources(
        conn: sa.Connection, rules: set[str], sources: set[str] | None
    ) -> set[tuple[str, str]]:
        query = sa.select(alert_sources.c.rule, alert_sources.c.source).where(
            alert_sources.c.rule.in_(rules)
        )
        if sources is not None:
            query = query.where(alert_sources.c.source.in_(sources))
        return {(rule, source) for rule, source in conn.execute(query)}

    @staticmethod
    def _open_alerts(
        conn: sa.Connection, rules: set[str], subjects: set[str] | None
    ) -> dict[tuple[str, str], list[_Merged]]:
        query = sa.select(alerts).where(
            alerts.c.rule.in_(rules), alerts.c.status.in_(OPEN_STATUSES)
        )
        if subjects is not None:
            query = query.where(alerts.c.subject.in_(subjects))
        out: dict[tuple[str, str], list[_Merged]] = {}
        for row in conn.execute(query).mappings():
            evidence = json.loads(row["evidence"])
            stub = _Merged(
                id=row["id"],
                first=None,
                latest=None,
                event_time=as_utc(row["event_time"]),
                last_seen=as_utc(row["last_seen"]),
                status=row["status"],
                version=row["version"],
                count=row["count"],
                vehicles=json.loads(row["vehicles"]),
                events=evidence["events"],
                pings=evidence["pings"],
                late=evidence.get("raised_late"),
            )
            out.setdefault((row["rule"], row["subject"]), []).append(stub)
        return out

    def _extend(
        self, conn: sa.Connection, alert: _Merged, now: datetime, actor: str
    ) -> list[dict[str, Any]]:
        """Add repeats to a stored alert, retrying on the fresh row if its version moved."""
        added = len(alert.repeats)
        for _ in range(_RETRIES):
            result = conn.execute(
                alerts.update()
                .where(alerts.c.id == alert.id, alerts.c.version == alert.version)
                .values(
                    count=alert.count + added,
                    version=alert.version + added,
                    updated_at=now,
                    event_time=alert.event_time,
                    last_seen=alert.last_seen,
                    explanation=explained(alert.latest, alert.late),
                    vehicles=json.dumps(alert.vehicles),
                    evidence=json.dumps(
                        {"events": alert.events, "pings": alert.pings}
                        | ({"raised_late": alert.late} if alert.late else {})
                    ),
                )
            )
            if result.rowcount == 1:
                break
            row = conn.execute(sa.select(alerts).where(alerts.c.id == alert.id)).mappings().one()
            alert.version, alert.count, alert.status = row["version"], row["count"], row["status"]
        else:
            raise AlertStateError(f"alert {alert.id} kept changing while repeats were added")
        return [
            _change_row(
                alert.id, alert.version + i, now, actor, "repeated", alert.status, c.explanation
            )
            for i, c in enumerate(alert.repeats, start=1)
        ]

    def withdraw(
        self, event_ids: Iterable[str], note: str, now: datetime | None = None, actor: str = ""
    ) -> int:
        """Dismiss the new alerts raised only from events that are gone (late pings replaced
        them with others), noting why; return how many. Acknowledged alerts are left to their
        analyst."""
        gone = set(event_ids)
        if not gone:
            return 0
        now = utc_now_or(now)
        withdrawn = 0
        with self.engine.begin() as conn:
            hit = sa.select(alert_sources.c.alert_id).where(alert_sources.c.source.in_(gone))
            candidates = conn.execute(
                sa.select(alerts.c.id, alerts.c.version)
                .where(alerts.c.id.in_(hit), alerts.c.status == "new")
                .order_by(alerts.c.id)
            ).all()
            for alert_id, version in candidates:
                sources = conn.execute(
                    sa.select(alert_sources.c.source).where(alert_sources.c.alert_id == alert_id)
                ).scalars()
                if not set(sources) <= gone:
                    continue
                result = conn.execute(
                    alerts.update()
                    .where(alerts.c.id == alert_id, alerts.c.version == version)
                    .values(status="dismissed", version=version + 1, updated_at=now)
                )
                if result.rowcount == 1:
                    changes = [
                        _change_row(
                            alert_id, version + 1, now, actor or SYSTEM_ACTOR,
                            "withdrawn", "dismissed", note,
                        )
                    ]  # fmt: skip
                    _number_changes(conn, changes)
                    conn.execute(alert_changes.insert(), changes)
                    withdrawn += 1
        return withdrawn

    # -------------------------------------------------------------- lifecycle
    def transition(
        self,
        alert_id: int,
        verb: str,
        actor: str,
        note: str = "",
        sectors: frozenset[str] | None = None,
        now: datetime | None = None,
    ) -> dict[str, Any]:
        """Acknowledge, resolve or dismiss an alert; return it. Invalid changes raise."""
        if verb not in TRANSITIONS:
            raise AlertStateError(
                f"unknown action {verb!r}; expected one of {', '.join(TRANSITIONS)}"
            )
        before, after = TRANSITIONS[verb]

        def change(row: sa.RowMapping) -> tuple[dict[str, Any], str, str]:
            if row["status"] != before:
                raise AlertStateError(
                    f"alert {alert_id} is {row['status']}: '{verb}' applies only to {before} alerts"
                )
            return {"status": after}, after, after

        return self._guarded(alert_id, actor, note, sectors, now, change)

    def label(
        self,
        alert_id: int,
        label: str,
        actor: str,
        note: str = "",
        sectors: frozenset[str] | None = None,
        now: datetime | None = None,
    ) -> dict[str, Any]:
        """Label an alert a true or false positive (any status; a later label replaces it)."""
        if label not in LABELS:
            raise AlertStateError(f"label: expected one of {', '.join(LABELS)}, got {label!r}")

        def change(row: sa.RowMapping) -> tuple[dict[str, Any], str, str]:
            return {"label": label}, "labelled", row["status"]

        row = {
            "alert_id": alert_id,
            "label": label,
            "actor": actor,
            "at": utc_now_or(now),
            "note": note,
        }
        return self._guarded(alert_id, actor, note, sectors, now, change, label_row=row)

    def _guarded(
        self,
        alert_id: int,
        actor: str,
        note: str,
        sectors: frozenset[str] | None,
        now: datetime | None,
        change: Callable[[sa.RowMapping], tuple[dict[str, Any], str, str]],
        label_row: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Apply `change` to the version of the alert it saw, or re-read and decide again.

        The alert, its change row and `label_row` (an ``alert_labels`` row) commit together.
        """
        now = utc_now_or(now)
        for _ in range(_RETRIES):
            with self.engine.begin() as conn:
                row = self._row(conn, alert_id, sectors)
                values, action, status = change(row)
                version = row["version"] + 1
                result = conn.execute(
                    alerts.update()
                    .where(alerts.c.id == alert_id, alerts.c.version == row["version"])
                    .values(**values, version=version, updated_at=now)
                )
                if result.rowcount != 1:
                    continue  # another writer got there first: read its outcome and decide again
                changes = [_change_row(alert_id, version, now, actor, action, status, note)]
                _number_changes(conn, changes)
                conn.execute(alert_changes.insert(), changes)
                if label_row is not None:
                    conn.execute(alert_labels.insert().values(**label_row))
            return self.get(alert_id, sectors)
        raise AlertStateError(f"alert {alert_id} kept changing; try again")

    # ------------------------------------------------------------------ reads
    @staticmethod
    def _row(conn: sa.Connection, alert_id: int, sectors: frozenset[str] | None) -> sa.RowMapping:
        if not 1 <= alert_id <= MAX_INTEGER:
            raise AlertNotFoundError(f"no alert {alert_id}; see 'geoint alerts list'")
        query = sa.select(alerts).where(alerts.c.id == alert_id)
        if sectors is not None:
            query = query.where(alerts.c.sector.in_(sorted(sectors)))
        row = conn.execute(query).mappings().first()
        if row is None:
            raise AlertNotFoundError(f"no alert {alert_id}; see 'geoint alerts list'")
        return row

    def get(self, alert_id: int, sectors: frozenset[str] | None = None) -> dict[str, Any]:
        """One alert as a JSON-ready dict (404-style error if unknown or out of scope)."""
        with self.engine.connect() as conn:
            return alert_dict(self._row(conn, alert_id, sectors))

    def history(self, alert_id: int) -> list[dict[str, Any]]:
        """The changes of one alert, oldest first."""
        query = (
            sa.select(alert_changes)
            .where(alert_changes.c.alert_id == alert_id)
            .order_by(alert_changes.c.seq)
        )
        with self.engine.connect() as conn:
            return [_change_dict(row) for row in conn.execute(query).mappings()]

    def list(self, query: AlertQuery) -> tuple[list[dict[str, Any]], int | None]:
        """Alerts matching the query, newest first, and the cursor of the next page (or None)."""
        select = sa.select(alerts).order_by(alerts.c.id.desc()).limit(query.limit + 1)
        conditions = []
        if query.cursor is not None and query.cursor <= MAX_INTEGER:
            conditions.append(alerts.c.id < query.cursor)
        if query.since is not None:
            conditions.append(alerts.c.updated_at >= utc_now_or(query.since))
        for column, values in (
            (alerts.c.status, query.status),
            (alerts.c.severity, query.severity),
            (alerts.c.alert_type, query.alert_type),
            (alerts.c.sector, query.sector),
        ):
            if values:
                # PostgreSQL refuses text holding NUL; no stored value holds one either
                conditions.append(column.in_([v for v in values if "\x00" not in v]))
        conditions += _frame_conditions(query.boxes, sectors=query.sectors)
        with self.engine.connect() as conn:
            rows = conn.execute(select.where(*conditions)).mappings().all()
        page = [alert_dict(row) for row in rows[: query.limit]]
        more = len(rows) > query.limit
        return page, (page[-1]["id"] if more and page else None)

    def open_on(self, day: date, limit: int) -> list[dict[str, Any]]:
        """Alerts open during the UTC `day` (event time to last seen), newest first."""
        start = datetime.combine(day, time.min, UTC)
        query = (
            sa.select(alerts)
            .where(alerts.c.event_time < start + timedelta(days=1))
            .where(alerts.c.last_seen >= start)
            .order_by(alerts.c.id.desc())
            .limit(limit)
        )
        with self.engine.connect() as conn:
            return [alert_dict(row) for row in conn.execute(query).mappings()]

    def last_seq(self) -> int:
        """The sequence number of the latest alert change (0 when there is none)."""
        version = self._data_version()  # before reading: a commit meanwhile voids the memo
        with self.engine.connect() as conn:
            seq = conn.execute(sa.select(sa.func.max(alert_changes.c.seq))).scalar() or 0
        if version is not None:
            self._last_seq_seen = (version, seq)
        return seq

    def known_last_seq(self) -> int | None:
        """`last_seq` without a query when nothing was committed since it was last read, else
        None (call `last_seq`). Costs a few microseconds: fit for the event loop."""
        seen, version = self._last_seq_seen, self._data_version()
        return seen[1] if seen is not None and version is not None and seen[0] == version else None

    def changes_since(
        self, seq: int, sectors: frozenset[str] | None = None, limit: int = 500
    ) -> list[dict[str, Any]]:
        """Alert changes after `seq`, oldest first, each with its alert's current state.

        Sequence numbers follow commit order (`_number_changes`), so a change is visible only
        after every change with a smaller number: a reader resuming after `seq` misses nothing.
        """
        if seq >= MAX_INTEGER:  # no change has a larger number
            return []
        query = (
            sa.select(alert_changes)
            .join(alerts, alerts.c.id == alert_changes.c.alert_id)
            .where(alert_changes.c.seq > seq)
            .order_by(alert_changes.c.seq)
            .limit(limit)
        )
        if sectors is not None:
            query = query.where(alerts.c.sector.in_(sorted(sectors)))
        with self.engine.connect() as conn:
            changes = [_change_dict(row) for row in conn.execute(query).mappings()]
            ids = sorted({change["alert_id"] for change in changes})
            current = {
                row["id"]: alert_dict(row)
                for row in conn.execute(sa.select(alerts).where(alerts.c.id.in_(ids))).mappings()
            }
        return [{**change, "alert": current[change["alert_id"]]} for change in changes]

    def frame(self) -> pl.DataFrame:
        """Every alert as a table: ``id`` as text, times UTC, ``vehicles`` a list."""
        names = [c for c in _FRAME_SCHEMA if c != "id"]
        query = sa.select(
            sa.cast(alerts.c.id, sa.String).label("id"), *(alerts.c[n] for n in names)
        )
        with self.engine.connect() as conn:
            rows = [dict(row) for row in conn.execute(query.order_by(alerts.c.id)).mappings()]
        for row in rows:
            row["vehicles"] = json.loads(row["vehicles"])
            for column in ("event_time", "last_seen"):
                row[column] = as_utc(row[column])
        return pl.DataFrame(rows, schema=_FRAME_SCHEMA)

    def frame_page(
        self,
        boxes: Sequence[Box] = (),
        start: datetime | None = None,
        end: datetime | None = None,
        sectors: frozenset[str] | None = None,
        limit: int | None = None,
        offset: int = 0,
        alert_id: int | None = None,
    ) -> tuple[pl.DataFrame, int]:
        """A page of `frame` rows by event time then id, and how many alerts match in all.

        An alert matches when it lies in one of `boxes` (none: anywhere), its time span
        ``[event_time, last_seen]`` meets ``[start, end]``, its sector is one of `sectors`
        (None: any) and, when given, its id is `alert_id`.
        """
        conditions = _frame_conditions(boxes, start, end, sectors)
        if alert_id is not None:
            conditions.append(alerts.c.id == alert_id)
        names = [c for c in _FRAME_SCHEMA if c != "id"]
        query = (
            sa.select(sa.cast(alerts.c.id, sa.String), *(alerts.c[n] for n in names))
            .where(*conditions)
            .order_by(alerts.c.event_time, alerts.c.id)
            .limit(limit)
            .offset(offset)
        )
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
            # a page that is not full ends the matches: no count needed
            last_page = (limit is None or len(rows) < limit) and (rows or not offset)
            count = sa.select(sa.func.count()).select_from(alerts).where(*conditions)
            matched = offset + len(rows) if last_page else conn.execute(count).scalar_one()
        frame = pl.DataFrame(
            rows, schema={**_FRAME_SCHEMA, "vehicles": pl.String()}, orient="row"
        ).with_columns(pl.col("vehicles").str.json_decode(_FRAME_SCHEMA["vehicles"]))
        return frame, matched

    def frame_extent(
        self, sectors: frozenset[str] | None = None
    ) -> tuple[Box, tuple[datetime, datetime]] | None:
        """The bounding box and the time span (first event time, last seen) of the alerts in
        `sectors` (None: all); None when there are none."""
        query = sa.select(
            sa.func.min(alerts.c.lon),
            sa.func.min(alerts.c.lat),
            sa.func.max(alerts.c.lon),
            sa.func.max(alerts.c.lat),
            sa.func.min(alerts.c.event_time),
            sa.func.max(alerts.c.last_seen),
        ).where(*_frame_conditions(sectors=sectors))
        with self.engine.connect() as conn:
            *box, first, last = conn.execute(query).one()
        return None if first is None else (tuple(box), (as_utc(first), as_utc(last)))

    def precision_by_rule(self) -> dict[str, dict[str, float | int | None]]:
        """Per rule: alerts, labelled ones, true and false positives, and the precision."""
        query = sa.select(alerts.c.rule, alerts.c.label, sa.func.count()).group_by(
            alerts.c.rule, alerts.c.label
        )
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
        out: dict[str, dict[str, float | int | None]] = {}
        for rule, label, count in rows:
            entry = out.setdefault(
                rule, {"alerts": 0, "labelled": 0, "true_positive": 0, "false_positive": 0}
            )
            entry["alerts"] += count
            if label in LABELS:
                entry[label] += count
                entry["labelled"] += count
        for entry in out.values():
            labelled = entry["labelled"]
            entry["precision"] = entry["true_positive"] / labelled if labelled else None
        return dict(sorted(out.items()))


def _frame_conditions(
    boxes: Sequence[Box] = (),
    start: datetime | None = None,
    end: datetime | None = None,
    sectors: frozenset[str] | None = None,
) -> list[sa.ColumnElement[bool]]:
    """Alerts in a box, meeting an interval, in a unit's sectors (see `AlertStore.frame_page`)."""
    conditions = span_conditions(alerts, ("event_time", "last_seen"), boxes, start, end)
    if sectors is not None:
        conditions.append(alerts.c.sector.in_(sorted(sectors)))
    return conditions


def _lock_alert_ids(conn: sa.Connection) -> int:
    """Write-lock the alert id counter for this transaction and return the next free id."""
    return reserve(conn, _ALERT_COUNTER, 0, start=lambda: _max_plus_one(conn, alerts.c.id))


def _number_changes(conn: sa.Connection, changes: list[dict[str, Any]]) -> None:
    """Give `changes` their sequence numbers, in the order their transactions commit.

    An autoincrement key is drawn at insert: on PostgreSQL a transaction holding a lower
    number can commit after one holding a higher number was read, and a stream resuming
    after the higher one would skip it. The counter row stays locked until this transaction
    ends, so the next writer draws its numbers only once these are committed (or undone).
    """
    first = reserve(
        conn, _CHANGE_COUNTER, len(changes), start=lambda: _max_plus_one(conn, alert_changes.c.seq)
    )
    for offset, change in enumerate(changes):
        change["seq"] = first + offset


def _max_plus_one(conn: sa.Connection, column: sa.Column) -> int:
    return (conn.execute(sa.select(sa.func.max(column))).scalar() or 0) + 1


def _new_row(alert: _Merged, now: datetime) -> dict[str, Any]:
    """The ``alerts`` row of a new alert (its id assigned)."""
    first, latest = alert.first, alert.latest
    rule = first.rule
    return {
        "id": alert.id,
        "rule": rule.id,
        "alert_type": first.alert_type,
        "subject": first.subject,
        "status": "new",
        "severity": rule.severity,
        "urgency": rule.urgency,
        "certainty": rule.certainty,
        "title": rule.title,
        "explanation": explained(latest, _late(first).get("raised_late")),
        "created_at": now,
        "updated_at": now,
        "event_time": alert.event_time,
        "last_seen": alert.last_seen,
        "count": len(alert.repeats),
        "lat": first.lat,
        "lon": first.lon,
        "cell": first.cell,
        "sector": first.sector,
        "vehicles": json.dumps(alert.vehicles),
        "evidence": json.dumps({"events": alert.events, "pings": alert.pings} | _late(first)),
        "version": len(alert.repeats),
    }


def _late(candidate: Candidate) -> dict[str, Any]:
    """The evidence entry of an alert raised from late pings (none when on time)."""
    if candidate.late_s is None:
        return {}
    return {
        "raised_late": {
            "late_s": round(candidate.late_s),
            "reason": late_words(candidate.late_s).strip(),
        }
    }


def _new_changes(alert: _Merged, now: datetime, actor: str) -> list[dict[str, Any]]:
    """The history of a new alert: created, then one row per repeat."""
    first, *repeats = alert.repeats
    return [_change_row(alert.id, 1, now, actor, "created", "new", first.explanation)] + [
        _change_row(alert.id, v, now, actor, "repeated", "new", c.explanation)
        for v, c in enumerate(repeats, start=2)
    ]


def _within(open_alerts: list[_Merged], candidate: Candidate, window: timedelta) -> _Merged | None:
    """The open alert whose event times lie within `window` of the candidate, if any."""
    for alert in reversed(open_alerts):
        if alert.event_time - window <= candidate.start <= alert.last_seen + window:
            return alert
    return None


def _change_row(
    alert_id: int, version: int, at: datetime, actor: str, action: str, status: str, note: str
) -> dict[str, Any]:
    return {
        "alert_id": alert_id,
        "version": version,
        "at": at,
        "actor": actor,
        "action": action,
        "status": status,
        "note": note,
    }


def alert_dict(row: sa.RowMapping) -> dict[str, Any]:
    """An alert row as JSON-ready fields (times ISO 8601 UTC)."""
    evidence = json.loads(row["evidence"])
    return {
        "id": row["id"],
        "type": row["alert_type"],
        "rule": row["rule"],
        "status": row["status"],
        "severity": row["severity"],
        "urgency": row["urgency"],
        "certainty": row["certainty"],
        "title": row["title"],
        "explanation": row["explanation"],
        "created": iso(row["created_at"]),
        "updated": iso(row["updated_at"]),
        "event_time": iso(row["event_time"]),
        "last_seen": iso(row["last_seen"]),
        "count": row["count"],
        "lat": row["lat"],
        "lon": row["lon"],
        "cell": row["cell"],
        "sector": row["sector"],
        "vehicles": json.loads(row["vehicles"]),
        "evidence": {"events": evidence["events"], "pings": evidence["pings"]},
        "label": row["label"],
        "version": row["version"],
        "raised_late": evidence.get("raised_late"),
    }


def _change_dict(row: sa.RowMapping) -> dict[str, Any]:
    return {
        "seq": row["seq"],
        "alert_id": row["alert_id"],
        "version": row["version"],
        "at": iso(row["at"]),
        "actor": row["actor"],
        "action": row["action"],
        "status": row["status"],
        "note": row["note"],
    }
