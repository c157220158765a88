"""Usage of the command line: one-line usage errors with exit code 2, --version."""

import pytest
from support.cli import geoint

import geoint as package

USAGE_ERRORS = {
    "unknown command": (["bogus"], "geoint --help"),
    "unknown subcommand": (["alerts", "bogus"], "geoint alerts --help"),
    "unknown option": (["alerts", "list", "--bogus"], "geoint alerts list --help"),
    "missing argument": (["ingest", "pings"], "geoint ingest pings --help"),
    "missing option": (["analyze"], "geoint analyze --help"),
    "bad integer": (["alerts", "list", "--limit", "abc"], "geoint alerts list --help"),
    "integer out of range": (["alerts", "show", "0"], "geoint alerts show --help"),
    "missing option value": (["alerts", "list", "--workspace"], ""),
}


@pytest.mark.parametrize(("args", "hint"), USAGE_ERRORS.values(), ids=USAGE_ERRORS)
def test_usage_errors_are_one_line_with_exit_code_2(args, hint):
    result = geoint(*args)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ") and hint in lines[0]
    assert "Traceback" not in result.stderr and result.stdout == ""


def test_a_group_without_its_command_shows_its_help():
    result = geoint("alerts")
    assert result.returncode == 2
    assert "Usage: geoint alerts" in result.stdout and "Traceback" not in result.stderr


def test_version_prints_the_package_version():
    result = geoint("--version")
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"geoint {package.__version__}\n"
