"""The workerd adapter against the real runtime (npm ``workerd``): representative cases pass,
one workerd process per lane, and nothing is ever left behind (processes, temporary folders),
even when the run is interrupted or killed."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from conformance.adapters.workerd import FOLDER_PREFIX, WorkerdRuntime, WorkerdTransport
from conformance.adapters.workerd_config import CAPABILITIES, INTERPRETER_MODULES
from conformance.core.certificates import RunCertificates
from conformance.errors import AdapterError, InfrastructureError
from conformance.protocol.client import AdapterClient
from tests.helpers import REPO, require_npm_packages

pytestmark = pytest.mark.slow

#: One case per behaviour the adapter must carry: opened/remoteAddress, plain echo,
#: half-open, TLS (good and rejected certificates), STARTTLS, unhandled-rejection reporting,
#: request scopes and the Outbound-Worker environment.
REPRESENTATIVE = (
    "lifecycle.opened-socket-info-string-form",
    "lifecycle.refused-rejects-opened-and-closed",
    "streams.echo-round-trip",
    "streams.large-transfer-peer-to-client",
    "half-open.writer-close-sends-fin-read-side-stays-open",
    "half-open.allow-half-open-true-keeps-writable",
    "tls.opened-resolves-after-handshake[localhost]",
    "tls.opened-resolves-after-handshake[ipv4-literal]",
    "tls.echo-round-trip-large",
    "tls.untrusted-cert-rejects[localhost]",
    "tls.cert-failure-unawaited-no-unhandled-rejection",
    "starttls.upgrade-round-trip[localhost]",
    "starttls.upgrade-round-trip[ipv4-literal]",
    "starttls.new-socket-reports-on",
    "address.ipv6-bracketed-string-connects",
    # Requests and environments: module evaluation (a one-off runtime), a second request
    # through the SELF binding, the Outbound-Worker profile service.
    "policy.global-scope-connect-throws",
    "policy.global-scope-checked-before-arguments[bad-hostname]",
    "policy.cross-request-write-rejects",
    "policy.cross-request-close-rejects-closed",
    "policy.cross-request-own-socket-works",
    "policy.outbound-worker-dials-nothing",
)
SELECTION = " or ".join(REPRESENTATIVE)


@pytest.fixture(scope="module")
def runtime() -> WorkerdRuntime:
    return WorkerdRuntime.from_node_modules(require_npm_packages("workerd"))


# -- process and folder hygiene ---------------------------------------------------------------


def workerd_processes(binary: Path, marker: str) -> list[int]:
    """Live processes running ``binary`` whose environment carries ``marker`` (so runs of
    other tests or other people on this machine never count)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv0 = (entry / "cmdline").read_bytes().split(b"\0", 1)[0]
            if argv0 != str(binary).encode() or marker.encode() not in (entry / "environ").read_bytes():
                continue
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state != "Z":
            found.append(int(entry.name))
    return found


def wait_until_gone(binary: Path, marker: str, seconds: float = 5.0) -> list[int]:
    deadline = time.monotonic() + seconds
    while (left := workerd_processes(binary, marker)) and time.monotonic() < deadline:
        time.sleep(0.05)
    return left


def harness(tmp_path: Path, marker: str, *args: str) -> subprocess.Popen[str]:
    temp = tmp_path / "tmp"
    temp.mkdir(exist_ok=True)
    env = {**os.environ, "TMPDIR": str(temp), "CONNECT_CONFORMANCE_TEST_MARKER": marker}
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "conformance",
            "run",
            "--adapter",
            "workerd",
            "--report-dir",
            str(tmp_path / "report"),
            *args,
        ],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for_passes(process: subprocess.Popen[str], count: int) -> None:
    assert process.stderr is not None
    seen = 0
    while seen < count:
        line = process.stderr.readline()
        assert line, "the run ended before it could be interrupted"
        seen += line.startswith("PASS")


def results_of(tmp_path: Path) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((tmp_path / "report" / "results.json").read_text())
    return loaded


# -- whole runs through the command line --------------------------------------------------------


