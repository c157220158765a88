"""The ``geoint`` command: the composition root that builds settings and wires the stages."""

from __future__ import annotations

import os
import re
import sys
from typing import Annotated, Literal, NoReturn

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
from geoint.cli.common import LANG_VARIABLE, _, choose_language, err, set_language
from geoint.errors import GeointError, StorageFullError, is_storage_full
from geoint.web.i18n import N_

# Click's usage messages (typer vendors click without its gettext), as its English and ours.
USAGE_MESSAGES = (
    (re.compile(r"No such command '(?P<name>.*)'\.$"), N_("No such command '{name}'.")),
    (re.compile(r"No such option: (?P<name>\S+)$"), N_("No such option: {name}")),
    (re.compile(r"Missing argument '(?P<name>.*)'\.$"), N_("Missing argument '{name}'.")),
    (re.compile(r"Missing option '(?P<name>.*)'\.$"), N_("Missing option '{name}'.")),
    (
        re.compile(r"Option '(?P<name>.*)' requires an argument\.$"),
        N_("Option '{name}' requires an argument."),
    ),
    (
        re.compile(r"Invalid value for '(?P<name>[^']*)': (?P<detail>.*)$", re.S),
        N_("Invalid value for '{name}': {detail}"),
    ),
    (
        re.compile(r"Got unexpected extra arguments? \((?P<extra>.*)\)$"),
        N_("Got unexpected extra argument ({extra})"),
    ),
)

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
    lang: Annotated[
        Literal["en", "fr"] | None,
        typer.Option(
            "--lang",
            envvar=LANG_VARIABLE,
            help="language of the messages (default: GEOINT_LANG, else the locale: LANG=fr_FR."
            "UTF-8 gives French); JSON output is the same in every language",
        ),
    ] = None,
) -> None:
    """Border GEOINT platform."""
    set_language(lang or choose_language((), os.environ))  # every run, in-process ones too


def main() -> None:
    """Run the CLI; usage and domain errors end with one line on stderr and exit code 2."""
    # chosen before parsing, so that a usage error is in the user's language too
    set_language(choose_language(sys.argv[1:], os.environ))
    try:
        status = app(prog_name="geoint", standalone_mode=False)
    except StorageFullError as exc:
        _fail(str(exc), 1)
    except GeointError as exc:
        _fail(str(exc), 2)
    except NoArgsIsHelpError as exc:  # a group without its command: typer printed its help
        sys.exit(exc.exit_code)
    except UsageError as exc:
        hint = ""
        if exc.ctx is not None:
            hint = " " + _("(try '{command} --help')").format(command=exc.ctx.command_path)
        _fail(usage_message(exc.format_message()) + hint, exc.exit_code)
    except ClickException as exc:
        _fail(exc.format_message(), exc.exit_code)
    except (typer.Abort, KeyboardInterrupt):
        err.print(_("aborted"))
        sys.exit(130)
    except Exception as exc:  # a write on a full disk anywhere (keys, alerts): one line
        if not is_storage_full(exc):
            raise
        _fail(_("no space left on the device holding the workspace; nothing was changed"), 1)
    sys.exit(status)


def usage_message(message: str) -> str:
    """Click's usage message in the language of the messages (as it is when not known)."""
    for pattern, template in USAGE_MESSAGES:
        found = pattern.match(message.strip())
        if found:
            return _(template).format(**found.groupdict())
    return message


def _fail(message: str, code: int) -> NoReturn:
    sys.stderr.write(_("error: {message}").format(message=" ".join(message.split())) + "\n")
    sys.exit(code)
