"""`geoint keys ...`: create, list and revoke the service's API keys."""

from __future__ import annotations

from typing import Annotated

import typer
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
from geoint.errors import GeointError

app = typer.Typer()
keys_app = typer.Typer(help="API keys for the service: create, list, revoke.", no_args_is_help=True)
app.add_typer(keys_app, name="keys")


@keys_app.command(
    "create",
    epilog="Example: geoint keys create --role unit --sector BEN-01 --region region "
    "--workspace ws --json",
)
def keys_create(
    role: Annotated[str, typer.Option(help="admin, analyst, unit or feeder")],
    sector: Annotated[
        list[str] | None,
        typer.Option("--sector", help="sector id a unit key may see (repeatable; units only)"),
    ] = None,
    workspace: WorkspaceOption = None,
    region: RegionOption = None,
    as_json: JsonOption = False,
) -> None:
    """Create an API key; its text is printed once and only its hash is stored.

    A unit key's sectors must be sectors of the region (``--region``, or the workspace's own
    ``region/`` folder as `geoint demo` makes it).
    """
    from geoint.store.keys import KeyStore

    store = open_workspace(workspace)[1]
    known = None
    if role == "unit":
        folder = region if region is not None else store.root / "region"
        if region is None and not (folder / "region.toml").is_file():
            raise GeointError(
                "--region: a unit key's sectors are checked against the region; pass --region DIR"
            )
        loaded = load_region(folder)
        known = (
            loaded.read("sectors")["sector_id"].astype(str).tolist()
            if loaded.files("sectors")
            else []
        )
    key, text = KeyStore(store).create(role, sector or [], known_sectors=known)
    payload = {"id": key.id, "key": text, "role": key.role, "sectors": list(key.sectors)}
    emit(
        as_json,
        payload,
        lambda: out.print(f"key {key.id} ({key.role}): {text}\nit is shown only this once"),
    )


@keys_app.command(
    "list",
    epilog="Example: geoint keys list --workspace ws --json",
)
def keys_list(workspace: WorkspaceOption = None, as_json: JsonOption = False) -> None:
    """List API keys (never their text), revoked ones included."""
    from geoint.store.keys import KeyStore

    keys = [k.to_dict() for k in KeyStore(open_workspace(workspace)[1]).all_keys()]
    table = Table("id", "role", "sectors", "created_at", "revoked_at")
    for key in keys:
        table.add_row(*(", ".join(v) if isinstance(v, list) else str(v) for v in key.values()))
    emit(as_json, {"keys": keys}, lambda: out.print(table))


@keys_app.command(
    "revoke",
    epilog="Example: geoint keys revoke 4357bcfb5e19 --workspace ws",
)
def keys_revoke(
    key_id: Annotated[str, typer.Argument(help="the key's id")],
    workspace: WorkspaceOption = None,
    as_json: JsonOption = False,
) -> None:
    """Revoke an API key; its browser sessions end with it."""
    from geoint.store.keys import KeyStore

    key = KeyStore(open_workspace(workspace)[1]).revoke(key_id)
    emit(as_json, key.to_dict(), lambda: out.print(f"key {key.id} revoked at {key.revoked_at}"))
