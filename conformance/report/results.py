"""``results.json``: the JSON writer of a ``RunReport`` (``model.py``), and the spec revision a run records."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from . import output
from .model import RunReport


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


def write_json(path: Path, document: dict[str, Any]) -> None:
    """Write strict JSON atomically (``output.json_text``): any adapter string, never half a file."""
    output.write_text(path, output.json_text(document) + "\n")


def write(path: Path, report: RunReport) -> None:
    """``report`` as results.json at ``path``."""
    write_json(path, report.as_dict())
