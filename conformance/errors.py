"""Errors, by who is at fault.

- ``SpecError``: a spec file is wrong (our YAML, or a third party's); it names
  the file, the line, the field and what was expected.
- ``AdapterError``: the adapter broke (crashed, went silent, spoke the protocol
  wrongly); the case becomes ``error``, never ``fail``.
- ``UsageError``: the command line asked for something impossible.
- ``InfrastructureError``: something the run needs would not start.
"""

from __future__ import annotations

from pathlib import Path


class ConformanceError(Exception):
    """Root of every error this package raises on purpose."""


class SpecError(ConformanceError):
    def __init__(self, file: Path | str, line: int | None, field: str, problem: str) -> None:
        self.file = str(file)
        self.line = line
        self.field = field
        self.problem = problem
        super().__init__(str(self))

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        field = f" {self.field}:" if self.field else ""
        return f"{where}:{field} {self.problem}"


class SpecErrors(ConformanceError):
    """Every problem found in a set of spec files; raised once, after reading them all."""

    def __init__(self, errors: list[SpecError]) -> None:
        self.errors = errors
        super().__init__("\n".join(str(error) for error in errors))


class AdapterError(ConformanceError):
    """The adapter or its transport broke: crash, silence, invalid protocol message."""


class UsageError(ConformanceError):
    """A command-line argument is wrong."""


class InfrastructureError(ConformanceError):
    """An adapter or server the run needs would not start."""
