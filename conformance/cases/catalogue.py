"""The behaviour catalogue (``spec/behaviours.yaml``): loading, look-up, links and the Markdown view.

Cases cite behaviours by id (``B15``) and documents by short references
(``docs:tcp-sockets#socketoptions``, ``spec:opened``, ``workerd#1305``). The
catalogue defines both: every id with its statement, literal error strings and
primary sources, and what each document or repository short name links to.

Everything here is pure apart from ``load`` (reads the YAML) and ``main``
(also loads the cases): ``render`` turns a catalogue and the cases into the
text of ``spec/behaviours.md``; ``uncited`` and ``unknown_sources`` compare a
catalogue with the cases. Problems are reported like the spec loader's, as
``file:line: field: problem``.

Regenerate the Markdown with ``connect-conformance catalogue > spec/behaviours.md``.
"""

from __future__ import annotations

import datetime
import functools
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from .. import schema
from ..core.jsshow import show
from ..errors import SpecError, SpecErrors
from . import yamlsource
from .specdir import CATALOGUE_FILE, default_spec_dir

FILE_NAME = CATALOGUE_FILE
REGENERATE = "connect-conformance catalogue > spec/behaviours.md"
_ID = re.compile(r"^B([1-9][0-9]*)$")
#: The source of a case written by the differential fuzzer, until someone triages it (docs/writing-cases.md).
FUZZ_SOURCE = "fuzz"
_REPO_ISSUE = re.compile(r"^(?P<repo>[A-Za-z0-9-]+(?:/[A-Za-z0-9._-]+)?)#(?P<number>[0-9]+)$")
_WORKERD_LINES = re.compile(r"^(?P<path>[^#]+)#L(?P<start>[0-9]+)(?:-L(?P<end>[0-9]+))?$")


class CitingCase(Protocol):
    """What the catalogue needs of a case (``model.Case`` has it)."""

    @property
    def id(self) -> str: ...

    @property
    def source(self) -> Sequence[str]: ...

    @property
    def location(self) -> str: ...


@dataclass(frozen=True)
class ErrorText:
    message: str
    name: str | None = None
    when: str | None = None
    match: str | None = None
    """A regex for cases to use where the literal text varies between versions."""


@dataclass(frozen=True)
class Source:
    what: str
    url: str
    where: str | None = None
    """For workerd source lines: the file and lines, e.g. ``sockets.c++ L186-L191``."""


@dataclass(frozen=True)
class Correction:
    date: str
    note: str
    evidence: tuple[str, ...]


@dataclass(frozen=True)
class Behaviour:
    id: str
    title: str
    area: str
    statement: str
    sources: tuple[Source, ...]
    errors: tuple[ErrorText, ...] = ()
    corrections: tuple[Correction, ...] = ()
    notes: tuple[str, ...] = ()
    scope: str = "in"
    reason: str | None = None
    """Why the suite does not test it; set exactly when ``scope`` is ``out``."""
    line: int = 0

    @property
    def anchor(self) -> str:
        """The fragment of its section in ``spec/behaviours.md`` (``b15``)."""
        return self.id.lower()

    @property
    def in_scope(self) -> bool:
        return self.scope == "in"


@dataclass(frozen=True)
class Document:
    url: str
    anchors: Mapping[str, str]


@dataclass(frozen=True)
class Catalogue:
    behaviours: tuple[Behaviour, ...]
    documents: Mapping[str, Document]
    repositories: Mapping[str, str]
    pins: Mapping[str, Any]
    file: str = FILE_NAME

    def get(self, behaviour_id: str) -> Behaviour | None:
        return next((b for b in self.behaviours if b.id == behaviour_id), None)

    def __contains__(self, behaviour_id: object) -> bool:
        return any(b.id == behaviour_id for b in self.behaviours)

    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(b.id for b in self.behaviours)

    @property
    def workerd_commit(self) -> str:
        return str(self.pins["workerd"]["commit"])

    def resolve(self, reference: str) -> str | None:
        """The URL of a document, issue or link reference; ``None`` when the catalogue does not know it.

        Behaviour ids are not references: link them with ``link``.
        """
        if reference.startswith(("https://", "http://")):
            return reference
        if reference == FUZZ_SOURCE:
            return "docs/writing-cases.md#fuzz"
        if reference.startswith(("docs:", "spec:")):
            prefix, key = _split_document(reference)
            document = self.documents.get(prefix)
            if document is None:
                return None
            if key is None:
                return document.url
            fragment = document.anchors.get(key)
            return None if fragment is None else f"{document.url}#{fragment}"
        issue = _REPO_ISSUE.match(reference)
        if issue:
            repository = issue["repo"] if "/" in issue["repo"] else self.repositories.get(issue["repo"])
            return None if repository is None else f"https://github.com/{repository}/issues/{issue['number']}"
        return None

    def link(self, source: str, page: str = "spec/behaviours.md") -> str | None:
        """Where any case ``source`` entry points: a behaviour's section in ``page``, or the reference's URL."""
        if _ID.match(source):
            return f"{page}#{source.lower()}" if source in self else None
        return self.resolve(source)


