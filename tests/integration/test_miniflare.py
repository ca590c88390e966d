"""The miniflare adapter against the real Miniflare (npm ``miniflare``, on Node 22 from npm):
the protocol checks pass, representative cases pass, the header names the bundled workerd,
connect() reaches loopback only, and no process outlives the run."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from conformance.adapters.base import RunContext
from conformance.adapters.miniflare import bundled_workerd, miniflare_spec
from conformance.adapters.workerd_config import CAPABILITIES
from conformance.core.certificates import RunCertificates
from conformance.protocol.client import AdapterClient
from tests.helpers import require_npm_packages
from tests.integration.cli import run_cli

pytestmark = pytest.mark.slow

REPRESENTATIVE = (
    "lifecycle.opened-socket-info-string-form",
    "streams.echo-round-trip",
    "half-open.writer-close-sends-fin-read-side-stays-open",
    "tls.opened-resolves-after-handshake[localhost]",
    "tls.untrusted-cert-rejects[localhost]",
    "starttls.upgrade-round-trip[localhost]",
    "address.ipv6-bracketed-string-connects",
    "errors.failed-connect-unawaited-no-unhandled-rejection",
    "policy.cross-request-write-rejects",  # a second request through the SELF binding
)


@pytest.fixture(scope="module")
def modules() -> Path:
    return require_npm_packages("miniflare")


def marked(marker: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if marker.encode() not in (entry / "environ").read_bytes():
                continue
            if (entry / "stat").read_text().rsplit(")", 1)[1].split()[0] != "Z":
                found.append(int(entry.name))
        except OSError:
            continue
    return found


def test_adapter_check_passes(modules: Path, tmp_path: Path) -> None:
    done = run_cli("adapter-check", "--adapter", "miniflare", report_dir=tmp_path, timeout=180)
    assert done.code == 0, done.stdout + done.stderr


def test_representative_cases_pass_and_the_header_names_the_bundled_workerd(modules: Path, tmp_path: Path) -> None:
    marker = uuid.uuid4().hex
    done = run_cli(
        "run",
        "--adapter",
        "miniflare",
        "-n",
        "2",
        "-k",
        " or ".join(REPRESENTATIVE),
        report_dir=tmp_path,
        timeout=240,
        env={"CONNECT_CONFORMANCE_TEST_MARKER": marker},
    )
    outcomes = done.outcomes()
    assert set(REPRESENTATIVE) <= set(outcomes)
    assert {case: outcome for case, outcome in outcomes.items() if outcome != "pass"} == {}, done.stderr
    assert done.code == 0
    adapter = done.results()["run"]["adapter"]
    package = json.loads((modules / "miniflare" / "package.json").read_text())
    workerd = json.loads((bundled_workerd(modules / "miniflare") / "package.json").read_text())
    node = json.loads((modules / "node" / "package.json").read_text())
    assert adapter["name"] == "miniflare"
    assert adapter["version"] == package["version"]
    assert (
        adapter["runtime"] == f"workerd {workerd['version']} (Miniflare {package['version']}, Node v{node['version']})"
    )
    # No global-scope: the relay would need a runtime of its own for module evaluation.
    assert sorted(adapter["capabilities"]) == sorted(set(CAPABILITIES) - {"global-scope"})
    deadline = time.monotonic() + 5
    while marked(marker) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert marked(marker) == [], "Node or workerd outlived the run"


def _local_addresses() -> list[str]:
    done = subprocess.run(["ip", "-4", "-o", "addr", "show"], capture_output=True, text=True, check=False)
    return [line.split()[3].split("/")[0] for line in done.stdout.splitlines() if " inet " in line]


def test_connect_reaches_loopback_only(modules: Path) -> None:
    """Miniflare's default outbound allows public and private addresses; the adapter's allows loopback only."""
    addresses = [a for a in _local_addresses() if not a.startswith("127.")]
    if not addresses:
        pytest.skip("this machine has no non-loopback IPv4 address")
    spec = miniflare_spec()

    async def scenario() -> tuple[Any, Any, int]:
        accepted = 0

        async def on_connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            nonlocal accepted
            accepted += 1
            writer.close()

        outside = await asyncio.start_server(on_connect, addresses[0], 0)
        loopback = await asyncio.start_server(on_connect, "127.0.0.1", 0)
        with RunCertificates() as certificates:
            client = AdapterClient(lambda: spec.make_transport(RunContext(certificates)))
            await client.start()
            try:
                await client.call({"op": "begin", "case": "policy"})
                address = f"{addresses[0]}:{outside.sockets[0].getsockname()[1]}"
                await client.call({"op": "connect", "address": address})
                refused = await client.call({"op": "await", "socket": "s1", "promise": "opened", "timeout_ms": 3000})
                await client.call({"op": "connect", "address": f"127.0.0.1:{loopback.sockets[0].getsockname()[1]}"})
                allowed = await client.call({"op": "await", "socket": "s2", "promise": "opened", "timeout_ms": 3000})
                await client.call({"op": "end", "timeout_ms": 1000})
            finally:
                await client.close()
                for server in (outside, loopback):
                    server.close()
                    await server.wait_closed()
        return refused, allowed, accepted

    refused, allowed, accepted = asyncio.run(scenario())
    assert refused.status.value == "rejected"
    assert allowed.status.value == "resolved"
    assert accepted == 1, "only the loopback listener may have been reached"
