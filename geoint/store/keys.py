"""API keys, browser sessions and the audit log, kept in the workspace database (SPEC §10).

A key is shown once, as ``geo_<id>_<secret>``; the database keeps only its id, role, sectors, a
random salt and the HMAC-SHA256 of the secret under that salt. The secret holds 256 random bits,
so a slow password hash would add latency to every request without making guessing any harder.
Browser sessions are random tokens of the same strength, stored as their SHA-256.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from geoint.errors import GeointError
from geoint.store.tables import KEY_TABLES, api_keys, audit_log, sessions
from geoint.store.workspace import Workspace, reserve
from geoint.times import as_utc, utc_now_or

ROLES = ("admin", "analyst", "unit", "feeder")
KEY_PREFIX = "geo"


class KeyRequestError(GeointError, ValueError):
    """A key cannot be created as asked (unknown role, sectors missing or not allowed)."""


class UnknownKeyError(GeointError, LookupError):
    """No key has the given id."""


@dataclass(frozen=True)
class ApiKey:
    """A stored key, without its secret."""

    id: str
    role: str
    sectors: tuple[str, ...]
    created_at: datetime
    revoked_at: datetime | None = None

    def to_dict(self) -> dict[str, object]:
        """The key as JSON-ready fields (times ISO 8601 UTC)."""
        return {
            "id": self.id,
            "role": self.role,
            "sectors": list(self.sectors),
            "created_at": self.created_at.isoformat(),
            "revoked_at": self.revoked_at.isoformat() if self.revoked_at else None,
        }


KEY_EPOCH = "key_epoch"  # advanced by every revocation and sign-out (`KeyStore.recall`)


class KeyStore:
    """Keys, sessions and the audit log of one workspace."""

    MAX_REMEMBERED = 10_000  # proven credentials kept in memory (cleared when full)

    def __init__(self, workspace: Workspace) -> None:
        self.engine = workspace.engine
        self._workspace = workspace
        # sha256 of a proven credential -> (key epoch when proven, key, session expiry)
        self._proven: dict[str, tuple[int, ApiKey, datetime | None]] = {}
        self._proven_lock = threading.Lock()
        workspace.ensure_tables(KEY_TABLES)

    # ----------------------------------------------------- proven credentials
    def recall(self, credential: str, session: bool = False) -> ApiKey | None:
        """The key an API key text (or a session token) proved before, without a query, if no
        key was revoked and no session ended since; else None (ask `authenticate` or
        `session_key`). A revocation or a sign-out, in any process, advances the key epoch (a
        counter written in the same transaction) and so forgets every proof: a revoked key is
        refused at once. Other commits (ingest, alerts) leave the proofs valid.
        """
        version = self._key_epoch()
        if version is None:
            return None
        with self._proven_lock:
            found = self._proven.get(_proof(credential, session))
        if found is None or found[0] != version:
            return None
        _, key, expires = found
        return key if expires is None or expires > datetime.now(UTC) else None

    def _key_epoch(self) -> int | None:
        return self._workspace.watched_counter(KEY_EPOCH)

    def _remember(
        self,
        credential: str,
        session: bool,
        version: int | None,
        key: ApiKey,
        expires: datetime | None = None,
    ) -> None:
        if version is None:
            return
        with self._proven_lock:
            if len(self._proven) >= self.MAX_REMEMBERED:
                self._proven.clear()
            self._proven[_proof(credential, session)] = (version, key, expires)

    # ------------------------------------------------------------------- keys
    def create(
        self,
        role: str,
        sectors: Sequence[str] = (),
        now: datetime | None = None,
        known_sectors: Sequence[str] | None = None,
    ) -> tuple[ApiKey, str]:
        """Store a new key; return it and its secret text (which is never stored).

        `known_sectors`: the region's sector ids, which a unit key's sectors must be among
        (None: not checked, for callers that checked them).
        """
        sectors = tuple(dict.fromkeys(s.strip() for s in sectors if s.strip()))
        if role not in ROLES:
            raise KeyRequestError(f"--role: expected one of {', '.join(ROLES)}, got {role!r}")
        if role == "unit" and not sectors:
            raise KeyRequestError("--sector: a unit key needs at least one sector id")
        unknown = [s for s in sectors if known_sectors is not None and s not in known_sectors]
        if unknown:
            raise KeyRequestError(
                f"--sector: the region has no sector {unknown[0][:128]!r} (its sectors: "
                f"{', '.join(sorted(known_sectors)[:20]) or 'none'})"
            )
        if role != "unit" and sectors:
            raise KeyRequestError(f"--sector: only unit keys are scoped to sectors, not {role}")
        key = ApiKey(secrets.token_hex(6), role, sectors, utc_now_or(now))
        secret = secrets.token_urlsafe(32)
        salt = secrets.token_hex(16)
        with self.engine.begin() as conn:
            conn.execute(
                api_keys.insert().values(
                    id=key.id,
                    role=role,
                    sectors=json.dumps(list(sectors)),
                    salt=salt,
                    digest=_digest(salt, secret),
                    created_at=key.created_at,
                )
            )
        return key, f"{KEY_PREFIX}_{key.id}_{secret}"

    def all_keys(self) -> list[ApiKey]:
        """Return every key, revoked ones included, oldest first."""
        query = sa.select(api_keys).order_by(api_keys.c.created_at, api_keys.c.id)
        with self.engine.connect() as conn:
            return [_key(row) for row in conn.execute(query).mappings()]

    def revoke(self, key_id: str, now: datetime | None = None) -> ApiKey:
        """Revoke a key (and so its sessions); revoking twice keeps the first time."""
        with self.engine.begin() as conn:
            conn.execute(
                api_keys.update()
                .where(api_keys.c.id == key_id, api_keys.c.revoked_at.is_(None))
                .values(revoked_at=utc_now_or(now))
            )
            reserve(conn, KEY_EPOCH, 1)  # every process forgets the keys it proved
            row = conn.execute(sa.select(api_keys).where(api_keys.c.id == key_id)).mappings()
            found = row.first()
        if found is None:
            raise UnknownKeyError(f"no API key with id {key_id!r}; see 'geoint keys list'")
        return _key(found)

    def authenticate(self, text: str) -> ApiKey | None:
        """Return the live key whose secret text this is, else None."""
        prefix, _, rest = text.strip().partition("_")
        key_id, _, secret = rest.partition("_")
        if prefix != KEY_PREFIX or not key_id or not secret:
            return None
        query = sa.select(api_keys).where(api_keys.c.id == key_id, api_keys.c.revoked_at.is_(None))
        version = self._key_epoch()  # before reading: a revocation meanwhile voids the proof
        with self.engine.connect() as conn:
            row = conn.execute(query).mappings().first()
        if row is None or not hmac.compare_digest(row["digest"], _digest(row["salt"], secret)):
            return None
        key = _key(row)
        self._remember(text, False, version, key)
        return key

    # --------------------------------------------------------------- sessions
    def open_session(self, key: ApiKey, ttl: timedelta, now: datetime | None = None) -> str:
        """Start a browser session for a key; return its token (stored only as a hash)."""
        now = utc_now_or(now)
        token = secrets.token_urlsafe(32)
        with self.engine.begin() as conn:
            conn.execute(sessions.delete().where(sessions.c.expires_at <= now))
            conn.execute(
                sessions.insert().values(
                    digest=_sha256(token), key_id=key.id, created_at=now, expires_at=now + ttl
                )
            )
        return token

    def session_key(self, token: str, now: datetime | None = None) -> ApiKey | None:
        """Return the live key of an unexpired session, else None."""
        query = (
            sa.select(api_keys, sessions.c.expires_at.label("session_expires_at"))
            .join(sessions, sessions.c.key_id == api_keys.c.id)
            .where(
                sessions.c.digest == _sha256(token),
                sessions.c.expires_at > utc_now_or(now),
                api_keys.c.revoked_at.is_(None),
            )
        )
        version = self._key_epoch()
        with self.engine.connect() as conn:
            row = conn.execute(query).mappings().first()
        if row is None:
            return None
        key = _key(row)
        self._remember(token, True, version, key, as_utc(row["session_expires_at"]))
        return key

    def close_session(self, token: str) -> None:
        """End a session (nothing happens for an unknown token)."""
        with self.engine.begin() as conn:
            conn.execute(sessions.delete().where(sessions.c.digest == _sha256(token)))
            reserve(conn, KEY_EPOCH, 1)

    # ------------------------------------------------------------------ audit
    def record(
        self,
        key_id: str,
        method: str,
        path: str,
        status: int,
        summary: str,
        now: datetime | None = None,
    ) -> None:
        """Append one write to the audit log (NUL characters, which PostgreSQL text cannot
        hold, stored as U+FFFD: a summary may quote the request)."""
        with self.engine.begin() as conn:
            conn.execute(
                audit_log.insert().values(
                    at=utc_now_or(now),
                    key_id=key_id,
                    method=method,
                    path=path.replace("\x00", "\ufffd"),
                    status=status,
                    summary=summary.replace("\x00", "\ufffd"),
                )
            )

    def record_many(self, entries: list[dict[str, Any]]) -> list[None]:
        """Append writes (`record`'s arguments as dicts, ``at`` optional) in one transaction."""
        now = utc_now_or(None)
        with self.engine.begin() as conn:
            conn.execute(audit_log.insert(), [{"at": now, **entry} for entry in entries])
        return [None] * len(entries)

    def audit(self, limit: int, offset: int = 0) -> tuple[list[dict[str, object]], int]:
        """Return at most `limit` audit entries, newest first, and how many there are."""
        query = sa.select(audit_log).order_by(audit_log.c.id.desc()).limit(limit).offset(offset)
        with self.engine.connect() as conn:
            total = conn.execute(sa.select(sa.func.count()).select_from(audit_log)).scalar_one()
            rows = [{str(k): v for k, v in row.items()} for row in conn.execute(query).mappings()]
        for row in rows:
            row["at"] = as_utc(row["at"]).isoformat()
        return rows, total


def _digest(salt: str, secret: str) -> str:
    return hmac.new(bytes.fromhex(salt), secret.encode(), hashlib.sha256).hexdigest()


def _proof(credential: str, session: bool) -> str:
    return ("s" if session else "k") + _sha256(credential)


def _sha256(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _key(row: sa.RowMapping) -> ApiKey:
    revoked = row["revoked_at"]
    return ApiKey(
        id=row["id"],
        role=row["role"],
        sectors=tuple(json.loads(row["sectors"])),
        created_at=as_utc(row["created_at"]),
        revoked_at=as_utc(revoked) if revoked else None,
    )
