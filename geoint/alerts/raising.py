"""Raising alerts: the rules applied to a workspace's events and cell tables, merged into the
alert store (the alert stage of the full and incremental analyses)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import polars as pl
import sqlalchemy as sa

from geoint.alerts.rules import assign_sectors, cell_candidates, event_candidates, load_rules
from geoint.alerts.store import OPEN_STATUSES, SYSTEM_ACTOR, AlertStore
from geoint.ground import Ground
from geoint.settings import AlertSettings, GeointSettings
from geoint.store.cell_tables import EMERGING, RISK, read_optional_table
from geoint.store.tables import alerts
from geoint.store.workspace import Workspace


def raise_alerts(
    workspace: Workspace,
    ground: Ground,
    settings: GeointSettings,
    events: pl.DataFrame | None = None,
    now: datetime | None = None,
    cell_rules: bool = True,
    actor: str = SYSTEM_ACTOR,
    late: Mapping[str, float] | None = None,
) -> dict[str, Any]:
    """Apply the alert rules to the workspace's events and cell tables; return the counts.

    `events` defaults to the stored ones; the cell conditions (unless `cell_rules` is false)
    read ``cells/emerging.parquet`` and ``cells/risk.parquet`` when present; `late` marks the
    events whose pings arrived late (seconds, by event id). The report adds ``open`` (alerts
    new or acknowledged) and ``by_rule`` (candidates per rule).
    """
    config: AlertSettings = settings.alerts
    rules = load_rules(config.rules_file)
    events = workspace.read_events() if events is None else events
    candidates = event_candidates(events, rules, late)
    if cell_rules:
        candidates += cell_candidates(
            read_optional_table(workspace.root, EMERGING),
            read_optional_table(workspace.root, RISK),
            rules,
            config.cell_lookback_days,
        )
    assign_sectors(candidates, ground)
    store = AlertStore(workspace)
    report: dict[str, Any] = store.apply(candidates, config.dedup_window_s, now, actor)
    by_rule: dict[str, int] = {}
    for candidate in candidates:
        by_rule[candidate.rule.id] = by_rule.get(candidate.rule.id, 0) + 1
    report["by_rule"] = dict(sorted(by_rule.items()))
    with store.engine.connect() as conn:
        report["open"] = conn.execute(
            sa.select(sa.func.count()).where(alerts.c.status.in_(OPEN_STATUSES))
        ).scalar_one()
    return report
