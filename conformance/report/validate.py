"""``report validate``: is a file a results.json this suite could have written?

The JSON Schema (``schema/results.schema.json``) checks the shape; a few
rules it cannot express are checked here: the summary adds up, case ids are
unique, no top-level key appears twice. The file is read one case at a time
(``stream.py``): the header is checked against the schema with an empty
``cases``, and each case against the schema's ``$defs/case`` (its transcript's
entries by the model's reader, ``core.transcript.from_dicts``, which accepts what
``$defs/transcript_entry`` says), so memory stays bounded whatever the file's
size. Every other reader of a results.json checks it this way, once, through
``model.load`` or ``model.scan`` (``check_file`` with a callback for each valid case).
"""

from __future__ import annotations

import functools
import json
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import schema
from ..core.text import plural
from ..core.transcript import from_dicts
from .stream import ReadError, read

if TYPE_CHECKING:
    import jsonschema

#: Problems listed per file; the rest are counted (a broken 200 MB file must not print a million lines).
SHOWN = 50
#: Characters of one problem's text shown.
MESSAGE_CHARS = 300


@dataclass(frozen=True)
class Problem:
    text: str
    line: int | None = None

    def at(self, path: Path) -> str:
        """``path:line: text`` (or ``path: text``), as every message naming a file is written."""
        return f"{path}:{self.line}: {self.text}" if self.line else f"{path}: {self.text}"


@dataclass
class Verdict:
    """The problems found in one file (the first ``SHOWN``) and how many more there were."""

    problems: list[Problem] = field(default_factory=list)
    more: int = 0
    header: dict[str, Any] = field(default_factory=dict)
    """The top-level members but ``cases`` (``format``, ``run``, ``summary``, ``gate``)."""

    @property
    def ok(self) -> bool:
        return not self.problems

    def lines(self, path: Path) -> list[str]:
        shown = [problem.at(path) for problem in self.problems]
        if self.more:
            shown.append(f"{path}: and {plural(self.more, 'more problem')}")
        return shown


@functools.cache
def _validators() -> tuple[jsonschema.protocols.Validator, jsonschema.protocols.Validator]:
    import jsonschema  # a run writes its results.json without reading one back: it never needs this

    root = schema.load("results.schema.json")
    # One case, checked against the same definitions the whole document uses; but its transcript's entries
    # are checked by the model's own reader (transcript.from_dicts: what the schema says, six times faster).
    defs = {**root["$defs"], "transcript_entry": {"type": "object"}}
    case_schema = {"$schema": root["$schema"], "$defs": defs, **root["properties"]["cases"]["items"]}
    cls = jsonschema.validators.validator_for(root)
    checker = jsonschema.FormatChecker()
    return cls(root, format_checker=checker), cls(case_schema, format_checker=checker)


def _schema_problems(validator: jsonschema.protocols.Validator, value: Any, prefix: list[str]) -> list[str]:
    found = []
    for error in sorted(validator.iter_errors(value), key=lambda e: list(map(str, e.absolute_path))):
        where = "/".join([*prefix, *(str(part) for part in error.absolute_path)]) or "(top level)"
        # jsonschema quotes the offending value, which may be a whole transcript: one line stays a line.
        message = error.message if len(error.message) <= MESSAGE_CHARS else error.message[: MESSAGE_CHARS - 1] + "…"
        found.append(f"{where}: {message}")
    return found


class _Checker:
    def __init__(self, on_case: Callable[[int, dict[str, Any]], None] | None) -> None:
        self.header_validator, self.case_validator = _validators()
        self.on_case = on_case
        self.case_problems: list[str] = []
        self.hidden = 0
        self.counts: Counter[str] = Counter()
        self.ids: set[str] = set()
        self.duplicates: list[str] = []

    def case(self, index: int, case: Any) -> None:
        found = _schema_problems(self.case_validator, case, ["cases", str(index)])
        if not found:
            try:
                from_dicts(case["transcript"])
            except ValueError as error:
                found = [f"cases/{index}/{error}"]
        room = max(0, SHOWN - len(self.case_problems))
        self.case_problems += found[:room]
        self.hidden += len(found) - len(found[:room])
        if found:
            return
        self.counts[case["outcome"]] += 1
        if case["id"] in self.ids:
            if case["id"] not in self.duplicates:
                self.duplicates.append(case["id"])
        else:
            self.ids.add(case["id"])
        if self.on_case is not None:
            self.on_case(index, case)


def check_file(path: Path, on_case: Callable[[int, dict[str, Any]], None] | None = None) -> Verdict:
    """Every problem of the file at ``path``; ``on_case`` gets each case that is valid, as it is read."""
    checker = _Checker(on_case)
    try:
        document = read(path, checker.case)
    except ReadError as error:
        return Verdict([Problem(error.problem, error.line)])
    if document.not_an_object is not None:
        return Verdict([Problem(f"(top level): expected a JSON object, got {document.not_an_object}")])
    header = dict(document.header)
    if document.cases_streamed:
        header["cases"] = []  # checked one by one, above
    found = [f"(top level): key {json.dumps(key)} appears more than once" for key in document.duplicate_keys]
    found += _schema_problems(checker.header_validator, header, [])
    found += checker.case_problems
    if not found and not checker.hidden:
        summary = document.header["summary"]
        for outcome, number in summary.items():
            expected = document.case_count if outcome == "total" else checker.counts.get(outcome, 0)
            if number != expected:
                found.append(f"summary/{outcome}: says {number}, but the cases hold {expected}")
        found += [f"cases: id {json.dumps(case_id)} appears more than once" for case_id in checker.duplicates]
    shown = found[:SHOWN]
    return Verdict([Problem(text) for text in shown], checker.hidden + len(found) - len(shown), document.header)


def validate_file(path: Path) -> list[str]:
    """The problems of the file at ``path`` as text (``line N: ...`` where the line is known)."""
    verdict = check_file(path)
    texts = [f"line {p.line}: {p.text}" if p.line else p.text for p in verdict.problems]
    if verdict.more:
        texts.append(f"and {plural(verdict.more, 'more problem')}")
    return texts