@dataclass(frozen=True)
class UnknownSource:
    case_id: str
    location: str
    source: str
    problem: str

    def __str__(self) -> str:
        return f"{self.location}: {self.case_id}: source {show(self.source)}: {self.problem}"


def _split_document(reference: str) -> tuple[str, str | None]:
    """``docs:tcp-sockets#connect`` -> (``docs:tcp-sockets``, ``connect``); ``spec:opened`` -> (``spec``, ``opened``)."""
    if reference.startswith("spec:"):
        return "spec", reference[len("spec:") :] or None
    page, _, anchor = reference.partition("#")
    return page, anchor or None


# --- comparing the catalogue with the cases ---------------------------------------------------


def cited_by(catalogue: Catalogue, cases: Iterable[CitingCase]) -> dict[str, list[str]]:
    """Behaviour id -> the ids of the cases citing it (variants folded into their case), sorted."""
    citing: dict[str, set[str]] = {b.id: set() for b in catalogue.behaviours}
    for case in cases:
        for source in case.source:
            if source in citing:
                citing[source].add(case.id.split("[", 1)[0])
    return {behaviour_id: sorted(ids) for behaviour_id, ids in citing.items()}


def uncited(catalogue: Catalogue, cases: Iterable[CitingCase]) -> list[str]:
    """Ids in scope that no case cites, in catalogue order."""
    citing = cited_by(catalogue, cases)
    return [b.id for b in catalogue.behaviours if b.in_scope and not citing[b.id]]


def unknown_sources(catalogue: Catalogue, cases: Iterable[CitingCase]) -> list[UnknownSource]:
    """Every case source the catalogue cannot look up: unknown ids, documents, anchors or repositories."""
    found: list[UnknownSource] = []
    for case in cases:
        for source in case.source:
            problem = source_problem(catalogue, source)
            if problem is not None:
                found.append(UnknownSource(case.id, case.location, source, problem))
    return found


def source_problem(catalogue: Catalogue, source: str) -> str | None:
    if _ID.match(source):
        return None if source in catalogue else f"no behaviour {source} in the catalogue ({catalogue.file})"
    if catalogue.resolve(source) is not None:
        return None
    if source.startswith(("docs:", "spec:")):
        prefix, key = _split_document(source)
        document = catalogue.documents.get(prefix)
        if document is None:
            return f"unknown document {show(prefix)} (known: {', '.join(sorted(catalogue.documents))})"
        return f"{prefix} has no anchor {show(key)} (known: {', '.join(sorted(document.anchors))})"
    issue = _REPO_ISSUE.match(source)
    if issue:
        return f"unknown repository {show(issue['repo'])} (known: {', '.join(sorted(catalogue.repositories))})"
    return "neither a behaviour id nor a document, issue or https reference"


# --- loading -------------------------------------------------------------------------------------


def default_path() -> Path:
    return default_spec_dir() / FILE_NAME


def for_spec_root(root: Path | None) -> tuple[Catalogue | None, list[SpecError]]:
    """The catalogue cases under ``root`` cite: ``root``'s own ``behaviours.yaml``, else the suite's.

    Loaded once per file (and modification time); a broken catalogue gives its problems instead.
    """
    path = path_for(root)
    try:
        return _load_cached(str(path.resolve()), path.stat().st_mtime_ns), []
    except SpecErrors as errors:
        return None, errors.errors
    except OSError as error:
        return None, [SpecError(path, None, "", f"cannot read the behaviour catalogue: {error}")]


