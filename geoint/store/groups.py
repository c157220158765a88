"""Closed user groups (CENcomm): members are API keys, across sectors and agencies; members
share alerts, seizures and operations with a note, and only members see what was shared
(docs/exchange.md).

A share keeps the item as it was when shared, so that a member whose sectors do not hold it
still sees what the sharer saw, and nothing more. Shares are numbered (`seq`) for the members'
SSE streams.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
import sqlalchemy as sa

from geoint.errors import GeointError
from geoint.store.tables import (
    GROUP_TABLES,
    MAX_INTEGER,
    api_keys,
    group_members,
    group_shares,
    user_groups,
)
from geoint.store.workspace import Workspace, reserve
from geoint.times import as_utc, utc_now_or

SHARE_KINDS = ("alert", "seizure", "operation")
_SHARE_COUNTER = "group_share_seq"  # the shares' numbers (`_share_number`)


class GroupError(GeointError, ValueError):
    """A group request cannot be done (unknown key, name taken, not a member)."""


class GroupNotFoundError(GeointError, LookupError):
    """No such group, or the caller is not a member (the two look the same to the caller)."""


@dataclass(frozen=True)
class Group:
    """A closed user group and its members' key ids."""

    id: int
    name: str
    description: str
    created_at: datetime
    members: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        """The group as JSON-ready fields."""
        return {
            "id": self.id,
            "name": self.name,
            "description": self.description,
            "created_at": self.created_at.isoformat(),
            "members": list(self.members),
        }


