"""What `autocomplete --help`, `COMMAND --help` and `--version` tell a newcomer."""

from __future__ import annotations

import argparse
import subprocess
import sys
from collections.abc import Iterator
from importlib.metadata import version

import pytest

from autocomplete.cli import build_parser
from autocomplete.cli.main import COMMANDS

#: defaults that need no mention: an unset option, an off switch, an empty list
_NOTHING = (None, False, [], argparse.SUPPRESS)


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "autocomplete.cli", *args],
        capture_output=True,
        text=True,
        timeout=60,
    )


def every_action(
    parser: argparse.ArgumentParser, path: str = "autocomplete"
) -> Iterator[tuple[str, argparse.Action]]:
    """(where, action) for every action of the parser and of every subparser below it."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from every_action(sub, f"{path} {name}")
        if not isinstance(action, argparse._HelpAction):
            yield path, action


def test_every_option_and_argument_of_every_command_has_help() -> None:
    missing = [
        f"{where} {action.option_strings or action.dest}"
        for where, action in every_action(build_parser())
        if not (action.help or "").strip()
    ]
    assert missing == []


def test_every_option_with_a_default_states_it() -> None:
    unstated = [
        f"{where} {action.option_strings}"
        for where, action in every_action(build_parser())
        if action.option_strings
        and action.default not in _NOTHING
        and "default" not in (action.help or "")
    ]
    assert unstated == []


def test_every_command_has_a_help_page_that_renders() -> None:
    parser = build_parser()
    subparsers = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    for name, sub in subparsers.choices.items():
        text = sub.format_help()
        assert text.startswith(f"usage: autocomplete {name}") and "%(" not in text


def test_top_level_help_describes_the_tool_and_gives_each_command_with_an_example() -> None:
    p = run("--help")
    assert p.returncode == 0
    head, _, epilog = p.stdout.partition("commands (")
    assert "Session-aware query autocompletion" in head
    for command in COMMANDS:
        assert f"  {command.NAME}  " in epilog and command.HELP in epilog
        assert f"      {command.EXAMPLE}" in epilog
    assert "autocomplete build-index --log data/sample/aol-sample.tsv.gz" in epilog
    assert "autocomplete serve --index index/sample" in epilog
    assert "exit status: 0 done; 1 a runtime failure" in epilog


@pytest.mark.parametrize("command", [c.NAME for c in COMMANDS])
def test_each_command_describes_itself_with_its_summary(command: str) -> None:
    p = run(command, "--help")
    summary = next(c.HELP for c in COMMANDS if c.NAME == command)
    assert p.returncode == 0 and summary[1:] in " ".join(p.stdout.split())


def test_version_is_the_installed_distributions() -> None:
    p = run("--version")
    assert p.returncode == 0 and p.stderr == ""
    assert p.stdout == f"autocomplete {version('session-qac')}\n"
