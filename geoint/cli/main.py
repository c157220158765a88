"""The ``geoint`` command: the composition root that builds settings and wires the stages."""

from __future__ import annotations

import sys
from typing import Annotated, NoReturn

import typer

# typer vendors click as typer._click: its usage errors are not the click package's
from typer._click.exceptions import ClickException, NoArgsIsHelpError, UsageError

from geoint import __version__
from geoint.cli import (
    alerts,
    analyze,
    bench,
    check,
    declarations,
    exchange,
    groups,
    ingest,
    keys,
    operations,
    patrol,
    region,
    seizures,
    serve,
    simulate,
)
from geoint.cli.common import err
from geoint.errors import GeointError, StorageFullError, is_storage_full

app = typer.Typer(
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
for module in (
    region,
    ingest,
    simulate,
    analyze,
    alerts,
    seizures,
    declarations,
    operations,
    patrol,
    serve,
    keys,
    check,
    groups,
    exchange,
    bench,
):
    app.add_typer(module.app)


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"geoint {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_print_version, is_eager=True, help="print the version and exit"
        ),
    ] = False,
) -> None:
    """Border GEOINT platform."""


def main() -> None:
    """Run the CLI; usage and domain errors end with one line on stderr and exit code 2."""
    try:
        status = app(prog_name="geoint", standalone_mode=False)
    except StorageFullError as exc:
        _fail(str(exc), 1)
    except GeointError as exc:
        _fail(str(exc), 2)
    except NoArgsIsHelpError as exc:  # a group without its command: typer printed its help
        sys.exit(exc.exit_code)
    except UsageError as exc:
        hint = f" (try '{exc.ctx.command_path} --help')" if exc.ctx is not None else ""
        _fail(exc.format_message() + hint, exc.exit_code)
    except ClickException as exc:
        _fail(exc.format_message(), exc.exit_code)
    except (typer.Abort, KeyboardInterrupt):
        err.print("aborted")
        sys.exit(130)
    except Exception as exc:  # a write on a full disk anywhere (keys, alerts): one line
        if not is_storage_full(exc):
            raise
        _fail("no space left on the device holding the workspace; nothing was changed", 1)
    sys.exit(status)


def _fail(message: str, code: int) -> NoReturn:
    sys.stderr.write(f"error: {' '.join(message.split())}\n")
    sys.exit(code)
