"""The commands of ``connect-conformance``: one module each, registered in ``COMMANDS``.

A command module has ``add_arguments(parser)``, which declares its arguments and imports only
what parsing needs, and ``run(args) -> int``, which returns an ``ExitCode`` and imports the
heavy parts when it runs. ``cli`` builds the parser from this table and turns errors into exit
codes. A new command is a module here and a row in ``COMMANDS`` (docs/architecture.md).
"""

from __future__ import annotations

import argparse
import importlib
from dataclasses import dataclass
from typing import Protocol, cast


class CommandModule(Protocol):
    def add_arguments(self, parser: argparse.ArgumentParser) -> None: ...

    def run(self, args: argparse.Namespace) -> int: ...


@dataclass(frozen=True)
class Command:
    name: str
    #: The module under ``conformance.commands``.
    module: str
    help: str
    #: The command takes SIGINT and SIGTERM over itself (``run``: it still writes its report when
    #: interrupted); for the others ``cli`` turns both into ``KeyboardInterrupt`` (exit 130).
    own_signals: bool = False

    def load(self) -> CommandModule:
        return cast(CommandModule, importlib.import_module(f"{__name__}.{self.module}"))


COMMANDS: tuple[Command, ...] = (
    Command("run", "run", "run cases against an implementation", own_signals=True),
    Command("validate", "validate", "check spec files (and expectations files) against their schema and lint rules"),
    Command("list", "list_cases", "list cases with ids, levels and sources"),
    Command("catalogue", "catalogue", "print the behaviour catalogue as Markdown (spec/behaviours.md is this output)"),
    Command("mutants", "mutants", "run the suite against each broken reference and show what catches it"),
    Command("fuzz", "fuzz", "differential fuzzing: generated scenarios on two implementations, divergences as cases"),
    Command("install", "install", "install the npm packages of the JS adapters now (else: on first use)"),
    Command("report", "report", "published reports: the matrix, validation, comparison, HTML"),
    Command(
        "adapter-check",
        "adapter_check",
        "check that an adapter speaks the adapter protocol (not whether the implementation conforms)",
    ),
    Command("history", "history", "run the suite on many published versions of a runtime and write its timeline"),
    Command(
        "watch",
        "watch",
        "the releases after each pinned runtime: what they changed, bisected and triaged; --bump moves a pin",
    ),
    Command("bisect", "bisect", "find the first published version where a case's outcome changed (binary search)"),
    Command(
        "adapter-kit",
        "adapter_kit",
        "where this installation's adapter kit is: the JS kit's folder, the Python kit's import",
    ),
    Command(
        "init", "init", "scaffold a project that validates an implementation: adapter shell, expectations, README, CI"
    ),
    Command("servers", "servers", "run the peer's fixed-behaviour servers standalone (echo, TLS echo, STARTTLS echo)"),
    Command("peer", "peer", "the peer as a service driven over a control channel, and its image"),
    Command(
        "image",
        "image",
        "build the harness's own container image (the suite and its pinned JS runtimes) unless one of the same "
        "inputs exists; print its tag",
    ),
)


def command(name: str) -> Command:
    return next(entry for entry in COMMANDS if entry.name == name)
