"""One run as typed data: the header, every case with its typed transcript, and the gate.

A run makes a ``RunReport`` and every report format is written from one:
results.json (``as_dict``, ``results.write_json``), junit.xml, summary.md; the
formats made later read it back the same way (the HTML report, the matrix and
badges, ``report junit`` and ``report summary``, compare, timelines). A new
format is a module reading a ``RunReport`` (docs/architecture.md, "A report
format"); nobody parses results.json by hand.

- ``load(path)``: a whole results.json (a file, or a report folder holding one);
- ``scan(path, on_case)``: one case at a time, for the commands that must take
  bounded memory whatever the file's size (``report compare``, timelines).

Both check the file once, as ``report validate`` does (``validate.check_file``:
the schema, header then each case, and the rules a schema cannot state); a file
it rejects raises ``ResultsFileError`` naming the file and its problems (a usage
error, exit 2), never a traceback.
"""

from __future__ import annotations

import os
import platform
import socket
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .._version import __version__
from ..core.outcomes import CaseResult, Outcome
from ..errors import UsageError
from .validate import check_file

RESULTS_FORMAT = 1
RESULTS_FILE = "results.json"


class ResultsFileError(UsageError):
    """A file that ``report validate`` rejects (or cannot read), with its problems (``path:line: text``)."""

    def __init__(self, path: Path, problems: Sequence[str]) -> None:
        self.path = path
        self.problems = list(problems)
        super().__init__("\n".join([*self.problems, f"{path} is not a results.json that `report validate` accepts"]))


def results_path(path: Path) -> Path:
    """A results.json, or a report folder holding one."""
    return path / RESULTS_FILE if path.is_dir() else path


def host_facts() -> dict[str, Any]:
    return {
        "platform": platform.platform(),
        "python": platform.python_version(),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "hostname": socket.gethostname(),
    }


def summary_counts(results: Sequence[CaseResult]) -> dict[str, int]:
    counts = Counter(result.outcome.value for result in results)
    summary = {outcome.value: counts.get(outcome.value, 0) for outcome in Outcome}
    summary["total"] = len(results)
    return summary


@dataclass(frozen=True)
class ShardInfo:
    """``run.shard`` of a run that was one shard of a split selection (``run --shard I/N``)."""

    index: int
    total: int
    #: How many cases the whole selection had, every shard's together.
    selected: int
    #: Where each case of this shard stands in the whole selection, in order (``report merge`` uses it).
    positions: tuple[int, ...]
    #: The results.json whose case durations balanced the split; None: split by a stable hash alone.
    durations: str | None = None

    def __str__(self) -> str:
        return f"{self.index}/{self.total}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "total": self.total,
            "selected": self.selected,
            "positions": list(self.positions),
            "durations": self.durations,
        }

    @classmethod
    def from_dict(cls, shard: Mapping[str, Any]) -> ShardInfo:
        return cls(
            index=int(shard["index"]),
            total=int(shard["total"]),
            selected=int(shard["selected"]),
            positions=tuple(int(position) for position in shard["positions"]),
            durations=shard.get("durations"),
        )


@dataclass(frozen=True)
class MergedShard:
    """One entry of ``run.shards`` of a merged run (``report merge``): a shard and where and when it ran."""

    index: int
    total: int
    started: str
    duration_s: float
    workers: int
    hostname: str = ""
    durations: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "total": self.total,
            "started": self.started,
            "duration_s": self.duration_s,
            "workers": self.workers,
            "hostname": self.hostname,
            "durations": self.durations,
        }

    @classmethod
    def from_dict(cls, shard: Mapping[str, Any]) -> MergedShard:
        return cls(
            index=int(shard["index"]),
            total=int(shard["total"]),
            started=str(shard["started"]),
            duration_s=float(shard["duration_s"]),
            workers=int(shard["workers"]),
            hostname=str(shard.get("hostname", "")),
            durations=shard.get("durations"),
        )


