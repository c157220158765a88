"""De-duplication of pings against themselves and against the store.

A ping repeats another when it has the same vehicle and time (SPEC §4): the same place is a
``duplicate``, another place a ``conflicting_duplicate``. Checking against the store reads the
stored pings of the posted vehicles over the posted times. A live feed's posts are nearly all
newer than anything stored for their vehicle, so a process storing groups of posts keeps the
newest stored time of each vehicle (`NewestPings`) and reads the store only for the pings that
could repeat one: a sixth of a group's time under the mixed load before (docs/ingest.md).
"""

from __future__ import annotations

import polars as pl

from geoint.ingest.validate import duplicates_of_stored, duplicates_within
from geoint.schema import PING_SCHEMA
from geoint.store.workspace import PING_ID_COUNTER, Workspace

KEYS, SAME, RAW = ("vehicle_id", "ts"), ("lat", "lon"), ("vehicle_id", "ts", "lat", "lon")
_NEWEST_SCHEMA = {"vehicle_id": pl.String(), "newest": PING_SCHEMA["ts"]}


def deduplicate_pings(
    workspace: Workspace, pings: pl.DataFrame, newest: NewestPings | None = None
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The pings that repeat neither an earlier one of `pings` nor a stored one (sorted by
    vehicle and time), and the quarantine rows of those that do. With `newest` (held by the
    caller of every group it is given), only the pings it cannot clear are looked up."""
    unique, within = duplicates_within(pings, KEYS, SAME, RAW)
    if newest is not None:  # every group, even one with nothing left: it checks the counter
        stored = newest.stored_like(workspace, unique)
    elif unique.height:
        stored = stored_pings_like(workspace, unique, later_too=False)
    else:
        return unique, within
    unique, against_store = duplicates_of_stored(unique, stored, KEYS, SAME, RAW)
    return unique, pl.concat([within, against_store])


def stored_pings_like(workspace: Workspace, pings: pl.DataFrame, later_too: bool) -> pl.DataFrame:
    """The stored pings (vehicle, time, place) of the vehicles of `pings` from their first
    time to their last, or to the end with `later_too`."""
    if pings.height == 0:
        return pl.DataFrame(schema={k: PING_SCHEMA[k] for k in RAW})
    first, last = pings["ts"].min(), pings["ts"].max()
    times = pl.col("ts") >= first if later_too else pl.col("ts").is_between(first, last)
    # the vehicles' pings only: merged parts are sorted by vehicle, so row groups are skipped
    vehicles = pings["vehicle_id"].unique().implode()
    return workspace.read_pings(
        workspace.scan_pings(first.date(), None if later_too else last.date())
        .select(*RAW)
        .filter(times, pl.col("vehicle_id").is_in(vehicles))
    )


class NewestPings:
    """The newest stored ping time of the vehicles one process stores pings for.

    A ping newer than its vehicle's newest stored one repeats nothing stored. The times hold
    while no other writer has stored pings: every writer of pings reserves their ids from one
    counter while holding the workspace's writer lock, so the counter unchanged since this
    process's last commit means nobody else stored any (SQLite; on PostgreSQL, where the
    counter is not watched, every ping is looked up). Use it holding the writer lock: in every
    group, `stored_like` while de-duplicating (it checks the counter), then `stored` once the
    group is committed (a group that failed leaves the times to be dropped by the next).
    """

    MAX_VEHICLES = 100_000  # beyond this many, start again (memory stays bounded)

    def __init__(self) -> None:
        self._newest = pl.DataFrame(schema=_NEWEST_SCHEMA)
        self._counter: int | None = None  # the ping id counter when `_newest` held
        self._seen = pl.DataFrame(schema=_NEWEST_SCHEMA)  # read by the group under way

    def stored_like(self, workspace: Workspace, pings: pl.DataFrame) -> pl.DataFrame:
        """The stored pings that `pings` (unique, sorted by vehicle and time) may repeat."""
        counter = workspace.watched_counter(PING_ID_COUNTER)
        if counter is None or counter != self._counter:
            self._newest = self._newest.clear()  # another writer stored pings: start again
        self._counter = None  # until `stored` confirms this group's commit
        unknown = (
            pings.lazy()
            .join(self._newest.lazy(), on="vehicle_id", how="left")
            .filter(pl.col("newest").is_null() | (pl.col("ts") <= pl.col("newest")))
            .collect()
        )
        # up to the end: the newest of each vehicle looked up is then known
        stored = stored_pings_like(workspace, unknown, later_too=True)
        self._seen = _newest_of(stored.lazy()).collect() if stored.height else self._seen.clear()
        return stored

    def stored(self, workspace: Workspace, pings: pl.DataFrame) -> None:
        """Learn from the group just committed (its stored `pings`), still holding the lock."""
        known = pl.concat([self._newest.lazy(), self._seen.lazy(), _newest_of(pings.lazy())])
        newest = known.group_by("vehicle_id").agg(pl.col("newest").max()).collect()
        self._newest = newest if newest.height <= self.MAX_VEHICLES else newest.clear()
        self._seen = self._seen.clear()
        self._counter = workspace.watched_counter(PING_ID_COUNTER)


def _newest_of(pings: pl.LazyFrame) -> pl.LazyFrame:
    return pings.group_by("vehicle_id").agg(pl.col("ts").max().alias("newest"))
