"""Every command's help describes each of its arguments and options (walked over the whole parser tree)."""

from __future__ import annotations

import argparse
from collections.abc import Iterator

from conformance.cli import build_parser


def _parsers(parser: argparse.ArgumentParser, path: str) -> Iterator[tuple[str, argparse.ArgumentParser]]:
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, child in action.choices.items():
                yield from _parsers(child, f"{path} {name}")


def test_every_argument_and_option_of_every_command_has_a_help_text() -> None:
    undocumented = []
    commands = 0
    for path, parser in _parsers(build_parser(), "connect-conformance"):
        commands += 1
        for action in parser._actions:
            if isinstance(action, argparse._HelpAction | argparse._VersionAction):
                continue
            if isinstance(action, argparse._SubParsersAction):
                described = {choice.dest for choice in action._choices_actions if choice.help}
                undocumented += [f"{path} {name}" for name in action.choices if name not in described]
                continue
            if not action.help or action.help == argparse.SUPPRESS:
                undocumented.append(f"{path}: {'/'.join(action.option_strings) or action.dest}")
    assert commands > 15, "the walk must reach the subcommands"
    assert undocumented == []


def test_every_command_has_a_description_of_itself() -> None:
    for path, parser in _parsers(build_parser(), "connect-conformance"):
        assert parser.description or path == "connect-conformance", f"{path} has no description"
