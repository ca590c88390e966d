"""Importing the package, or the pytest plugin pytest loads everywhere, pulls in nothing heavy."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import REPO

HEAVY = ("jsonschema", "trustme", "cryptography", "websockets", "yaml")


def modules_after(statement: str) -> set[str]:
    code = f"import sys, json; {statement}; print(json.dumps(sorted(sys.modules)))"
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60, check=True
    )
    return set(json.loads(done.stdout))


@pytest.mark.parametrize("module", ["conformance", "conformance.pytest_plugin"])
def test_nothing_heavy_is_imported(module: str) -> None:
    loaded = modules_after(f"import {module}")
    assert module in loaded
    assert sorted(name for name in HEAVY if name in loaded) == []
    assert "conformance.execution.runner" not in loaded
    assert "conformance.cases.loader" not in loaded


def test_a_public_name_loads_its_module_on_first_use() -> None:
    loaded = modules_after("import conformance; conformance.load_cases")
    assert "conformance.cases.loader" in loaded
    assert "yaml" in loaded


def test_the_public_names_resolve() -> None:
    import conformance

    for name in conformance.__all__:
        assert getattr(conformance, name) is not None
    with pytest.raises(AttributeError):
        _ = conformance.no_such_name  # type: ignore[attr-defined]


#: What the peer may load for the pure engine: its calls and their plain values, no server.
PEER_VALUES = {
    "conformance_peer",
    "conformance_peer.calls",
    "conformance_peer.wire",
    "conformance_peer._chunks",
    "conformance_peer._errors",
    "conformance_peer._results",
    "conformance_peer._rules",
    "conformance_peer._spec",
}


@pytest.mark.parametrize("module", ["conformance.engine.interpreter", "conformance.engine.judging"])
def test_the_pure_engine_loads_no_ssl_nor_the_peers_server(module: str) -> None:
    loaded = modules_after(f"import {module}")
    assert module in loaded
    assert sorted(name for name in ("ssl", "_ssl", "asyncio") if name in loaded) == []
    assert sorted(name for name in loaded if name.startswith("conformance_peer") and name not in PEER_VALUES) == []
    assert "conformance_peer.calls" in loaded


def test_a_run_from_kept_spec_files_never_imports_jsonschema(tmp_path: Path) -> None:
    # jsonschema (~0.1 s to import) only explains what a fast check refused, or checks a file read afresh.
    env = {**os.environ, "CONNECT_CONFORMANCE_CACHE": str(tmp_path / "cache")}
    code = (
        "import sys, runpy; sys.argv = ['conformance', 'run', 'spec/errors', '--no-sandbox', '-q', '--report-dir', "
        f"{str(tmp_path / 'report')!r}]\n"
        "try:\n    runpy.run_module('conformance', run_name='__main__')\n"
        "except SystemExit as end:\n    print('jsonschema' in sys.modules, end.code)\n"
    )
    runs = [
        subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
        for _ in range(2)
    ]
    assert runs[0].stdout.split()[-2:] == ["True", "0"], "the first run reads and checks the spec files"
    assert runs[1].stdout.split()[-2:] == ["False", "0"], runs[1].stdout + runs[1].stderr
