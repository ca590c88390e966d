"""A sandboxed workerd run is hermetic (issue 10, "what it must show" 3): the whole suite under
``strace -f``, and not one ``connect()``/``sendto()``/``sendmsg()`` goes anywhere but loopback and
the sandbox's own Cloudflare addresses; no DNS query is sent at all. About 33 s on a quiet machine.

Only the run is traced: workerd's npm packages are installed before (on a fresh machine that install
talks to the npm registry and its DNS, which is not the run's traffic). The traced run is the one the
workerd gate of test_real_runtimes_gate.py reads (conftest.py's ``workerd_full_run``): one whole-suite
run on workerd a session, not two.

The unsandboxed counterpart is not run: it would query the machine's resolver, which is the
leak this guards against (the parser's unit tests show such a trace is caught)."""

from __future__ import annotations

import pytest

from conformance.sandbox.description import Description
from conformance.sandbox.trace import summarize
from tests.helpers import require_program, require_sandbox
from tests.integration.cli import Completed
from tests.integration.shared_runs import trace_of

pytestmark = pytest.mark.slow


@pytest.mark.timeout(1200)  # 33 s on a quiet machine; it may wait for another worker's run of the fixture
def test_a_sandboxed_workerd_run_sends_nothing_off_loopback(request: pytest.FixtureRequest) -> None:
    require_sandbox()
    require_program(("strace",), "apt-get install -y strace")
    # The run of the workerd gate (test_real_runtimes_gate.py), made under strace inside the sandbox
    # wherever both are available, as here (conftest.py).
    done: Completed = request.getfixturevalue("workerd_full_run")
    trace = trace_of(done)
    assert done.code == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert (done.report_dir / "results.json").is_file()
    assert done.results()["run"]["sandboxed"] is True
    assert trace.is_file(), "the shared workerd run was not traced"
    described = Description()
    with trace.open(encoding="utf-8", errors="replace") as lines:
        summary = summarize(lines, described.on_lo)
    assert summary.total > 200, "the trace should hold the run's connections"
    assert summary.by_family["inet"] > 0
    assert summary.by_family["inet6"] > 0
    assert summary.outside == [], summary.text()
    assert summary.dns == [], summary.text()