class GroupStore:
    """The closed user groups of one workspace, their members and shares."""

    def __init__(self, workspace: Workspace) -> None:
        self.engine = workspace.engine
        self._data_version = workspace.data_version
        self._last_seq_seen: tuple[int, int] | None = None  # (data version, last_seq)
        workspace.ensure_tables(GROUP_TABLES)

    def create(self, name: str, description: str = "", now: datetime | None = None) -> Group:
        """Create an empty group; names are unique."""
        name = name.strip()
        if not name or len(name) > 128:
            raise GroupError("NAME: expected a group name of 1 to 128 characters")
        with self.engine.begin() as conn:
            taken = conn.execute(sa.select(user_groups.c.id).where(user_groups.c.name == name))
            if taken.first() is not None:
                raise GroupError(f"NAME: a group named {name!r} exists; see 'geoint groups list'")
            created = utc_now_or(now)
            result = conn.execute(
                user_groups.insert().values(name=name, description=description, created_at=created)
            )
        return Group(result.inserted_primary_key[0], name, description, created, ())

    def all_groups(self) -> list[Group]:
        """Every group with its members, oldest first."""
        return self._groups(sa.true())

    def member_groups(self, key_id: str) -> list[Group]:
        """The groups a key is a member of."""
        mine = sa.select(group_members.c.group_id).where(group_members.c.key_id == key_id)
        return self._groups(user_groups.c.id.in_(mine))

    def group(self, group_id: int, member: str | None = None) -> Group:
        """One group; with `member`, only if that key belongs to it (else not found)."""
        found = self._groups(user_groups.c.id == group_id)
        if not found or (member is not None and member not in found[0].members):
            raise GroupNotFoundError(f"no group {group_id} of which this key is a member")
        return found[0]

    def _groups(self, where: sa.ColumnElement[bool]) -> list[Group]:
        query = sa.select(user_groups).where(where).order_by(user_groups.c.id)
        with self.engine.connect() as conn:
            rows = conn.execute(query).mappings().all()
            ids = [row["id"] for row in rows]
            members = conn.execute(
                sa.select(group_members.c.group_id, group_members.c.key_id)
                .where(group_members.c.group_id.in_(ids))
                .order_by(group_members.c.added_at, group_members.c.key_id)
            ).all()
        by_group: dict[int, list[str]] = {}
        for group_id, key_id in members:
            by_group.setdefault(group_id, []).append(key_id)
        return [
            Group(
                row["id"],
                row["name"],
                row["description"],
                as_utc(row["created_at"]),
                tuple(by_group.get(row["id"], ())),
            )
            for row in rows
        ]

    def add_member(self, group_id: int, key_id: str, now: datetime | None = None) -> Group:
        """Add a live key to a group (adding it twice changes nothing)."""
        group = self.group(group_id)
        with self.engine.begin() as conn:
            live = conn.execute(
                sa.select(api_keys.c.id).where(
                    api_keys.c.id == key_id, api_keys.c.revoked_at.is_(None)
                )
            ).first()
            if live is None:
                raise GroupError(f"KEY_ID: no live API key {key_id!r}; see 'geoint keys list'")
            if key_id not in group.members:
                conn.execute(
                    group_members.insert().values(
                        group_id=group_id, key_id=key_id, added_at=utc_now_or(now)
                    )
                )
        return self.group(group_id)

    def remove_member(self, group_id: int, key_id: str) -> Group:
        """Remove a key from a group: from then on it sees none of the group's shares."""
        group = self.group(group_id)
        if key_id not in group.members:
            raise GroupError(f"KEY_ID: key {key_id!r} is not a member of group {group_id}")
        with self.engine.begin() as conn:
            conn.execute(
                group_members.delete().where(
                    group_members.c.group_id == group_id, group_members.c.key_id == key_id
                )
            )
        return self.group(group_id)

    def share(
        self,
        group_id: int,
        member: str,
        kind: str,
        item_id: str,
        item: dict[str, Any],
        note: str,
        now: datetime | None = None,
    ) -> dict[str, Any]:
        """Share an item (as it is now) into a group the sharing key belongs to."""
        self.group(group_id, member)
        if kind not in SHARE_KINDS:
            raise GroupError(f"kind: expected one of {', '.join(SHARE_KINDS)}, got {kind!r}")
        values = {
            "group_id": group_id,
            "kind": kind,
            "item_id": item_id,
            "note": note,
            "shared_by": member,
            "shared_at": utc_now_or(now),
            "item": orjson.dumps(item, default=str).decode(),
        }
        with self.engine.begin() as conn:
            seq = _share_number(conn)
            conn.execute(group_shares.insert().values(seq=seq, **values))
        return _share({"seq": seq, **values})

    def items(
        self, group_id: int, member: str, limit: int, offset: int = 0
    ) -> tuple[list[dict[str, Any]], int]:
        """A member's page of a group's shares, newest first, and how many there are."""
        self.group(group_id, member)
        where = group_shares.c.group_id == group_id
        query = (
            sa.select(group_shares)
            .where(where)
            .order_by(group_shares.c.seq.desc())
            .limit(limit)
            .offset(offset)
        )
        with self.engine.connect() as conn:
            total = conn.execute(sa.select(sa.func.count()).where(where)).scalar_one()
            rows = conn.execute(query).mappings().all()
        return [_share(dict(row)) for row in rows], total

    def last_seq(self) -> int:
        """The latest share's number (0 when none)."""
        version = self._data_version()  # before reading: a commit meanwhile voids the memo
        with self.engine.connect() as conn:
            seq = conn.execute(sa.select(sa.func.max(group_shares.c.seq))).scalar() or 0
        if version is not None:
            self._last_seq_seen = (version, seq)
        return seq

    def known_last_seq(self) -> int | None:
        """`last_seq` without a query while nothing was committed since it was read, else None
        (call `last_seq`): a few microseconds, fit for the event loop."""
        seen, version = self._last_seq_seen, self._data_version()
        return seen[1] if seen is not None and version is not None and seen[0] == version else None

    def shares_since(self, seq: int, member: str, limit: int) -> list[dict[str, Any]]:
        """Shares after `seq` into the groups the key belongs to now, oldest first."""
        if seq >= MAX_INTEGER:  # no share has a larger number
            return []
        mine = sa.select(group_members.c.group_id).where(group_members.c.key_id == member)
        query = (
            sa.select(group_shares)
            .where(group_shares.c.seq > seq, group_shares.c.group_id.in_(mine))
            .order_by(group_shares.c.seq)
            .limit(limit)
        )
        with self.engine.connect() as conn:
            return [_share(dict(row)) for row in conn.execute(query).mappings()]


def _share_number(conn: sa.Connection) -> int:
    """The next share's number, in the order sharing transactions commit.

    An autoincrement key is drawn at insert: on PostgreSQL a share holding a lower number could
    commit after a higher one was streamed, and a member resuming "after S" would never see it.
    The counter's row stays locked until this transaction ends (as for alert changes).
    """
    start = sa.select(sa.func.coalesce(sa.func.max(group_shares.c.seq), 0) + 1)
    return reserve(conn, _SHARE_COUNTER, 1, start=lambda: conn.execute(start).scalar_one())


def _share(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "seq": row["seq"],
        "group_id": row["group_id"],
        "kind": row["kind"],
        "item_id": row["item_id"],
        "note": row["note"],
        "shared_by": row["shared_by"],
        "shared_at": as_utc(row["shared_at"]).isoformat(),
        "item": orjson.loads(row["item"]),
    }
