"""The standalone echo server: `python servers/peer.py`, `python -m conformance_peer`, serve()."""

import asyncio
import json
import os
import select
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from conformance_peer import Listening, ServerSpec, serve

SERVERS = Path(__file__).resolve().parents[3] / "servers"


@contextmanager
def started(*command: str) -> Iterator[tuple[subprocess.Popen[str], dict[str, Any]]]:
    """Starts the peer, yields it with its first JSON line; kills it (by PID) if still running."""
    env = {**os.environ, "PYTHONPATH": str(SERVERS)}
    with subprocess.Popen(
        [sys.executable, *command],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    ) as proc:
        try:
            assert proc.stdout is not None
            ready, _, _ = select.select([proc.stdout], [], [], 10)
            assert ready, "the peer printed no JSON line within 10 s"
            yield proc, json.loads(proc.stdout.readline())
        finally:
            if proc.poll() is None:
                proc.kill()  # only on failure: the test itself stops it with a signal


def echo_once(port: int, payload: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(payload)
        sock.shutdown(socket.SHUT_WR)
        parts = []
        while chunk := sock.recv(65536):
            parts.append(chunk)
        return b"".join(parts)


@pytest.mark.parametrize(
    ("command", "signum"),
    [
        ((str(SERVERS / "peer.py"),), signal.SIGTERM),
        (("-m", "conformance_peer"), signal.SIGINT),
    ],
    ids=["script-sigterm", "module-sigint"],
)
def test_echo_server_announces_echoes_and_stops_cleanly(command: tuple[str, ...], signum: signal.Signals) -> None:
    with started(*command) as (proc, line):
        assert line["kind"] == "echo"
        assert line["host"] == "127.0.0.1"
        assert isinstance(line["port"], int)
        assert line["port"] > 0
        payload = bytes(range(256)) * 1000
        assert echo_once(line["port"], payload) == payload
        proc.send_signal(signum)
        assert proc.wait(timeout=5) == 0
        assert proc.stderr is not None
        assert proc.stderr.read() == ""
    with pytest.raises(ProcessLookupError):
        os.kill(proc.pid, 0)  # reaped: no such process any more
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", line["port"]), timeout=2)


def test_a_port_in_use_exits_1_with_a_message() -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        result = subprocess.run(
            [sys.executable, str(SERVERS / "peer.py"), "--port", str(port)],
            capture_output=True,
            text=True,
            timeout=10,
        )
    assert result.returncode == 1
    assert f"cannot listen on 127.0.0.1 port {port}" in result.stderr
    assert result.stdout == ""


def test_serve_in_process_announces_echoes_and_returns_on_stop(run: Any) -> None:
    async def scenario() -> list[Listening]:
        tasks_before = asyncio.all_tasks()
        stop = asyncio.Event()
        up: list[Listening] = []
        announced = asyncio.Event()

        def announce(listening: Listening) -> None:
            up.append(listening)
            announced.set()

        serving = asyncio.create_task(serve([ServerSpec()], stop=stop, announce=announce))
        await asyncio.wait_for(announced.wait(), 5)
        reader, writer = await asyncio.open_connection("127.0.0.1", up[0].port)
        writer.write(b"marco")
        assert await reader.readexactly(5) == b"marco"
        # a client still connected must not keep the server from stopping
        stop.set()
        await asyncio.wait_for(serving, 5)
        assert await asyncio.wait_for(reader.read(), 1) == b""
        writer.close()
        assert asyncio.all_tasks() == tasks_before
        return up

    up = run(scenario())
    assert [(item.kind, item.host) for item in up] == [("echo", "127.0.0.1")]
    assert up[0].as_dict() == {"kind": "echo", "host": "127.0.0.1", "port": up[0].port}
