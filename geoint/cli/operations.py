"""`geoint operations ...`: WCO-style enforcement operations and their briefings."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape
from rich.table import Table

from geoint.cli.common import (
    JsonOption,
    RegionOption,
    WorkspaceOption,
    emit,
    load_region,
    open_workspace,
    out,
)

if TYPE_CHECKING:
    from geoint.layers.region import Region
    from geoint.store.workspace import Workspace

app = typer.Typer()
operations_app = typer.Typer(
    help="Enforcement operations: a window and scope; what they tag; briefings (HTML, PDF).",
    no_args_is_help=True,
)
app.add_typer(operations_app, name="operations")

OperationIdArgument = Annotated[
    int, typer.Argument(min=1, max=2**62, help="operation id (see 'geoint operations list')")
]


def _region(store: Workspace, region: Path | None) -> Region | None:
    """The region given, else the workspace's own copy (``W/region``), else None."""
    if region is None and (store.root / "region" / "region.toml").is_file():
        region = store.root / "region"
    return load_region(region) if region is not None else None


@operations_app.command(
    "create",
    epilog="Example: geoint operations create -w ws --name Thunder --start 2026-03-01 "
    "--end 2026-03-07 --commodity fuel --commodity drugs --json",
)
def operations_create(
    name: Annotated[str, typer.Option("--name", help="the operation's name")],
    start: Annotated[str, typer.Option("--start", help="first day (ISO) or date-time, UTC")],
    end: Annotated[str, typer.Option("--end", help="last day (included) or date-time, UTC")],
    commodity: Annotated[
        list[str] | None, typer.Option("--commodity", help="in scope (repeat; none: all)")
    ] = None,
    sector: Annotated[
        list[str] | None, typer.Option("--sector", help="sector id in scope (repeat; none: all)")
    ] = None,
    region: RegionOption = None,
    workspace: WorkspaceOption = None,
    as_json: JsonOption = False,
) -> None:
    """Create an operation: {"id": ...} with --json."""
    from geoint.intel.operations import create_operation
    from geoint.intel.query import parse_day

    _, store = open_workspace(workspace)
    known = None
    if sector:
        ground = _region(store, region)
        if ground is not None:
            known = tuple(ground.read("sectors")["sector_id"].astype(str))
    operation_id = create_operation(
        store,
        name,
        parse_day("--start", start),
        parse_day("--end", end, end=True),
        tuple(commodity or ()),
        tuple(sector or ()),
        known,
    )
    emit(as_json, {"id": operation_id}, lambda: out.print(f"operation {operation_id} created"))


@operations_app.command("list", epilog="Example: geoint operations list -w ws --json")
def operations_list(workspace: WorkspaceOption = None, as_json: JsonOption = False) -> None:
    """List the operations, latest start first: {"operations": [...]} with --json."""
    from geoint.intel.operations import list_operations

    found = [op.as_dict() for op in list_operations(open_workspace(workspace)[1])]
    table = Table("id", "name", "start", "end", "commodities", "sectors")
    for op in found:
        shown = (op["id"], op["name"], op["start"], op["end"], ", ".join(op["commodities"]),
                 ", ".join(op["sectors"]))  # fmt: skip
        table.add_row(*(escape(str(v)) for v in shown))
    emit(as_json, {"operations": found}, lambda: out.print(table))


@operations_app.command("show", epilog="Example: geoint operations show 1 -w ws --json")
def operations_show(
    operation_id: OperationIdArgument,
    region: RegionOption = None,
    workspace: WorkspaceOption = None,
    as_json: JsonOption = False,
) -> None:
    """An operation and what it tags: counts and the ids of its seizures, events and alerts."""
    from geoint.intel.operations import get_operation, operation_items, operation_json
    from geoint.layers.queries import RegionIndex

    _, store = open_workspace(workspace)
    operation = get_operation(store, operation_id)
    ground = _region(store, region)
    items = operation_items(store, operation, RegionIndex(ground) if ground else None)
    payload = operation_json(operation, items)
    table = Table(show_header=False, title=f"operation {operation_id}")
    for key in ("name", "start", "end", "commodities", "sectors", "tagged"):
        table.add_row(key, escape(str(payload[key])))
    emit(as_json, payload, lambda: out.print(table))


@operations_app.command(
    "report",
    epilog="Example: geoint operations report 1 -w ws --out thunder.pdf",
)
def operations_report(
    operation_id: OperationIdArgument,
    out_file: Annotated[Path, typer.Option("--out", help="FILE.html or FILE.pdf")],
    region: RegionOption = None,
    workspace: WorkspaceOption = None,
    as_json: JsonOption = False,
) -> None:
    """Write the operation's briefing: headline figures, trend charts, breakdowns by transport
    and concealment, top routes, a map, notable alerts, with the time of extraction."""
    from geoint.errors import GeointError
    from geoint.intel.operations import get_operation, operation_items
    from geoint.intel.report import REPORT_FORMATS, gather, write_report
    from geoint.layers.queries import RegionIndex

    if out_file.suffix.lower() not in REPORT_FORMATS:
        raise GeointError(f"--out: expected a .html or .pdf file, got {str(out_file)!r}")
    settings, store = open_workspace(workspace)
    operation = get_operation(store, operation_id)
    ground = _region(store, region)
    items = operation_items(store, operation, RegionIndex(ground) if ground else None)
    briefing = gather(operation, items, settings.intel.top_routes, settings.intel.report_alerts)
    written = write_report(briefing, ground, out_file)
    payload = {**written, "operation": operation_id, "tagged": items.counts()}
    emit(as_json, payload, lambda: out.print(f"briefing written to {out_file}"))
