"""Every command's help: it opens, and it shows an example that its command accepts."""

import shlex

import pytest
import typer
from typer.testing import CliRunner

from geoint.cli.main import app


def _leaves(command, path: tuple[str, ...] = ()):
    """Yield (path, command) for every command under `command`, groups walked recursively."""
    subcommands = getattr(command, "commands", None)
    if subcommands is None:
        yield path, command
        return
    for name, subcommand in subcommands.items():
        yield from _leaves(subcommand, (*path, name))


COMMANDS = dict(_leaves(typer.main.get_command(app)))


def test_the_walk_reaches_commands_and_subcommands():
    assert {("layers",), ("ingest", "pings"), ("bench", "patrol"), ("demo",)} <= set(COMMANDS)


@pytest.mark.parametrize("path", COMMANDS, ids=" ".join)
def test_every_command_help_shows_an_example(path):
    result = CliRunner().invoke(app, [*path, "--help"])
    assert result.exit_code == 0, result.output
    assert f"Example: geoint {' '.join(path)} " in result.output


@pytest.mark.parametrize("path", COMMANDS, ids=" ".join)
def test_every_example_is_accepted_by_its_command(path):
    command = COMMANDS[path]
    words = shlex.split(command.epilog.removeprefix("Example: "))
    name = len(path) + 1
    assert words[:name] == ["geoint", *path]
    command.make_context(" ".join(words[:name]), words[name:])  # raises on a usage error
