"""UTC datetimes: what the database gives back, what a caller passes, how JSON shows them."""

from __future__ import annotations

from datetime import UTC, date, datetime


def as_utc(value: datetime) -> datetime:
    """Return `value` in UTC; a naive datetime is taken as UTC (SQLite returns them naive)."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utc_now_or(now: datetime | None) -> datetime:
    """Return `now` in UTC, or the current time when None (callers pass `now` in tests)."""
    return as_utc(now) if now else datetime.now(UTC)


def iso(value: datetime | date) -> str:
    """ISO 8601 text: datetimes in UTC with their offset, dates as YYYY-MM-DD."""
    if isinstance(value, datetime):
        return as_utc(value).isoformat()
    return value.isoformat()


def clock_label(moment: datetime, first: datetime) -> str:
    """'HH:MM' in `moment`'s own offset, with '+N' when it falls N days after `first`'s date."""
    days = (moment.date() - first.date()).days
    return f"{moment:%H:%M}" + (f"+{days}" if days else "")