def test_representative_cases_pass_and_nothing_is_left(tmp_path: Path, runtime: WorkerdRuntime) -> None:
    marker = uuid.uuid4().hex
    process = harness(tmp_path, marker, "-n", "2", "-k", SELECTION)
    _, stderr = process.communicate(timeout=240)
    results = results_of(tmp_path)
    outcomes = {case["id"]: case["outcome"] for case in results["cases"]}
    assert set(REPRESENTATIVE) <= set(outcomes)  # -k matches substrings: a few more may run
    assert [(i, o) for i, o in outcomes.items() if o == "error"] == [], stderr
    assert {i: o for i, o in outcomes.items() if o != "pass"} == {}, stderr
    assert process.returncode == 0, stderr
    adapter = results["run"]["adapter"]
    assert adapter["name"] == "workerd"
    assert adapter["version"] == runtime.version
    assert adapter["runtime"] == runtime.runtime
    assert adapter["runtime"].startswith("workerd 20")
    assert sorted(adapter["capabilities"]) == sorted(CAPABILITIES), "hello reports what the config declares"
    assert results["run"]["interrupted"] is False
    opened = next(c for c in results["cases"] if c["id"] == "lifecycle.opened-socket-info-string-form")
    replies = [step["observed"] for step in opened["transcript"] if step.get("action") == "await"]
    assert any("remoteAddress" in (reply.get("value") or {}) for reply in replies)
    assert wait_until_gone(runtime.binary, marker) == []
    assert list((tmp_path / "tmp").iterdir()) == []


def test_ctrl_c_mid_run_leaves_no_workerd(tmp_path: Path, runtime: WorkerdRuntime) -> None:
    marker = uuid.uuid4().hex
    process = harness(tmp_path, marker, "-v", "-n", "2", "-k", "streams or lifecycle or tls")
    try:
        wait_for_passes(process, 3)
        assert len(workerd_processes(runtime.binary, marker)) == 2, "one workerd per lane"
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 130, stderr
    results = results_of(tmp_path)
    assert results["run"]["interrupted"] is True
    assert 3 <= results["summary"]["total"] < results["run"]["selection"]["selected"]
    assert wait_until_gone(runtime.binary, marker) == []
    assert list((tmp_path / "tmp").iterdir()) == []


def test_sigterm_mid_run_leaves_no_workerd(tmp_path: Path, runtime: WorkerdRuntime) -> None:
    marker = uuid.uuid4().hex
    process = harness(tmp_path, marker, "-v", "-k", "streams or lifecycle")
    try:
        wait_for_passes(process, 2)
        process.terminate()
        _, stderr = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 130, stderr
    assert wait_until_gone(runtime.binary, marker) == []
    assert list((tmp_path / "tmp").iterdir()) == []


def test_a_killed_harness_takes_workerd_with_it(
    tmp_path: Path, runtime: WorkerdRuntime, monkeypatch: pytest.MonkeyPatch
) -> None:
    marker = uuid.uuid4().hex
    process = harness(tmp_path, marker, "-v", "-n", "2", "-k", "streams or lifecycle")
    try:
        wait_for_passes(process, 1)
        assert workerd_processes(runtime.binary, marker) != []
        process.kill()  # SIGKILL: no cleanup code of the harness runs
        process.wait(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert wait_until_gone(runtime.binary, marker) == [], "workerd outlived its harness"
    # Only the lanes' folders are left; the next workerd adapter in this folder removes them.
    stale = list((tmp_path / "tmp").glob(f"{FOLDER_PREFIX}*"))
    assert len(stale) == 2
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))

    async def open_and_close() -> None:
        with RunCertificates() as certificates:
            transport = WorkerdTransport(runtime, certificates.ca_pem)
            await transport.open()
            await transport.close()

    asyncio.run(open_and_close())
    assert not any(folder.exists() for folder in stale)
    assert list((tmp_path / "tmp").glob(f"{FOLDER_PREFIX}*")) == []


# -- the transport on its own -----------------------------------------------------------------


