"""Reading spec files into ``Case`` objects, with every problem reported as ``file:line``.

Validation happens in two layers. The JSON Schema (``schema/case.schema.json``)
describes each field; steps are checked one action at a time, because a single
schema with an alternative per action produces unreadable errors. Then the
lint rules of spec/README.md section 7 catch what a schema cannot (duplicate
ids, unknown variables, regexes that do not compile...).
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import schema
from ..core import units
from ..core.jsshow import show
from ..core.model import MODIFIERS, SERVER_VARIABLES, Case, PeerSpec, ServerSpec, Step
from ..engine.actions import ACTIONS, GLOBAL_SCOPE, Kind
from ..errors import SpecError, SpecErrors
from ..sandbox.description import Description
from . import catalogue, spec_cache, yamlsource
from .specdir import find_spec_root, is_catalogue

if TYPE_CHECKING:
    import jsonschema

_VARIABLE = re.compile(r"\$\{([^}]*)\}")
PEER_VARIABLES = (
    "peer.host",
    "peer.hostname",
    "peer.port",
    "peer.port_hex",
    "peer.address",
    "peer.refused_port",
    "peer.refused_address",
)
_LISTENER_VARIABLES = ("peer.host", "peer.hostname", "peer.port", "peer.port_hex", "peer.address")
DEFAULT_CASE_TIMEOUT = 15.0
#: A case with a real server runs drivers, whose steps may take 30 s each (``actions.DRIVER_WITHIN``).
DEFAULT_SERVER_CASE_TIMEOUT = 60.0
#: The capability a case with ``server`` needs: an adapter that runs the drivers' scenario modules.
DRIVERS_CAPABILITY = "drivers"
#: ``${sandbox.*}``: defined for cases that require the sandbox (its contents are fixed: docs/sandbox.md).
SANDBOX_VARIABLES = tuple(Description().variables())


@functools.cache
def _validator(definition: str) -> jsonschema.protocols.Validator:
    # One per definition, kept for the process: ``_VALID`` is keyed by the validator's identity.
    # Imported here: a run whose spec files all come from the cache checks nothing.
    import jsonschema

    root = schema.load("case.schema.json")
    subschema = {"$ref": f"#/$defs/{definition}", "$defs": root["$defs"]}
    cls = jsonschema.validators.validator_for(root)
    return cls(subschema)


class _FileChecker:
    """Collects every problem in one file; builds cases only when there are none."""

    def __init__(self, path: Path, area: str | None, known: catalogue.Catalogue | None) -> None:
        self.path = path
        self.area = area
        self.catalogue = known
        self.errors: list[SpecError] = []
        self.document: Any = None
        self.duplicates: list[tuple[int, str]] = []

    def problem(self, line: int | None, field: str, text: str) -> None:
        self.errors.append(SpecError(self.path, line, field, text))

    def report_duplicates(self, first_line: int, end_line: int | None) -> None:
        """The duplicate keys written on lines [first_line, end_line): they belong to the case there."""
        for line, key in self.duplicates:
            if first_line <= line and (end_line is None or line < end_line):
                self.problem(line, key, "duplicate key (YAML would silently keep only the last one)")

    def schema_problems(self, validator: jsonschema.protocols.Validator, value: Any, path: list[str | int]) -> bool:
        key = _valid_key(validator, value)
        if key is not None and key in _VALID:
            return False
        found = False
        for error in sorted(validator.iter_errors(value), key=lambda e: list(map(str, e.path))):
            full = path + list(error.absolute_path)
            if error.validator == "additionalProperties" and isinstance(error.instance, dict):
                error_schema: Any = error.schema
                allowed = error_schema.get("properties", {})
                full += sorted(key for key in error.instance if key not in allowed)[:1]
            # The leading index only says which case of the file; the line says it better.
            field = ".".join(str(part) for part in full[1:]) or "case"
            self.problem(yamlsource.line_of(self.document, full), field, schema.describe(error, yamlsource.kind))
            found = True
        if key is not None and not found:
            _VALID.add(key)
        return found

    def read(self) -> list[Any]:
        try:
            self.document, duplicates = yamlsource.load(yamlsource.read(self.path))
        except OSError as error:
            self.problem(None, "", f"cannot read: {error.strerror or error}")
            return []
        except yamlsource.YamlProblem as problem:
            self.problem(problem.line, "", problem.problem)
            return []
        self.duplicates = duplicates
        if not isinstance(self.document, list):
            self.report_duplicates(0, None)
            got = "nothing (an empty file)" if self.document is None else yamlsource.kind(self.document)
            self.problem(getattr(self.document, "line", 1), "", f"expected a list of cases, got {got}")
            return []
        if not self.document:
            self.problem(getattr(self.document, "line", 1), "", "the file holds no cases (an empty list)")
        return self.document


_STEP_VALIDATORS: dict[str, jsonschema.protocols.Validator] = {}


#: Values a validator accepted, as (validator, canonical JSON): the spec repeats the same steps
#: (``await: opened``, the same writes) thousands of times, and checking each again was most of
#: the time it takes to load the spec. Only acceptance is remembered: a rejected value is checked
#: again, so its errors carry its own line.
_VALID: set[tuple[int, str]] = set()


def _valid_key(validator: jsonschema.protocols.Validator, value: Any) -> tuple[int, str] | None:
    try:
        return id(validator), json.dumps(value, sort_keys=True, allow_nan=False)
    except (TypeError, ValueError):
        return None  # a value JSON cannot hold (a YAML date, NaN): always checked


def _step_validator(kind: str, name: str) -> jsonschema.protocols.Validator:
    key = f"{kind}/{name}"
    if key not in _STEP_VALIDATORS:
        _STEP_VALIDATORS[key] = _validator(key)
    return _STEP_VALIDATORS[key]


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _strings(key)
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def _regexes(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "$regex" and isinstance(item, str):
                yield item
            else:
                yield from _regexes(item)
    elif isinstance(value, list):
        for item in value:
            yield from _regexes(item)


def _expect_kinds(expect: Any) -> Iterator[str]:
    """The expectation kinds an ``expect`` uses, those inside ``any_of`` included."""
    if isinstance(expect, dict):
        for kind, wanted in expect.items():
            yield kind
            if kind == "any_of" and isinstance(wanted, list):
                for option in wanted:
                    yield from _expect_kinds(option)


class _CaseChecker:
    def __init__(self, checker: _FileChecker, raw: Any, index: int) -> None:
        self.file = checker
        self.raw = raw
        self.path: list[str | int] = [index]

    def lines(self) -> tuple[int, int | None]:
        """The lines this case spans: from its first to the next case's first (exclusive)."""
        starts: list[int] = getattr(self.file.document, "item_lines", [])
        index = self.path[0]
        assert isinstance(index, int)
        first = starts[index] if index < len(starts) else 0
        return first, starts[index + 1] if index + 1 < len(starts) else None

    def line(self, *more: str | int) -> int | None:
        return yamlsource.line_of(self.file.document, self.path + list(more))

    def check(self) -> list[Case]:
        # Only this case's problems count: a broken case earlier in the file costs only itself.
        before = len(self.file.errors)
        self.file.report_duplicates(*self.lines())
        if self.file.schema_problems(_validator("case"), self.raw, self.path):
            # Steps are still checked so that one run of `validate` shows everything.
            if isinstance(self.raw, dict) and isinstance(self.raw.get("steps"), list):
                self.check_steps()
            return []
        case_id: str = self.raw["id"]
        area = case_id.split(".", 1)[0]
        if self.file.area is not None and area != self.file.area:
            self.file.problem(
                self.line("id"),
                "id",
                f"the area of {show(case_id)} is {show(area)}, but the file is in "
                f"spec/{self.file.area}/ (ids start with their folder name)",
            )
        for position, source in enumerate(self.raw["source"]):
            self.check_source(source, position)
        steps = self.check_steps()
        variants = self.raw.get("variants") or [None]
        variant_names = [v["name"] for v in variants if v is not None]
        for name in {n for n in variant_names if variant_names.count(n) > 1}:
            self.file.problem(self.line("variants"), "variants", f"duplicate variant name {show(name)}")
        self.check_names(steps, variants)
        if len(self.file.errors) > before:
            return []
        return [self.build(steps, variant) for variant in variants]

    def check_source(self, source: str, position: int) -> None:
        if self.file.catalogue is None:
            return  # the catalogue itself is broken: its own problems are reported instead
        problem = catalogue.source_problem(self.file.catalogue, source)
        if problem:
            self.file.problem(self.line("source", position), f"source.{position}", f"{show(source)}: {problem}")

    def check_steps(self) -> list[Step]:
        steps: list[Step] = []
        for index, raw in enumerate(self.raw["steps"]):
            step = self.check_step(raw, index)
            if step is not None:
                steps.append(step)
        return steps

    def check_step(self, raw: Any, index: int) -> Step | None:
        where: list[str | int] = ["steps", index]
        line = self.line(*where) or 0
        field = f"steps.{index}"
        if not isinstance(raw, dict):
            self.file.problem(line, field, f"expected a mapping with one action, got {yamlsource.kind(raw)}")
            return None
        actions = [key for key in raw if key in ACTIONS]
        unknown = [key for key in raw if key not in ACTIONS and key not in MODIFIERS]
        if not actions:
            names = ", ".join(show(key) for key in unknown) or "nothing"
            self.file.problem(line, field, f"unknown step {names}: expected one of {', '.join(ACTIONS)}")
            return None
        for key in unknown:
            self.file.problem(
                self.line(*where, key),
                f"{field}.{key}",
                f"unknown field {show(key)} (expected one of {', '.join(MODIFIERS)})",
            )
        if len(actions) > 1:
            self.file.problem(line, field, f"a step has exactly one action, got {', '.join(actions)}")
            return None
        action = actions[0]
        bad = self.file.schema_problems(_step_validator("actions", action), raw[action], [*self.path, *where, action])
        for key in MODIFIERS:
            if key in raw:
                bad |= self.file.schema_problems(_step_validator("modifiers", key), raw[key], [*self.path, *where, key])
        for pattern in _regexes(raw.get("expect")):
            try:
                re.compile(pattern)
            except re.error as error:
                self.file.problem(self.line(*where, "expect"), f"{field}.expect", f"bad regex {show(pattern)}: {error}")
                bad = True
        if not bad and "expect" in raw:
            allowed = ACTIONS[action].expects
            for kind in _expect_kinds(raw["expect"]):
                if kind not in allowed:
                    accepted = ", ".join(sorted(allowed)) or "none"
                    self.file.problem(
                        self.line(*where, "expect"),
                        f"{field}.expect",
                        f"{show(kind)} does not apply to {action} (it accepts: {accepted})",
                    )
                    bad = True
        if unknown or bad:
            return None
        return Step(
            index=index,
            line=line,
            action=action,
            arg=raw[action],
            expect=raw.get("expect"),
            within=units.seconds(raw["within"]) if "within" in raw else None,
            socket=raw.get("socket"),
            conn=raw.get("conn"),
            name=raw.get("as"),
            background=raw.get("background"),
            request=raw.get("request"),
            note=raw.get("note"),
        )

    def check_names(self, steps: list[Step], variants: list[Any]) -> None:
        peer = self.peer()
        defined = set(
            PEER_VARIABLES if peer.kind != "none" else [v for v in PEER_VARIABLES if v not in _LISTENER_VARIABLES]
        )
        requires = self.raw.get("requires", ())
        if peer.needs_sandbox and "sandbox" not in requires:
            self.file.problem(
                self.line("peer"), "peer", "a Cloudflare address or a port below 1024 needs `requires: [sandbox]`"
            )
        if "sandbox" in requires:
            defined |= set(SANDBOX_VARIABLES)
        if "server" in self.raw:
            defined |= set(SERVER_VARIABLES)
            if DRIVERS_CAPABILITY not in requires:
                self.file.problem(
                    self.line("server"), "server", f"a case with a server needs `requires: [{DRIVERS_CAPABILITY}]`"
                )
        for step in steps:
            if ACTIONS[step.action].drives_server:
                self.check_driver(step)
        environment = self.raw.get("environment")
        if environment is not None and environment not in requires:
            self.file.problem(
                self.line("environment"), "environment", f"environment {environment} needs `requires: [{environment}]`"
            )
        for step in steps:
            if step.request is None:
                continue
            if ACTIONS[step.action].kind is not Kind.CLIENT:
                self.file.problem(step.line, f"steps.{step.index}.request", "only a client op runs in a request")
            elif step.request == GLOBAL_SCOPE and not ACTIONS[step.action].module_scope:
                at_module = " or ".join(name for name, spec in ACTIONS.items() if spec.module_scope)
                self.file.problem(
                    step.line,
                    f"steps.{step.index}.request",
                    f"only {at_module} runs at module evaluation (request: global)",
                )
            wanted = "global-scope" if step.request == GLOBAL_SCOPE else "request-scope"
            if wanted not in requires:
                self.file.problem(
                    step.line, f"steps.{step.index}.request", f"request: {step.request} needs `requires: [{wanted}]`"
                )
        variant_keys: set[str] | None = None
        for variant in variants:
            if variant is not None:
                keys = set(variant) - {"name"}
                variant_keys = keys if variant_keys is None else variant_keys & keys
        defined |= variant_keys or set()
        sockets: set[str] = set()
        connections: set[str] = set()
        backgrounds: set[str] = set()
        for step in steps:
            field = f"steps.{step.index}"
            for text in [*_strings(step.arg), *_strings(step.expect)]:
                for name in _VARIABLE.findall(text):
                    if name not in defined:
                        hint = " (this case has peer: none)" if name in _LISTENER_VARIABLES else ""
                        self.file.problem(step.line, field, f"unknown variable ${{{name}}}{hint}")
            if step.socket is not None and step.socket not in sockets:
                self.file.problem(step.line, f"{field}.socket", f"no earlier step names a socket {show(step.socket)}")
            if ACTIONS[step.action].yields_socket and step.name:
                sockets.add(step.name)
            self.check_conn(step, connections)
            if ACTIONS[step.action].yields_connection and step.name:
                connections.add(step.name)
            if step.background:
                if step.background in backgrounds:
                    self.file.problem(
                        step.line, f"{field}.background", f"background name {show(step.background)} used twice"
                    )
                backgrounds.add(step.background)
            if ACTIONS[step.action].joins and step.arg not in backgrounds:
                self.file.problem(
                    step.line, field, f"{step.action} {show(step.arg)}: no earlier step has background: {step.arg}"
                )

    def check_driver(self, step: Step) -> None:
        from ..drivers import modules  # the scenario modules' files: read only when a case has a driver step

        field = f"steps.{step.index}.driver"
        if "server" not in self.raw:
            self.file.problem(step.line, field, "a driver step needs the case's `server: {kind: ...}`")
        name, scenario = step.arg["name"], step.arg["scenario"]
        known = modules.drivers()
        if name not in known:
            self.file.problem(step.line, f"{field}.name", f"unknown driver {show(name)} (known: {', '.join(known)})")
        elif scenario not in modules.scenarios(name):
            listed = ", ".join(modules.scenarios(name))
            self.file.problem(
                step.line, f"{field}.scenario", f"{name} has no scenario {show(scenario)} (it has: {listed})"
            )

    def check_conn(self, step: Step, connections: set[str]) -> None:
        if step.conn is None:
            return
        field = f"steps.{step.index}.conn"
        if ACTIONS[step.action].kind is not Kind.PEER or ACTIONS[step.action].yields_connection:
            self.file.problem(step.line, field, f"conn names a peer connection; {step.action} does not act on one")
        elif step.conn not in connections:
            self.file.problem(step.line, field, f"no earlier peer.accept names a connection {show(step.conn)} (as:)")

    def peer(self) -> PeerSpec:
        # The schema has checked these values against PeerSpec's literals. A case with a real server
        # talks to it, not to our peer: no listener unless it asks for one.
        raw: Any = self.raw.get("peer", "none" if "server" in self.raw else "plain")
        if isinstance(raw, str):
            return PeerSpec(kind=raw)  # type: ignore[arg-type]
        return PeerSpec(
            kind=raw["kind"], host=raw.get("host", "127.0.0.1"), cert=raw.get("cert", "good"), port=raw.get("port", 0)
        )

    def server(self) -> ServerSpec | None:
        raw: Any = self.raw.get("server")
        return None if raw is None else ServerSpec(kind=raw["kind"], certificate=raw.get("certificate", "good"))

    def default_timeout(self) -> float:
        return DEFAULT_SERVER_CASE_TIMEOUT if "server" in self.raw else DEFAULT_CASE_TIMEOUT

    def build(self, steps: list[Step], variant: dict[str, Any] | None) -> Case:
        raw = self.raw
        variables = {k: v for k, v in (variant or {}).items() if k != "name"}
        name = variant["name"] if variant else None
        return Case(
            id=f"{raw['id']}[{name}]" if name else raw["id"],
            variant=name,
            title=raw["title"],
            level=raw["level"],
            source=tuple(raw["source"]),
            tags=tuple(raw.get("tags", ())),
            requires=tuple(raw.get("requires", ())),
            peer=self.peer(),
            timeout=units.seconds(raw["timeout"]) if "timeout" in raw else self.default_timeout(),
            environment=raw.get("environment"),
            server=self.server(),
            steps=tuple(steps),
            variables=variables,
            file=str(self.file.path),
            line=self.line() or 0,
        )


