"""Fixtures of the integration tests that several files share."""

from __future__ import annotations

import shutil

import pytest

from conformance.sandbox import availability
from tests.helpers import REPO, require_npm_packages, require_program
from tests.integration.cli import Completed
from tests.integration.shared_runs import shared_run


@pytest.fixture(scope="session")
def node_socket_full_run(tmp_path_factory: pytest.TempPathFactory) -> Completed:
    """The whole suite on node-socket against its shipped expectations, once per session (about 100 s):
    its gate (test_real_runtimes_gate.py), what to fix first (test_fix_first.py) and its messages
    (test_js_messages.py) are read from the same run."""
    require_program(("node",), "Node.js 20: https://nodejs.org or apt-get install -y nodejs")
    require_npm_packages("node-socket")  # an install must not eat the run's timeout
    known = REPO / "expectations" / "node-socket.yaml"
    return shared_run(
        tmp_path_factory,
        "node-socket-full",
        "run", "--adapter", "node-socket", "-n", "4", "--expectations", str(known),
        timeout=900,
    )  # fmt: skip


@pytest.fixture(scope="session")
def workerd_full_run(tmp_path_factory: pytest.TempPathFactory) -> Completed:
    """The whole suite on workerd against its shipped expectations, once per session: its gate
    (test_real_runtimes_gate.py) and, wherever a network sandbox can be made and strace is installed,
    what it sends: the run is then made inside the sandbox under ``strace -f``
    (test_sandbox_hermetic_workerd.py reads the log, ``shared_runs.trace_of``)."""
    require_npm_packages("workerd")  # an install must not eat the run's timeout (nor be traced)
    known = REPO / "expectations" / "workerd.yaml"
    args = ("run", "--adapter", "workerd", "-n", "2", "--expectations", str(known))
    strace = shutil.which("strace")
    if strace and availability().ok:
        return shared_run(tmp_path_factory, "workerd-full", *args, "--sandbox", timeout=900, strace=strace)
    return shared_run(tmp_path_factory, "workerd-full", *args, timeout=900)