def path_for(root: Path | None) -> Path:
    """The catalogue file cases under ``root`` cite: ``root``'s own ``behaviours.yaml``, else the suite's."""
    own = root / FILE_NAME if root is not None else None
    return own if own is not None and own.is_file() else default_path()


@functools.cache
def _load_cached(path: str, mtime_ns: int) -> Catalogue:
    return load(Path(path))


def load_kept(path: Path) -> Catalogue:
    """``load``, kept on disk like the spec files (``spec_cache``): a report of every run reads the
    catalogue for its links, and parsing it costs a short run a twentieth of its time."""
    from . import spec_cache

    name = spec_cache.key(path, None, path) if spec_cache.enabled() else None
    kept = spec_cache.get_object(name, Catalogue) if name else None
    if kept is not None:
        return kept
    found = load(path)
    if name:
        spec_cache.put(name, found)
    return found


def load(path: Path | None = None) -> Catalogue:
    """Read and validate the catalogue; raises ``SpecErrors`` naming ``file:line`` for every problem."""
    path = path or default_path()
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise SpecErrors([SpecError(path, None, "", f"cannot read: {error}")]) from None
    return parse(text, str(path))


def parse(text: str, file: str = FILE_NAME) -> Catalogue:
    """The catalogue in ``text`` (named ``file`` in problems); raises ``SpecErrors``."""
    try:
        document, duplicates = yamlsource.load(text)
    except yamlsource.YamlProblem as problem:
        raise SpecErrors([SpecError(file, problem.line, "", problem.problem)]) from None
    checker = _Checker(file, document)
    for line, key in duplicates:
        checker.problem(line, key, "duplicate key (YAML would silently keep only the last one)")
    catalogue = checker.check()
    if checker.errors or catalogue is None:
        raise SpecErrors(checker.errors)
    return catalogue


