"""``results.json``: the run header, the summary and every case with its transcript."""

from __future__ import annotations

import hashlib
import os
import platform
import socket
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .._version import __version__
from ..core.outcomes import CaseResult, Outcome
from . import output

RESULTS_FORMAT = 1


def spec_revision(files: Sequence[str]) -> str:
    """A digest of the spec files' contents: two runs with equal revisions ran the same cases."""
    digest = hashlib.sha256()
    for name in sorted(set(files)):
        path = Path(name)
        digest.update(path.name.encode())
        if path.is_file():
            digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def current_spec_revision(spec_dir: Path | None = None) -> str:
    """The revision a run of the whole of ``spec_dir`` (default: this checkout's ``spec/``) records now.

    A published results.json with another revision ran other cases: it is stale.
    """
    from ..cases.loader import spec_files  # lazily: the loader pulls in YAML and the schemas
    from ..cases.specdir import default_spec_dir

    return spec_revision([str(path) for path in spec_files([spec_dir or default_spec_dir()])])


def summary_counts(results: Sequence[CaseResult]) -> dict[str, int]:
    counts = Counter(result.outcome.value for result in results)
    summary = {outcome.value: counts.get(outcome.value, 0) for outcome in Outcome}
    summary["total"] = len(results)
    return summary


def host_facts() -> dict[str, Any]:
    return {
        "platform": platform.platform(),
        "python": platform.python_version(),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "hostname": socket.gethostname(),
    }


@dataclass
class RunHeader:
    adapter: dict[str, Any]
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
    #: The real servers the drivers cases used: kind -> its version line (absent when none ran).
    servers: dict[str, str] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        document: dict[str, Any] = {
            "adapter": self.adapter,
            "adapter_spec": self.adapter_spec,
            "suite_version": __version__,
            "spec_revision": self.spec_revision,
            "started": self.started,
            "duration_s": round(self.duration_s, 3),
            "workers": self.workers,
            "selection": self.selection,
            "interrupted": self.interrupted,
            "error": self.error,
            "spec_errors": self.spec_errors,
            "sandboxed": self.sandboxed,
            "host": host_facts(),
        }
        if self.servers:
            document["servers"] = dict(self.servers)
        return document


def results_document(
    header: RunHeader, results: Sequence[CaseResult], gate: dict[str, Any] | None = None
) -> dict[str, Any]:
    document: dict[str, Any] = {
        "format": RESULTS_FORMAT,
        "run": header.as_dict(),
        "summary": summary_counts(results),
        "cases": [result.as_dict() for result in results],
    }
    if gate is not None:
        document["gate"] = gate
    return document


def write_json(path: Path, document: dict[str, Any]) -> None:
    """Write strict JSON atomically (``output.json_text``): any adapter string, never half a file."""
    output.write_text(path, output.json_text(document) + "\n")
