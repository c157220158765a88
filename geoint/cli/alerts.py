"""`geoint alerts ...`: list, show, acknowledge, resolve, dismiss and label alerts."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from geoint.cli.common import JsonOption, WorkspaceOption, _, emit, open_workspace, out
from geoint.web.i18n import N_

if TYPE_CHECKING:
    from geoint.alerts.store import AlertStore

app = typer.Typer()
alerts_app = typer.Typer(
    help="Alerts raised by 'geoint analyze': list, show, ack, resolve, dismiss, label.",
    no_args_is_help=True,
)
app.add_typer(alerts_app, name="alerts")

AlertIdArgument = Annotated[
    int, typer.Argument(min=1, max=2**62, help="alert id (see 'geoint alerts list')")
]
NoteOption = Annotated[str, typer.Option("--note", help="why (kept in the alert's history)")]
ActorOption = Annotated[
    str | None, typer.Option("--actor", help="who acts; default cli:<login name>")
]


def _alert_store(workspace: Path | None) -> AlertStore:
    from geoint.alerts.store import AlertStore

    return AlertStore(open_workspace(workspace)[1])


def _actor(actor: str | None) -> str:
    import getpass

    return actor or f"cli:{getpass.getuser()}"


@alerts_app.command(
    "list",
    epilog="Example: geoint alerts list -w ws --status new --severity Extreme --limit 20 --json",
)
def alerts_list(
    workspace: WorkspaceOption = None,
    status: Annotated[list[str] | None, typer.Option(help="new, acknowledged, ...")] = None,
    severity: Annotated[list[str] | None, typer.Option(help="Extreme, Severe, ...")] = None,
    alert_type: Annotated[list[str] | None, typer.Option("--type", help="event type")] = None,
    sector: Annotated[list[str] | None, typer.Option(help="sector id")] = None,
    limit: Annotated[int, typer.Option(min=1, max=10_000, help="alerts shown")] = 100,
    cursor: Annotated[
        int | None, typer.Option(min=1, max=2**62, help="next_cursor of the previous page")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """List alerts, newest first: {"alerts": [...], "next_cursor"} with --json."""
    from rich.markup import escape

    from geoint.alerts.store import AlertQuery

    query = AlertQuery(
        limit=limit,
        cursor=cursor,
        status=status or (),
        severity=severity or (),
        alert_type=alert_type or (),
        sector=sector or (),
    )
    found, following = _alert_store(workspace).list(query)
    headers = (N_("id"), N_("status"), N_("severity"), N_("rule"), N_("vehicles / cell"),
               N_("sector"), N_("count"), N_("last"))  # fmt: skip
    table = Table(*(_(h) for h in headers))
    for a in found:
        subject = ", ".join(a["vehicles"]) or a["cell"]
        rule = _(a["rule"].replace("_", " "))  # the map's words for event types
        row = (a["id"], _(a["status"]), _(a["severity"]), rule, subject, a["sector"], a["count"])
        table.add_row(*(escape(str(v)) for v in (*row, a["last_seen"])))  # ids are untrusted
    payload = {"alerts": found, "next_cursor": following}
    emit(as_json, payload, lambda: out.print(table))


@alerts_app.command(
    "show",
    epilog="Example: geoint alerts show 1 --workspace ws --json",
)
def alerts_show(
    alert_id: AlertIdArgument, workspace: WorkspaceOption = None, as_json: JsonOption = False
) -> None:
    """Show an alert, its explanation and its history."""
    store = _alert_store(workspace)
    payload = {"alert": store.get(alert_id), "history": store.history(alert_id)}
    emit(as_json, payload, lambda: _print_alert(payload))


def _print_alert(payload: dict[str, Any]) -> None:
    alert = payload["alert"]
    heading = _("alert {id} [{status}] {severity}").format(
        id=alert["id"], status=_(alert["status"]), severity=_(alert["severity"])
    )
    out.print(f"{heading} {alert['title']}", markup=False)
    out.print(alert["explanation"], markup=False)
    for change in payload["history"]:
        note = f": {change['note']}" if change["note"] else ""
        done = _("{at} {action} by {actor}").format(
            at=change["at"], action=change["action"], actor=change["actor"]
        )
        out.print(f"  {done}{note}", markup=False)


def _transition(
    verb: str, alert_id: int, workspace: Path | None, note: str, actor: str | None, as_json: bool
) -> None:
    alert = _alert_store(workspace).transition(alert_id, verb, _actor(actor), note)
    said = _("alert {id} is {status}").format(id=alert_id, status=_(alert["status"]))
    emit(as_json, alert, lambda: out.print(said))


@alerts_app.command(
    "ack",
    epilog="Example: geoint alerts ack 1 --workspace ws --note 'patrol sent'",
)
def alerts_ack(
    alert_id: AlertIdArgument,
    workspace: WorkspaceOption = None,
    note: NoteOption = "",
    actor: ActorOption = None,
    as_json: JsonOption = False,
) -> None:
    """Acknowledge a new alert."""
    _transition("ack", alert_id, workspace, note, actor, as_json)


@alerts_app.command(
    "resolve",
    epilog="Example: geoint alerts resolve 1 --workspace ws --note 'vehicle stopped'",
)
def alerts_resolve(
    alert_id: AlertIdArgument,
    workspace: WorkspaceOption = None,
    note: NoteOption = "",
    actor: ActorOption = None,
    as_json: JsonOption = False,
) -> None:
    """Resolve an acknowledged alert."""
    _transition("resolve", alert_id, workspace, note, actor, as_json)


@alerts_app.command(
    "dismiss",
    epilog="Example: geoint alerts dismiss 2 --workspace ws --note 'known herder'",
)
def alerts_dismiss(
    alert_id: AlertIdArgument,
    workspace: WorkspaceOption = None,
    note: NoteOption = "",
    actor: ActorOption = None,
    as_json: JsonOption = False,
) -> None:
    """Dismiss an acknowledged alert (a false alarm)."""
    _transition("dismiss", alert_id, workspace, note, actor, as_json)


@alerts_app.command(
    "label",
    epilog="Example: geoint alerts label 1 true_positive --workspace ws",
)
def alerts_label(
    alert_id: AlertIdArgument,
    label: Annotated[str, typer.Argument(help="true_positive or false_positive")],
    workspace: WorkspaceOption = None,
    note: NoteOption = "",
    actor: ActorOption = None,
    as_json: JsonOption = False,
) -> None:
    """Label an alert a true or false positive (per-rule precision in 'geoint evaluate')."""
    alert = _alert_store(workspace).label(alert_id, label, _actor(actor), note)
    emit(as_json, alert, lambda: out.print(f"alert {alert_id} labelled {alert['label']}"))


@alerts_app.command(
    "export",
    epilog="Example: geoint alerts export --out alerts.kml --format kml -w ws",
)
def alerts_export(
    out_file: Annotated[Path, typer.Option("--out", help="file to write")],
    fmt: Annotated[str, typer.Option("--format", help="csv, geojson or kml")] = "csv",
    workspace: WorkspaceOption = None,
    as_json: JsonOption = False,
) -> None:
    """Write every alert as CSV, GeoJSON or KML (styled by CAP severity), by event time."""
    from geoint.errors import GeointError
    from geoint.serve.export import EXPORT_FORMATS, export_records

    if fmt not in EXPORT_FORMATS:
        raise GeointError(f"--format: expected one of {', '.join(EXPORT_FORMATS)}, got {fmt!r}")
    frame = _alert_store(workspace).frame_page()[0]
    rows = export_records(frame, out_file, fmt, "alerts")
    payload = {"file": str(out_file), "format": fmt, "alerts": rows}
    emit(as_json, payload, lambda: out.print(f"{rows:,} alerts written to {out_file}"))
