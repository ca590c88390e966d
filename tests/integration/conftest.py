"""Fixtures of the integration tests that several files share."""

from __future__ import annotations

import pytest

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