@dataclass
class RunHeader:
    """``run`` of results.json. A run in progress gets this suite's version and this machine's facts."""

    adapter: dict[str, Any]
    """What the adapter said in hello (``name``, and ``version``, ``runtime``, ``capabilities`` when it said them)."""
    adapter_spec: str
    started: str
    duration_s: float
    workers: int
    spec_revision: str
    selection: dict[str, Any] = field(default_factory=dict)
    interrupted: bool = False
    error: str | None = None
    spec_errors: list[str] = field(default_factory=list)
    sandboxed: bool = False
    suite_version: str = __version__
    host: dict[str, Any] = field(default_factory=host_facts)
    #: The real servers the drivers cases used: kind -> its version line (absent when none ran).
    servers: dict[str, str] = field(default_factory=dict)
    #: Set when the run was one shard of a split selection (``run --shard``).
    shard: ShardInfo | None = None
    #: Set on a run merged from shards (``report merge``): the shards, in order.
    shards: tuple[MergedShard, ...] | None = None

    def __post_init__(self) -> None:
        # As results.json holds it, so that what a run writes and what is rebuilt from the file agree.
        self.duration_s = round(self.duration_s, 3)

    @property
    def adapter_name(self) -> str:
        return str(self.adapter.get("name", ""))

    @property
    def adapter_version(self) -> str:
        return str(self.adapter.get("version", ""))

    @property
    def expectations(self) -> str | None:
        """The expectations file the run was gated with (``--expectations``), if any."""
        path = self.selection.get("expectations")
        return path if isinstance(path, str) else None

    def as_dict(self) -> dict[str, Any]:
        document: dict[str, Any] = {
            "adapter": self.adapter,
            "adapter_spec": self.adapter_spec,
            "suite_version": self.suite_version,
            "spec_revision": self.spec_revision,
            "started": self.started,
            "duration_s": self.duration_s,
            "workers": self.workers,
            "selection": self.selection,
            "interrupted": self.interrupted,
            "error": self.error,
            "spec_errors": self.spec_errors,
            "sandboxed": self.sandboxed,
            "host": self.host,
        } | self._sharding()
        if self.servers:
            document["servers"] = dict(self.servers)
        return document

    def _sharding(self) -> dict[str, Any]:
        """``shard`` and ``shards``, only when set: an unsharded run's header is as it always was."""
        keys: dict[str, Any] = {}
        if self.shard is not None:
            keys["shard"] = self.shard.as_dict()
        if self.shards is not None:
            keys["shards"] = [shard.as_dict() for shard in self.shards]
        return keys

    @classmethod
    def from_dict(cls, run: Mapping[str, Any]) -> RunHeader:
        """``run`` of a file the schema accepts; keys older files lack get their defaults."""
        return cls(
            adapter=dict(run["adapter"]),
            adapter_spec=run["adapter_spec"],
            started=run["started"],
            duration_s=run["duration_s"],
            workers=run["workers"],
            spec_revision=run["spec_revision"],
            selection=dict(run.get("selection", {})),
            interrupted=run["interrupted"],
            error=run.get("error"),
            spec_errors=list(run.get("spec_errors", [])),
            sandboxed=bool(run.get("sandboxed", False)),
            suite_version=run["suite_version"],
            host=dict(run["host"]),
            servers={str(key): str(value) for key, value in run.get("servers", {}).items()},
            shard=ShardInfo.from_dict(run["shard"]) if run.get("shard") is not None else None,
            shards=tuple(MergedShard.from_dict(s) for s in run["shards"]) if run.get("shards") is not None else None,
        )


@dataclass(frozen=True)
class GateEntry:
    """A case whose outcome was not the expected one: ``expected`` as the gate says it (``fail or pass (flaky)``)."""

    id: str
    outcome: str
    expected: str

    def as_dict(self) -> dict[str, str]:
        return {"id": self.id, "outcome": self.outcome, "expected": self.expected}

    @classmethod
    def from_dict(cls, entry: Mapping[str, Any]) -> GateEntry:
        return cls(str(entry["id"]), str(entry["outcome"]), str(entry["expected"]))