def _area_of(path: Path, root: Path | None) -> str | None:
    if root is None:
        return None
    try:
        relative = path.resolve().relative_to(root.resolve())
    except ValueError:
        return None
    return relative.parts[0] if len(relative.parts) > 1 else None


def spec_files(paths: Iterable[Path]) -> list[Path]:
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found.extend(sorted(p for p in path.rglob("*.yaml") if p.is_file() and not is_catalogue(p)))
        else:
            found.append(path)
    return found


def load_file(
    path: Path, root: Path | None = None, known: catalogue.Catalogue | None = None
) -> tuple[list[Case], list[SpecError]]:
    """The valid cases of one file and its problems; sources are checked against ``known`` (else the catalogue
    of the file's spec folder, or the suite's own)."""
    root = root or find_spec_root(path.parent)
    errors: list[SpecError] = []
    if known is None:
        known, errors = catalogue.for_spec_root(root)
    checker = _FileChecker(path, _area_of(path, root), known)
    checker.errors.extend(errors)
    cases: list[Case] = []
    for index, raw in enumerate(checker.read()):
        before = len(checker.errors)
        built = _CaseChecker(checker, raw, index).check()
        if len(checker.errors) == before:
            cases.extend(built)
    return cases, checker.errors


def load(paths: Iterable[Path], cached: bool = False) -> tuple[list[Case], list[SpecError]]:
    """Every valid case under ``paths``, and every problem found (duplicate ids across files too).

    An invalid case never runs, but it costs only itself: the other cases of
    its file still load (a file that is not YAML at all contributes none).
    ``cached``: files that loaded cleanly before are taken from ``spec_cache``.
    """
    cases: list[Case] = []
    errors: list[SpecError] = []
    seen: dict[str, Case] = {}
    reported: set[str] = set()
    paths = list(paths)
    for path in paths:
        if path.is_dir() and not spec_files([path]):
            errors.append(SpecError(path, None, "", "no spec files (*.yaml) in this folder"))
    for path in spec_files(paths):
        root = find_spec_root(path.parent)
        name = spec_cache.key(path, root, catalogue.path_for(root)) if cached and spec_cache.enabled() else None
        file_cases = spec_cache.get(name) if name is not None else None
        if file_cases is None:
            known, catalogue_errors = catalogue.for_spec_root(root)
            for error in catalogue_errors:
                if str(error) not in reported:  # a broken catalogue is reported once, not per file
                    reported.add(str(error))
                    errors.append(error)
            file_cases, file_errors = load_file(path, root, known)
            errors.extend(file_errors)
            if name is not None and not file_errors and not catalogue_errors:
                spec_cache.put(name, file_cases)
        for case in file_cases:
            if case.id in seen:
                first = seen[case.id]
                errors.append(
                    SpecError(
                        case.file, case.line, "id", f"duplicate id {show(case.id)} (first defined at {first.location})"
                    )
                )
                continue
            seen[case.id] = case
            cases.append(case)
    return cases, errors


def load_strict(paths: Iterable[Path]) -> list[Case]:
    cases, errors = load(paths)
    if errors:
        raise SpecErrors(errors)
    return cases
