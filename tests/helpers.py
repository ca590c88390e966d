"""Shared helpers for the harness's own tests."""

from __future__ import annotations

import os
import shutil
import tempfile
import textwrap
from pathlib import Path

import pytest

from conformance import loader
from conformance.model import Case

REPO = Path(__file__).resolve().parent.parent


def in_ci() -> bool:
    """``CI=true`` (set by ``.ci/run`` and by most CI services): every test must run there."""
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def require_program(names: tuple[str, ...], install: str) -> str:
    """The path of the first of ``names`` on PATH. Missing: a failure in CI, elsewhere a skip whose
    reason says how to install it (so the README's test command passes on a fresh machine)."""
    for name in names:
        path = shutil.which(name)
        if path:
            return path
    reason = f"{names[0]} is not installed ({install}); CI=true makes this test required"
    if in_ci():
        pytest.fail(reason, pytrace=False)
    pytest.skip(reason)


def require_sandbox() -> None:
    """The network sandbox must be possible here: in CI a failure if not, elsewhere a skip with the reason."""
    from conformance.sandbox import availability

    available = availability()
    if available.ok:
        return
    reason = f"no network sandbox on this machine ({available.reason}); CI=true makes this test required"
    if in_ci():
        pytest.fail(reason, pytrace=False)
    pytest.skip(reason)


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
