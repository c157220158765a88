"""`geoint exchange ...`: key pairs, signed and redacted exports, verified imports (nCEN)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer

from geoint.cli.common import JsonOption, WorkspaceOption, emit, open_workspace, out

app = typer.Typer()
exchange_app = typer.Typer(
    help="Exchange records with partner administrations: keygen, export, import.",
    no_args_is_help=True,
)
app.add_typer(exchange_app, name="exchange")
KINDS = ("seizures", "alerts", "events")
DAY = ["%Y-%m-%d"]


@exchange_app.command(
    "keygen",
    epilog="Example: geoint exchange keygen --out keys/benin --json",
)
def exchange_keygen(
    out_dir: Annotated[Path, typer.Option("--out", help="folder for the key pair")],
    as_json: JsonOption = False,
) -> None:
    """Make an Ed25519 key pair: keep the private file, give the public one to partners."""
    from geoint.exchange.package import fingerprint, generate_keys, load_public_key

    private, public = generate_keys(out_dir)
    payload = {
        "private_key": str(private),
        "public_key": str(public),
        "fingerprint": fingerprint(load_public_key(public)),
    }
    emit(
        as_json,
        payload,
        lambda: out.print(
            f"private key {private} (keep it secret)\npublic key {public} "
            f"(give it to partners; fingerprint {payload['fingerprint']})"
        ),
    )


@exchange_app.command(
    "export",
    epilog="Example: geoint exchange export --workspace ws --partner Nigeria --policy policy.toml"
    " --key keys/benin/exchange_ed25519.pem --out to-nigeria.zip --from 2026-01-01 --json",
)
def exchange_export(
    partner: Annotated[str, typer.Option(help="the administration the package is for")],
    policy: Annotated[Path, typer.Option(help="redaction policy (TOML [fields] table)")],
    key: Annotated[Path, typer.Option(help="your private key (geoint exchange keygen)")],
    out_file: Annotated[Path, typer.Option("--out", help="the package to write (.zip)")],
    workspace: WorkspaceOption = None,
    start: Annotated[
        datetime | None, typer.Option("--from", formats=DAY, help="first UTC day (YYYY-MM-DD)")
    ] = None,
    end: Annotated[
        datetime | None, typer.Option("--to", formats=DAY, help="last UTC day (YYYY-MM-DD)")
    ] = None,
    kind: Annotated[str, typer.Option(help="seizures, alerts or events")] = "seizures",
    sender: Annotated[
        str | None,
        typer.Option(help="your administration's name (default GEOINT_EXCHANGE__ADMINISTRATION)"),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Export your own records, redacted by the policy and signed, as one package."""
    from geoint.exchange.export import export_package
    from geoint.exchange.package import ExchangeError, load_private_key
    from geoint.exchange.policy import load_policy

    if kind not in KINDS:
        raise typer.BadParameter(
            f"expected one of {', '.join(KINDS)}, got {kind!r}", param_hint="--kind"
        )
    settings, store = open_workspace(workspace)
    name = sender if sender is not None else settings.exchange.administration
    if not name:
        raise ExchangeError(
            "--sender: name your administration (or set GEOINT_EXCHANGE__ADMINISTRATION)"
        )
    report = export_package(
        store,
        load_policy(policy, kind),
        name,
        partner,
        load_private_key(key),
        out_file,
        start.date() if start else None,
        end.date() if end else None,
    )
    emit(
        as_json,
        report.to_dict(),
        lambda: out.print(
            f"{report.records:,} {kind} from {report.sender} for {report.partner} → "
            f"{report.file} (package {report.package_id}, {report.seconds:.2f} s)"
        ),
    )


@exchange_app.command(
    "import",
    epilog="Example: geoint exchange import from-benin.zip --workspace ws"
    " --trust keys/benin.pub.pem --json",
)
def exchange_import(
    package: Annotated[Path, typer.Argument(help="a package from a partner (.zip)")],
    trust: Annotated[Path, typer.Option(help="the partner's public key")],
    workspace: WorkspaceOption = None,
    as_json: JsonOption = False,
) -> None:
    """Verify a partner's package whole, then store its new records with their origin."""
    from geoint.exchange.importer import import_package
    from geoint.exchange.package import load_public_key

    trusted = load_public_key(trust)
    settings, store = open_workspace(workspace)
    report = import_package(store, package, trusted, settings.h3_resolution)
    emit(
        as_json,
        report.to_dict(),
        lambda: out.print(
            f"{report.kind} from {report.origin} (package {report.package_id}): "
            f"{report.stored:,} stored, {report.duplicates:,} duplicates, "
            f"{report.conflicts:,} conflicts"
            + (f" ({', '.join(report.conflict_ids)})" if report.conflict_ids else "")
        ),
    )