@dataclass(frozen=True)
class Gate:
    """``gate`` of results.json: the outcomes judged against the expectations file (``expectations.gate``)."""

    ok: bool
    unexpected: tuple[GateEntry, ...] = ()
    expected_non_pass: int = 0
    flaky: int = 0
    unused: tuple[str, ...] = ()
    expired: tuple[str, ...] = ()
    #: Unexpected outcomes (and expired entries) of ``info`` cases: warnings, never a failed gate.
    ungated: tuple[GateEntry, ...] = ()
    #: The non-pass outcomes the expectations file lists (a flaky entry's too): summary.md's xfail.
    #: None when the run had no expectations file.
    xfail: tuple[str, ...] | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "unexpected": [entry.as_dict() for entry in self.unexpected],
            "expected_non_pass": self.expected_non_pass,
            "flaky": self.flaky,
            "unused": list(self.unused),
            "expired": list(self.expired),
            "ungated": [entry.as_dict() for entry in self.ungated],
            "xfail": None if self.xfail is None else list(self.xfail),
        }

    @classmethod
    def from_dict(cls, gate: Mapping[str, Any], xfail: Callable[[], tuple[str, ...] | None]) -> Gate:
        """``gate`` of a file the schema accepts; ``xfail`` says it for a file made before ``gate.xfail`` existed."""
        return cls(
            ok=bool(gate["ok"]),
            unexpected=tuple(GateEntry.from_dict(entry) for entry in gate["unexpected"]),
            expected_non_pass=int(gate.get("expected_non_pass", 0)),
            flaky=int(gate.get("flaky", 0)),
            unused=tuple(gate.get("unused", ())),
            expired=tuple(gate.get("expired", ())),
            ungated=tuple(GateEntry.from_dict(entry) for entry in gate.get("ungated", ())),
            xfail=(None if gate["xfail"] is None else tuple(gate["xfail"])) if "xfail" in gate else xfail(),
        )


@dataclass
class RunReport:
    """One run: results.json as typed data (``load``), or what a run is about to write."""

    header: RunHeader
    cases: list[CaseResult]
    gate: Gate | None = None

    @property
    def summary(self) -> dict[str, int]:
        """The count per outcome and the total (``report validate`` checks that a file's adds up)."""
        return summary_counts(self.cases)

    @property
    def expected(self) -> frozenset[str] | None:
        """Ids of the non-pass outcomes the expectations file lists (shown as xfail); None without one."""
        if self.gate is None or self.gate.xfail is None:
            return None
        return frozenset(self.gate.xfail)

    def as_dict(self) -> dict[str, Any]:
        """results.json (``results.write_json`` writes it as strict JSON)."""
        document: dict[str, Any] = {
            "format": RESULTS_FORMAT,
            "run": self.header.as_dict(),
            "summary": self.summary,
            "cases": [case.as_dict() for case in self.cases],
        }
        if self.gate is not None:
            document["gate"] = self.gate.as_dict()
        return document

    @classmethod
    def from_parts(cls, header: Mapping[str, Any], cases: list[CaseResult]) -> RunReport:
        """The report of a valid file's header (``format``, ``run``, ``summary``, ``gate``) and its cases."""
        run = RunHeader.from_dict(header["run"])
        gate = header.get("gate")

        def legacy_xfail() -> tuple[str, ...] | None:
            # Files made before gate.xfail: what the matrix and the HTML report took for expected then.
            if run.expectations is None:
                return None
            unexpected = {entry["id"] for entry in gate["unexpected"]} if gate else set()
            return tuple(case.id for case in cases if case.outcome is not Outcome.PASS and case.id not in unexpected)

        return cls(run, cases, Gate.from_dict(gate, legacy_xfail) if gate is not None else None)


def _checked(path: Path, on_case: Callable[[CaseResult], None]) -> dict[str, Any]:
    """The header of the file at ``path`` once every case went to ``on_case``; ``ResultsFileError`` unless valid."""

    def typed(index: int, case: dict[str, Any]) -> None:
        on_case(CaseResult.from_dict(case))

    verdict = check_file(path, typed)
    if not verdict.ok:
        raise ResultsFileError(path, verdict.lines(path))
    return verdict.header


def load(path: Path) -> RunReport:
    """The run in ``path`` (a results.json, or a report folder holding one), checked once."""
    path = results_path(path)
    cases: list[CaseResult] = []
    header = _checked(path, cases.append)
    return RunReport.from_parts(header, cases)


def scan(path: Path, on_case: Callable[[CaseResult], None]) -> RunHeader:
    """Each case of ``path`` to ``on_case`` as it is read (bounded memory), then the run's header.

    A case reaches ``on_case`` before the file as a whole is known to be valid: on
    ``ResultsFileError`` the caller drops what it kept.
    """
    path = results_path(path)
    header = _checked(path, on_case)
    return RunHeader.from_dict(header["run"])