class _Checker:
    def __init__(self, file: str, document: Any) -> None:
        self.file = file
        self.document = document
        self.errors: list[SpecError] = []

    def problem(self, line: int | None, field: str, text: str) -> None:
        self.errors.append(SpecError(self.file, line, field, text))

    def line(self, *path: str | int) -> int | None:
        return yamlsource.line_of(self.document, list(path))

    def check(self) -> Catalogue | None:
        _dates_as_text(self.document)
        import jsonschema  # a kept catalogue is never checked again: most commands never import it

        root = schema.load("behaviours.schema.json")
        validator = jsonschema.validators.validator_for(root)(root)
        for error in validator.iter_errors(self.document):
            path = list(error.absolute_path)
            if error.validator == "additionalProperties" and isinstance(error.instance, dict):
                # Point at the unknown key itself, as the spec loader does.
                allowed: Any = error.schema
                path += sorted(key for key in error.instance if key not in allowed.get("properties", {}))[:1]
            field = ".".join(str(part) for part in path) or "catalogue"
            # The spec loader's wording, so both files read alike.
            self.problem(self.line(*path), field, schema.describe(error, yamlsource.kind))
        if self.errors:
            self.errors.sort(key=lambda error: error.line or 0)
            return None
        catalogue = Catalogue(
            behaviours=(),
            documents={
                prefix: Document(url=entry["url"], anchors=dict(entry["anchors"]))
                for prefix, entry in self.document["documents"].items()
            },
            repositories=dict(self.document["repositories"]),
            pins=self.document["pins"],
            file=self.file,
        )
        for index, raw in enumerate(self.document["behaviours"]):
            if "reason" in raw and raw.get("scope") != "out":
                self.problem(
                    self.line("behaviours", index, "reason"),
                    f"behaviours.{index}.reason",
                    "a reason is only for scope: out",
                )
        behaviours = tuple(
            self.behaviour(catalogue, raw, index) for index, raw in enumerate(self.document["behaviours"])
        )
        self.check_ids(behaviours)
        self.check_dates()
        return Catalogue(behaviours, catalogue.documents, catalogue.repositories, catalogue.pins, self.file)

    def behaviour(self, catalogue: Catalogue, raw: Mapping[str, Any], index: int) -> Behaviour:
        where: list[str | int] = ["behaviours", index]
        errors = []
        for position, entry in enumerate(raw.get("errors", [])):
            text = ErrorText(entry["message"], entry.get("name"), entry.get("when"), entry.get("match"))
            if text.match is not None:
                self.check_match(text, [*where, "errors", position, "match"])
            errors.append(text)
        sources = tuple(
            self.source(catalogue, entry, [*where, "sources", position])
            for position, entry in enumerate(raw["sources"])
        )
        return Behaviour(
            id=raw["id"],
            title=raw["title"],
            area=raw["area"],
            statement=" ".join(raw["statement"].split()),
            sources=sources,
            errors=tuple(errors),
            corrections=tuple(
                Correction(c["date"], " ".join(c["note"].split()), tuple(c["evidence"]))
                for c in raw.get("corrections", [])
            ),
            notes=tuple(" ".join(note.split()) for note in raw.get("notes", [])),
            scope=raw.get("scope", "in"),
            reason=" ".join(raw["reason"].split()) if "reason" in raw else None,
            line=self.line(*where) or 0,
        )

    def check_match(self, text: ErrorText, path: list[str | int]) -> None:
        field = ".".join(map(str, path))
        try:
            pattern = re.compile(text.match or "")
        except re.error as error:
            self.problem(self.line(*path), field, f"{show(text.match)} is not a valid regex: {error}")
            return
        if not pattern.search(text.message):
            self.problem(
                self.line(*path), field, f"{show(text.match)} does not match its own message {show(text.message)}"
            )

    def source(self, catalogue: Catalogue, entry: Mapping[str, Any], path: list[str | int]) -> Source:
        field = ".".join(map(str, path))
        if "url" in entry:
            return Source(entry["what"], entry["url"])
        if "workerd" in entry:
            lines = _WORKERD_LINES.match(entry["workerd"])
            assert lines is not None  # the schema's pattern guarantees the shape
            if lines["end"] is not None and int(lines["end"]) < int(lines["start"]):
                self.problem(self.line(*path, "workerd"), f"{field}.workerd", "the line range ends before it starts")
            anchor = f"L{lines['start']}" + (f"-L{lines['end']}" if lines["end"] else "")
            blob = f"https://github.com/cloudflare/workerd/blob/{catalogue.workerd_commit}/{lines['path']}#{anchor}"
            return Source(entry["what"], blob, f"workerd {lines['path'].rsplit('/', 1)[-1]} {anchor}")
        reference: str = entry["ref"]
        resolved = None if _ID.match(reference) else catalogue.resolve(reference)
        if resolved is None:
            problem = None if _ID.match(reference) else source_problem(catalogue, reference)
            self.problem(
                self.line(*path, "ref"),
                f"{field}.ref",
                problem or f"{show(reference)} is a behaviour id; a source must be a document, issue or link",
            )
        return Source(entry["what"], resolved or reference)

    def check_ids(self, behaviours: Sequence[Behaviour]) -> None:
        # Ids are never renumbered or removed, so the file lists B1..Bn in order without gaps.
        for position, behaviour in enumerate(behaviours):
            expected = f"B{position + 1}"
            if behaviour.id != expected:
                self.problem(
                    behaviour.line,
                    f"behaviours.{position}.id",
                    f"expected {expected} here, got {behaviour.id} (ids are listed in order, never renumbered or removed)",
                )
                return

    def check_dates(self) -> None:
        for path in _date_paths(self.document):
            value = self.document
            for part in path:
                value = value[part]
            try:
                datetime.date.fromisoformat(value)
            except ValueError:
                self.problem(self.line(*path), ".".join(map(str, path)), f"{show(value)} is not a calendar date")


def _dates_as_text(node: Any) -> None:
    """YAML reads an unquoted 2026-11-30 as a date; the catalogue keeps dates as ISO text."""
    if isinstance(node, dict):
        for key, value in node.items():
            if isinstance(value, datetime.date):
                node[key] = value.isoformat()
            else:
                _dates_as_text(value)
    elif isinstance(node, list):
        for index, value in enumerate(node):
            if isinstance(value, datetime.date):
                node[index] = value.isoformat()
            else:
                _dates_as_text(value)


