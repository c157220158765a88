"""`geoint check`: verify every stored file and table of a workspace, and repair what it can.

Checked: every catalogued ping part (read in full, its rows against the catalogue), the events
file, every cell table, the SQLite database (``PRAGMA integrity_check``), and batches left
``started`` by a killed ingest. Repair sets unreadable files aside under ``corrupt/`` (ping
parts also leave the catalogue, and their batch becomes ``corrupt`` so that ingesting its source
file again restores its pings), removes what killed ingests left, and says what to rerun.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import sqlalchemy as sa

from geoint.store.cell_tables import cells_folder
from geoint.store.workspace import CORRUPT_DIR, EVENTS_FILE, Workspace

ANALYZE_AGAIN = "run 'geoint analyze' to rebuild it"


def check_workspace(workspace: Workspace, repair: bool = False) -> dict[str, Any]:
    """Report ``parts`` checked, ``problems`` (file, problem, repair), ``repaired`` and ``ok``."""
    problems: list[dict[str, str]] = []
    repaired: list[str] = []
    root = workspace.root
    # the writer lock: no ingest or merge changes the parts meanwhile; taking it removes
    # what killed ingests left (`Workspace.recover`)
    with workspace.writer():
        checked = len(workspace.ping_files())
        bad_parts = workspace.unreadable_parts(full=True)
        for path, problem in bad_parts:
            fix = "set aside; ingest the source file of its batch again"
            problems.append(_problem(root, path, problem, fix))
            if repair:
                repaired.append(str(workspace.set_aside(path).relative_to(root)))
        derived = [root / EVENTS_FILE, *sorted(cells_folder(root).glob("*.parquet"))]
        for path in derived:
            problem = _unreadable(path) if path.is_file() else None
            if problem is not None:
                problems.append(_problem(root, path, problem, f"set aside; {ANALYZE_AGAIN}"))
                if repair:
                    repaired.append(_move_aside(root, path))
    database = _database_problem(workspace)
    if database is not None:
        fix = "restore the database from a backup (sqlite3 .recover can save what is left)"
        problems.append({"file": "geoint.sqlite", "problem": database, "repair": fix})
    return {
        "workspace": str(root),
        "parts": checked,
        "problems": problems,
        "repaired": repaired,
        "ok": not problems or (repair and database is None),
    }


def _problem(root: Path, path: Path, problem: str, repair: str) -> dict[str, str]:
    return {"file": str(path.relative_to(root)), "problem": problem, "repair": repair}


def _unreadable(path: Path) -> str | None:
    try:
        pq.read_table(path)
    except (OSError, pa.ArrowException) as exc:
        return " ".join(str(exc).split())[:200]
    return None


def _move_aside(root: Path, path: Path) -> str:
    target = root / CORRUPT_DIR / path.relative_to(root)
    target.parent.mkdir(parents=True, exist_ok=True)
    path.replace(target)
    return str(target.relative_to(root))


def _database_problem(workspace: Workspace) -> str | None:
    if workspace.engine.dialect.name != "sqlite":
        return None
    with workspace.engine.connect() as conn:
        rows = [row[0] for row in conn.execute(sa.text("PRAGMA integrity_check"))]
    return None if rows == ["ok"] else "; ".join(rows[:5])
