"""`geoint check`: verify a workspace's files and database, and repair what can be."""

from __future__ import annotations

from typing import Annotated

import typer

from geoint.cli.common import JsonOption, WorkspaceOption, emit, open_workspace, out

app = typer.Typer()


@app.command(
    "check",
    epilog="Example: geoint check --workspace ws --repair --json",
)
def check_command(
    workspace: WorkspaceOption = None,
    repair: Annotated[
        bool, typer.Option("--repair", help="set unreadable files aside (see the report)")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Verify every ping part, the events file, the cell tables and the database.

    Exits 1 while problems remain; each names the file, what is wrong and how to repair it.
    """
    from geoint.store.check import check_workspace

    report = check_workspace(open_workspace(workspace)[1], repair)

    def render() -> None:
        out.print(f"{report['parts']} ping parts checked in {report['workspace']}")
        for problem in report["problems"]:
            out.print(f"{problem['file']}: {problem['problem']}\n  repair: {problem['repair']}")
        for moved in report["repaired"]:
            out.print(f"set aside: {moved}")
        out.print("ok" if report["ok"] else "problems found: run with --repair")

    emit(as_json, report, render)
    if not report["ok"]:
        raise typer.Exit(1)