def _date_paths(document: Mapping[str, Any]) -> Iterable[list[str | int]]:
    for name, pin in document["pins"].items():
        if "date" in pin:
            yield ["pins", name, "date"]
    for index, behaviour in enumerate(document["behaviours"]):
        for position in range(len(behaviour.get("corrections", []))):
            yield ["behaviours", index, "corrections", position, "date"]


# --- Markdown ------------------------------------------------------------------------------------


def _code(text: str) -> str:
    """``text`` as a Markdown code span, whatever backticks it contains."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    padded = f" {text} " if text.startswith("`") or text.endswith("`") else text
    return f"{fence}{padded}{fence}"


def _link_or_text(text: str) -> str:
    return f"<{text}>" if re.match(r"^https://\S+$", text) else text


def render(catalogue: Catalogue, cases: Iterable[CitingCase]) -> str:
    """The text of ``spec/behaviours.md``: an index, then one section per id, with the cases citing it."""
    citing = cited_by(catalogue, cases)
    pins = catalogue.pins
    out = [
        f"<!-- Generated from spec/{FILE_NAME} and the cases in spec/ by conformance/cases/catalogue.py. Do not edit:",
        f"     edit spec/{FILE_NAME} (or a case), then run `{REGENERATE}`. -->",
        "",
        "# Behaviour catalogue of `connect()`",
        "",
        "Every spec case cites the behaviours it checks by id in its `source:` field. Each section below",
        "states one behaviour, the literal error names and messages where it has any, its primary",
        "sources, dated corrections where an earlier version of this catalogue was wrong, and the cases",
        "that cite it. Behaviours marked *out of scope* say why the suite does not test them.",
        "",
        f"- workerd source lines link to commit `{pins['workerd']['commit'][:8]}` "
        f"({pins['workerd']['release']}, {pins['workerd']['date']}).",
        f"- The WinterTC sockets proposal was read at `{pins['proposal']['commit'][:8]}` ({pins['proposal']['date']}); "
        f"the Cloudflare docs at `{pins['docs']['commit'][:8]}`.",
        f"- Behaviour was checked live on {pins['checked']['runtime']} {pins['checked']['version']} "
        f"({pins['checked']['date']}): {' '.join(str(pins['checked']['how']).split())}",
        "",
        "| id | behaviour | area | cases |",
        "|---|---|---|---|",
    ]
    for behaviour in catalogue.behaviours:
        count = str(len(citing[behaviour.id])) if behaviour.in_scope else "out of scope"
        title = behaviour.title.replace("|", "\\|")
        out.append(f"| [{behaviour.id}](#{behaviour.anchor}) | {title} | {behaviour.area} | {count} |")
    for behaviour in catalogue.behaviours:
        out += ["", *_section(behaviour, citing[behaviour.id])]
    return "\n".join(out) + "\n"


def _section(behaviour: Behaviour, cases: Sequence[str]) -> list[str]:
    lines = [f"## {behaviour.id}", "", f"**{behaviour.title}**", "", f"Area: {behaviour.area}."]
    if not behaviour.in_scope:
        lines[-1] += f" **Out of scope:** {behaviour.reason}"
    lines += ["", behaviour.statement]
    if behaviour.errors:
        lines += ["", "Errors:", ""]
        for error in behaviour.errors:
            name = f"{error.name} " if error.name else ""
            item = f"- {name}{_code(error.message)}"
            if error.when:
                item += f" — {error.when}"
            if error.match:
                item += f"; cases match {_code(error.match)}"
            lines.append(item)
    lines += ["", "Sources:", ""]
    for source in behaviour.sources:
        where = f" ({source.where})" if source.where else ""
        lines.append(f"- [{source.what}]({source.url}){where}")
    if behaviour.corrections:
        lines += ["", "Corrections:", ""]
        for correction in behaviour.corrections:
            evidence = "; ".join(_link_or_text(item) for item in correction.evidence)
            lines.append(f"- {correction.date}: {correction.note} Evidence: {evidence}")
    if behaviour.notes:
        lines += ["", "Notes:", ""]
        lines += [f"- {note}" for note in behaviour.notes]
    cited = ", ".join(f"`{case}`" for case in cases) if cases else "no case yet"
    lines += ["", f"Cited by: {cited}."]
    return lines
