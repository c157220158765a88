"""`geoint groups ...`: closed user groups of API keys, across sectors and agencies (CENcomm)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from geoint.cli.common import JsonOption, WorkspaceOption, emit, open_workspace, out

app = typer.Typer()
groups_app = typer.Typer(
    help="Closed user groups: create, list, add-member, remove-member.", no_args_is_help=True
)
app.add_typer(groups_app, name="groups")
GroupId = Annotated[int, typer.Argument(help="the group's id (geoint groups list)", min=1)]
KeyId = Annotated[str, typer.Argument(help="an API key's id (geoint keys list)")]


def _store(workspace):
    from geoint.store.groups import GroupStore

    return GroupStore(open_workspace(workspace)[1])


def _print(group: dict) -> None:
    members = ", ".join(group["members"]) or "no members"
    out.print(f"group {group['id']} {group['name']!r}: {members}")


@groups_app.command(
    "create",
    epilog='Example: geoint groups create "Operation Harmattan" --description "BJ-NG" --json',
)
def groups_create(
    name: Annotated[str, typer.Argument(help="a unique name")],
    description: Annotated[str, typer.Option(help="what the group is for")] = "",
    workspace: WorkspaceOption = None,
    as_json: JsonOption = False,
) -> None:
    """Create a closed user group (add its members with add-member)."""
    group = _store(workspace).create(name, description).to_dict()
    emit(as_json, group, lambda: _print(group))


@groups_app.command("list", epilog="Example: geoint groups list --workspace ws --json")
def groups_list(workspace: WorkspaceOption = None, as_json: JsonOption = False) -> None:
    """List the groups and their members' key ids."""
    groups = [g.to_dict() for g in _store(workspace).all_groups()]
    table = Table("id", "name", "members", "description", "created_at")
    for g in groups:
        table.add_row(
            str(g["id"]), g["name"], ", ".join(g["members"]), g["description"], g["created_at"]
        )
    emit(as_json, {"groups": groups}, lambda: out.print(table))


@groups_app.command(
    "add-member", epilog="Example: geoint groups add-member 1 4357bcfb5e19 --workspace ws"
)
def groups_add_member(
    group_id: GroupId, key_id: KeyId, workspace: WorkspaceOption = None, as_json: JsonOption = False
) -> None:
    """Add an API key (any role, any sectors) to a group."""
    group = _store(workspace).add_member(group_id, key_id).to_dict()
    emit(as_json, group, lambda: _print(group))


@groups_app.command(
    "remove-member", epilog="Example: geoint groups remove-member 1 4357bcfb5e19 --workspace ws"
)
def groups_remove_member(
    group_id: GroupId, key_id: KeyId, workspace: WorkspaceOption = None, as_json: JsonOption = False
) -> None:
    """Remove an API key from a group: it no longer sees the group's shares."""
    group = _store(workspace).remove_member(group_id, key_id).to_dict()
    emit(as_json, group, lambda: _print(group))
