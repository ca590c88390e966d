"""Shared helpers for the harness's own tests."""

from __future__ import annotations

import tempfile
import textwrap
from pathlib import Path

from conformance import loader
from conformance.model import Case

REPO = Path(__file__).resolve().parent.parent


def case_from_yaml(text: str, area: str | None = None) -> Case:
    """One case (no variants) from YAML text, validated like a spec file."""
    text = textwrap.dedent(text)
    with tempfile.TemporaryDirectory() as folder:
        area = area or text.split("id:", 1)[1].strip().split(".", 1)[0]
        path = Path(folder) / "spec" / area / "case.yaml"
        path.parent.mkdir(parents=True)
        path.write_text(text, encoding="utf-8")
        cases, errors = loader.load([path])
    assert errors == [], [str(e) for e in errors]
    (case,) = cases
    return case
