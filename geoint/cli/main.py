"""The ``geoint`` command: the composition root that builds settings and wires the stages."""

from __future__ import annotations

import sys

import typer

from geoint.cli import alerts, analyze, bench, ingest, keys, patrol, region, serve, simulate
from geoint.cli.common import err
from geoint.errors import GeointError

app = typer.Typer(
    help="Border GEOINT platform.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
for module in (region, ingest, simulate, analyze, alerts, patrol, serve, keys, bench):
    app.add_typer(module.app)


def main() -> None:
    """Run the CLI; domain errors end with one line on stderr and exit code 2."""
    try:
        app(standalone_mode=False)
    except GeointError as exc:
        sys.stderr.write(f"error: {' '.join(str(exc).split())}\n")
        sys.exit(2)
    except (typer.Abort, KeyboardInterrupt):
        err.print("aborted")
        sys.exit(130)
    except Exception as exc:  # click usage errors carry their own exit code
        import click

        if isinstance(exc, click.ClickException):
            exc.show()
            sys.exit(exc.exit_code)
        raise
