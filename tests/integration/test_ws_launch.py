"""A WebSocket adapter receives the run's CA only when the harness starts it (``ws-launch:``).

The same WebSocket adapter (the reference behind a WebSocket server,
``conformance.adapters.reference_ws``) runs TLS cases when the harness launches
it, and has to skip them when it was started by hand and reached with ``ws://``:
the CA is made fresh for each run and handed over at launch (docs/adapters.md,
sections 2 and 10).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from tests.helpers import REPO
from tests.integration.cli import run_cli

pytestmark = pytest.mark.slow

SERVER = f"{sys.executable} -m conformance.adapters.reference_ws"
TLS_CASES = ("tls.opened-resolves-after-handshake[localhost]", "starttls.upgrade-round-trip[localhost]")
PLAIN_CASE = "streams.echo-round-trip"
SELECTION = " or ".join([*TLS_CASES, PLAIN_CASE])


def marked_processes(marker: str) -> list[int]:
    """Live processes whose environment carries ``marker`` (the servers this test caused)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if marker.encode() not in (entry / "environ").read_bytes():
                continue
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state != "Z":
            found.append(int(entry.name))
    return found


def test_a_launched_websocket_adapter_gets_the_ca_and_passes_tls(tmp_path: Path) -> None:
    marker = uuid.uuid4().hex
    done = run_cli(
        "run",
        "--adapter",
        f"ws-launch:{SERVER}",
        "-n",
        "2",
        "-k",
        SELECTION,
        report_dir=tmp_path,
        timeout=120,
        env={"CONNECT_CONFORMANCE_TEST_MARKER": marker},
    )
    assert done.code == 0, done.stdout + done.stderr
    outcomes = done.outcomes()
    assert {case: outcomes[case] for case in (*TLS_CASES, PLAIN_CASE)} == dict.fromkeys(
        (*TLS_CASES, PLAIN_CASE), "pass"
    )
    adapter = done.results()["run"]["adapter"]
    assert {"tls", "starttls"} <= set(adapter["capabilities"])
    assert done.results()["run"]["adapter_spec"] == f"ws-launch:{SERVER}"
    deadline = time.monotonic() + 5
    while marked_processes(marker) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert marked_processes(marker) == [], "a launched adapter outlived the run"


def test_the_same_adapter_started_by_hand_has_no_ca_and_skips_tls(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONNECT_CONFORMANCE_")}
    server = subprocess.Popen(
        [sys.executable, "-m", "conformance.adapters.reference_ws"],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None
        url = server.stdout.readline().strip()
        assert url.startswith("ws://127.0.0.1:"), url
        done = run_cli("run", "--adapter", url, "-k", SELECTION, report_dir=tmp_path, timeout=120)
    finally:
        server.terminate()
        server.wait(timeout=10)
    outcomes = done.outcomes()
    assert outcomes[PLAIN_CASE] == "pass"
    assert {case: outcomes[case] for case in TLS_CASES} == dict.fromkeys(TLS_CASES, "skip")
    messages = {case["id"]: case["message"] for case in done.results()["cases"]}
    assert "lacks capability: tls" in messages[TLS_CASES[0]]
    assert not {"tls", "starttls"} & set(done.results()["run"]["adapter"]["capabilities"])


@pytest.mark.parametrize(
    ("program", "reasons"),
    [
        (
            "print('listening on 8080', flush=True); import time; time.sleep(30)",
            ["must print the ws:// URL", "'listening on 8080'"],
        ),
        (
            "import sys; print('boom', file=sys.stderr); sys.exit(3)",
            ["exited before printing its ws:// URL", "boom", "exited with code 3"],
        ),
    ],
)
def test_a_program_that_prints_no_url_is_an_infrastructure_error(
    tmp_path: Path, program: str, reasons: list[str]
) -> None:
    started = time.monotonic()
    done = run_cli(
        "run",
        "--adapter",
        f"ws-launch:{sys.executable} -c {program!r}",
        "-k",
        PLAIN_CASE,
        report_dir=tmp_path,
        timeout=60,
    )
    assert done.code == 3, done.stdout + done.stderr
    for reason in reasons:
        assert reason in done.stderr
    assert time.monotonic() - started < 20, "the program was not stopped at once"


def test_a_proxy_in_the_environment_is_not_used_for_an_adapter_on_loopback(tmp_path: Path) -> None:
    # CI machines often set a proxy for the registries; the harness's own loopback adapters must not go
    # through it (nothing there could reach them). Port 9 on loopback: nothing listens, as a proxy would fail.
    proxy = "http://127.0.0.1:9"
    done = run_cli(
        "run",
        "--adapter",
        f"ws-launch:{SERVER}",
        "-k",
        PLAIN_CASE,
        report_dir=tmp_path,
        timeout=120,
        env={"https_proxy": proxy, "http_proxy": proxy, "all_proxy": proxy, "HTTPS_PROXY": proxy},
    )
    assert done.code == 0, done.stdout + done.stderr
    assert done.outcomes() == {PLAIN_CASE: "pass"}