@pytest.fixture
def ca_pem(runtime: WorkerdRuntime, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The run's CA; also marks every workerd the test starts, and checks none outlives it."""
    marker = uuid.uuid4().hex
    monkeypatch.setenv("CONNECT_CONFORMANCE_TEST_MARKER", marker)
    with RunCertificates() as certificates:
        yield certificates.ca_pem
    assert wait_until_gone(runtime.binary, marker, seconds=1.0) == []
    assert list(Path(tempfile.gettempdir()).glob(f"{FOLDER_PREFIX}{os.getpid()}-*")) == []


def process_alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_open_serves_hello_and_close_removes_everything(runtime: WorkerdRuntime, ca_pem: str) -> None:
    async def scenario() -> None:
        transport = WorkerdTransport(runtime, ca_pem)
        await transport.open()
        pid, folder = transport.pid, transport.directory
        assert pid is not None
        assert folder is not None
        assert folder.name.startswith(f"{FOLDER_PREFIX}{os.getpid()}-")
        assert folder.stat().st_mode & 0o777 == 0o700
        assert sorted(p.name for p in folder.iterdir()) == sorted(
            ["ca.pem", "config.capnp", "fetch-only-outbound.js", "worker.js", *INTERPRETER_MODULES]
        )
        assert (folder / "ca.pem").read_text() == ca_pem
        assert os.getpgid(pid) == pid, "workerd leads a process group of its own"
        assert transport.startup_s is not None
        assert 0 < transport.startup_s < 20
        assert transport.url == f"ws://127.0.0.1:{transport.port}/"
        reply = await transport.exchange({"seq": 1, "op": "hello", "protocol": 1}, 5)
        assert reply["value"]["name"] == "workerd"
        # One WebSocket per session, each with a fresh adapter.
        await transport.open_session()
        assert (await transport.exchange({"seq": 1, "op": "begin", "case": "x"}, 5))["status"] == "returned"
        end = await transport.exchange({"seq": 2, "op": "end", "timeout_ms": 100}, 5)
        assert end["value"] == {"open_sockets": 0, "unhandled_rejections": []}
        await transport.close_session()
        await transport.close()
        assert not process_alive(pid)
        assert not folder.exists()
        await transport.close()  # twice is harmless

    asyncio.run(scenario())


def test_plain_http_gets_400(runtime: WorkerdRuntime, ca_pem: str) -> None:
    async def scenario() -> None:
        transport = WorkerdTransport(runtime, ca_pem)
        await transport.open()
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", transport.port)
            writer.write(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            status = await reader.readline()
            writer.close()
            assert status.startswith(b"HTTP/1.1 400")
        finally:
            await transport.close()

    asyncio.run(scenario())


def test_awkward_versions_reach_hello_verbatim(runtime: WorkerdRuntime, ca_pem: str) -> None:
    odd = WorkerdRuntime(binary=runtime.binary, version='1.2"3\\4 ✓', runtime="workerd\n\t2026 'x'")

    async def scenario() -> dict[str, Any]:
        client = AdapterClient(lambda: WorkerdTransport(odd, ca_pem))
        hello = await client.start()
        await client.close()
        return hello.as_dict()

    hello = asyncio.run(scenario())
    assert hello["version"] == odd.version
    assert hello["runtime"] == odd.runtime


#: A stand-in interpreter that exposes the Worker's plumbing: replies in order, and the
#: module-scope ``unhandledrejection`` hook credited to the session's adapter.
PLUMBING_INTERPRETER = """
export function createAdapter({ name, version, runtime, capabilities }) {
  const unhandled = [];
  let shut = false;
  const ops = {
    hello: () => ({ status: "returned", value: { name, version, runtime, protocol: 1, capabilities } }),
    reject: () => { Promise.reject(new RangeError("nobody handles this")); return { status: "returned" }; },
    sleep: (m) => new Promise((r) => setTimeout(() => r({ status: "returned", value: m.ms }), m.ms)),
    end: () => new Promise((r) => setTimeout(() => r({ status: "returned", value: unhandled.splice(0) }), 0)),
    shutdown: () => { shut = true; return { status: "returned" }; },
  };
  return {
    async handle(m) { return { seq: m.seq, ...(await ops[m.op](m)) }; },
    noteUnhandled(reason) { unhandled.push({ name: reason.name, message: reason.message }); },
    get isShutDown() { return shut; },
  };
}
"""


def test_replies_in_order_and_unhandled_rejections_reach_the_session(
    runtime: WorkerdRuntime, ca_pem: str, tmp_path: Path
) -> None:
    from websockets.asyncio.client import connect

    interpreter = tmp_path / "interpreter.js"
    interpreter.write_text(PLUMBING_INTERPRETER)

    async def scenario() -> None:
        transport = WorkerdTransport(runtime, ca_pem, interpreter=interpreter)
        await transport.open()
        try:
            async with connect(transport.url) as socket:
                # Sent back to back: the slow one still answers first.
                for seq, ms in ((1, 300), (2, 0), (3, 100)):
                    await socket.send(json.dumps({"seq": seq, "op": "sleep", "ms": ms}))
                replies = [json.loads(await socket.recv()) for _ in range(3)]
                assert [r["seq"] for r in replies] == [1, 2, 3]
                await socket.send(json.dumps({"seq": 4, "op": "reject"}))
                await socket.recv()
                await socket.send(json.dumps({"seq": 5, "op": "end"}))
                end = json.loads(await socket.recv())
                assert end["value"] == [{"name": "RangeError", "message": "nobody handles this"}]
                await socket.send(json.dumps({"seq": 6, "op": "shutdown"}))
                assert json.loads(await socket.recv())["status"] == "returned"
                # After shutdown the Worker closes the WebSocket itself.
                async with asyncio.timeout(5):
                    await socket.wait_closed()
                assert socket.close_code == 1000
        finally:
            await transport.close()

    asyncio.run(scenario())


def test_a_broken_session_restarts_the_process(runtime: WorkerdRuntime, ca_pem: str) -> None:
    async def scenario() -> None:
        transports: list[WorkerdTransport] = []

        def make() -> WorkerdTransport:
            transports.append(WorkerdTransport(runtime, ca_pem))
            return transports[-1]

        client = AdapterClient(make)
        await client.start()
        first = transports[0].pid
        assert first is not None
        os.kill(first, signal.SIGKILL)  # the workerd this test started
        await asyncio.sleep(0.2)
        with pytest.raises(AdapterError):
            await client.call({"op": "begin", "case": "x"})
        assert client.broken
        assert "exited with signal 9" in client.diagnostics()
        await client.restart()
        second = transports[1].pid
        assert second is not None
        assert second != first
        assert not process_alive(first)
        assert (await client.call({"op": "begin", "case": "y"})).status == "returned"
        folders = [t.directory for t in transports]
        await client.close()
        assert not process_alive(second)
        assert folders[1] is not None
        assert not folders[1].exists()
        assert transports[0].directory is None

    asyncio.run(scenario())


def test_connect_reaches_loopback_only(runtime: WorkerdRuntime, ca_pem: str) -> None:
    """A listener on this machine's own non-loopback address (delivered locally, never on the
    wire) is refused by the network policy: nothing connects."""
    addresses = [a for a in _local_addresses() if not a.startswith("127.")]
    if not addresses:
        pytest.skip("this machine has no non-loopback IPv4 address")

    async def scenario() -> tuple[dict[str, Any], int]:
        accepted = 0

        async def on_connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            nonlocal accepted
            accepted += 1
            writer.close()

        server = await asyncio.start_server(on_connect, addresses[0], 0)
        port = server.sockets[0].getsockname()[1]
        transport = WorkerdTransport(runtime, ca_pem)
        await transport.open()
        try:
            await transport.open_session()
            await transport.exchange({"seq": 1, "op": "begin", "case": "policy"}, 5)
            await transport.exchange({"seq": 2, "op": "connect", "address": f"{addresses[0]}:{port}"}, 5)
            reply = await transport.exchange(
                {"seq": 3, "op": "await", "socket": "s1", "promise": "opened", "timeout_ms": 3000}, 10
            )
            await asyncio.sleep(0.2)
        finally:
            await transport.close()
            server.close()
            await server.wait_closed()
        return reply, accepted

    reply, accepted = asyncio.run(scenario())
    assert reply["status"] == "rejected"
    assert accepted == 0


def _local_addresses() -> list[str]:
    done = subprocess.run(["ip", "-4", "-o", "addr", "show"], capture_output=True, text=True, check=False)
    return [line.split()[3].split("/")[0] for line in done.stdout.splitlines() if " inet " in line]


def test_a_worker_that_does_not_load_is_an_infrastructure_error(
    runtime: WorkerdRuntime, ca_pem: str, tmp_path: Path
) -> None:
    broken = tmp_path / "interpreter.js"
    broken.write_text("export function createAdapter( {\n")

    async def scenario() -> WorkerdTransport:
        transport = WorkerdTransport(runtime, ca_pem, interpreter=broken)
        with pytest.raises(InfrastructureError, match=r"(?s)exited with code 1.*SyntaxError"):
            await transport.open()
        return transport

    transport = asyncio.run(scenario())
    assert transport.pid is None
    assert transport.directory is None


def test_a_silent_worker_times_out(runtime: WorkerdRuntime, ca_pem: str, tmp_path: Path) -> None:
    silent = tmp_path / "interpreter.js"
    silent.write_text(
        "export function createAdapter() {\n  return { handle: () => new Promise(() => {}), noteUnhandled() {} };\n}\n"
    )

    async def scenario() -> WorkerdTransport:
        transport = WorkerdTransport(runtime, ca_pem, interpreter=silent, startup_timeout=1.5)
        started = time.monotonic()
        with pytest.raises(InfrastructureError, match=r"did not answer hello within 1\.5 s"):
            await transport.open()
        assert time.monotonic() - started < 16  # 1.6 s here; without the 1.5 s limit it would wait 20 s
        return transport

    transport = asyncio.run(scenario())
    assert transport.pid is None
    assert transport.directory is None


#: A stand-in interpreter whose `owns` knows the promises its ops rejected on purpose.
OWNING_INTERPRETER = """
export function createAdapter({ name, version, runtime, capabilities }) {
  const unhandled = [];
  const mine = new Set();
  const ops = {
    hello: () => ({ status: "returned", value: { name, version, runtime, protocol: 1, capabilities } }),
    reject_own: (m) => { const p = Promise.reject(new RangeError(m.text)); mine.add(p); return { status: "returned" }; },
    reject_stray: (m) => { Promise.reject(new TypeError(m.text)); return { status: "returned" }; },
    end: () => new Promise((r) => setTimeout(() => r({ status: "returned", value: unhandled.splice(0) }), 50)),
  };
  return {
    async handle(m) { return { seq: m.seq, ...(await ops[m.op](m)) }; },
    noteUnhandled(reason) { unhandled.push(reason.message); },
    owns(promise) { return mine.has(promise); },
    get isShutDown() { return false; },
  };
}
"""


def test_concurrent_sessions_get_their_own_unhandled_rejections(
    runtime: WorkerdRuntime, ca_pem: str, tmp_path: Path
) -> None:
    """What `--adapter ws://... -n 2` does to one Worker: two live sessions. A rejection goes to
    the session that owns the promise, not to the one that opened last; one nobody owns, to both."""
    from websockets.asyncio.client import connect

    interpreter = tmp_path / "interpreter.js"
    interpreter.write_text(OWNING_INTERPRETER)

    async def scenario() -> tuple[Any, Any]:
        transport = WorkerdTransport(runtime, ca_pem, interpreter=interpreter)
        await transport.open()
        try:
            async with connect(transport.url) as first, connect(transport.url) as second:
                await first.send(json.dumps({"seq": 1, "op": "reject_own", "text": "first's"}))
                await first.recv()
                await second.send(json.dumps({"seq": 1, "op": "reject_stray", "text": "nobody's"}))
                await second.recv()
                await asyncio.sleep(0.2)
                answers = []
                for socket in (first, second):
                    await socket.send(json.dumps({"seq": 2, "op": "end"}))
                    answers.append(json.loads(await socket.recv())["value"])
                return answers[0], answers[1]
        finally:
            await transport.close()

    first, second = asyncio.run(scenario())
    assert sorted(first) == ["first's", "nobody's"]
    assert second == ["nobody's"]


def test_the_worker_takes_its_name_and_capabilities_from_its_configuration(
    runtime: WorkerdRuntime, ca_pem: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The ADAPTER binding carries what hello answers: a release's reduced capabilities reach it."""
    from conformance.adapters import workerd_config

    original = workerd_config.support_for

    def fewer(version: str) -> workerd_config.Support:
        found = original(version)
        return workerd_config.Support(version, found.compatibility_date, ("ipv6",), None)

    monkeypatch.setattr(workerd_config, "support_for", fewer)

    async def scenario() -> dict[str, Any]:
        client = AdapterClient(lambda: WorkerdTransport(runtime, ca_pem))
        hello = await client.start()
        await client.close()
        return hello.as_dict()

    hello = asyncio.run(scenario())
    assert hello["name"] == "workerd"
    assert hello["version"] == runtime.version
    assert hello["capabilities"] == ["ipv6"]
