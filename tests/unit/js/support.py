"""Driving ``js/node-socket.mjs`` (and so ``js/interpreter.js``) with a fake package.

``fake_socket.mjs`` is installed as ``@arrowood.dev/socket`` in a temporary
node_modules folder, so the real stdio shell loads it the way it loads the
real package. ``NodeAdapter`` speaks the protocol to the process and checks
every response against its schema.
"""

from __future__ import annotations

import json
import os
import queue
import shutil
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

from conformance.adapters.node_socket import adapter_script
from conformance.protocol.messages import ops, response_problem

HERE = Path(__file__).resolve().parent
FAKE_VERSION = "0.0.0-fake"
ANSWER_TIMEOUT_S = 20.0


def node_or_none() -> str | None:
    return shutil.which("node") or ("/usr/local/bin/node" if Path("/usr/local/bin/node").is_file() else None)


def install_fake_package(folder: Path) -> Path:
    """A node_modules folder whose ``@arrowood.dev/socket`` is the fake."""
    package = folder / "node_modules" / "@arrowood.dev" / "socket"
    package.mkdir(parents=True)
    (package / "package.json").write_text(
        json.dumps({"name": "@arrowood.dev/socket", "version": FAKE_VERSION, "main": "index.mjs"})
    )
    shutil.copyfile(HERE / "fake_socket.mjs", package / "index.mjs")
    return folder / "node_modules"


class NodeAdapter:
    """One node-socket.mjs process; ``call`` sends a request and returns the validated response."""

    def __init__(self, node: str, modules: Path) -> None:
        env = {**os.environ, "CONNECT_CONFORMANCE_NODE_MODULES": str(modules), "CONNECT_CONFORMANCE_PROTOCOL": "1"}
        self.process = subprocess.Popen(
            [node, str(adapter_script())],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
        )
        self._lines: queue.Queue[bytes] = queue.Queue()
        self.stderr: list[str] = []
        self._seq = 0
        threading.Thread(target=self._pump_stdout, daemon=True).start()
        threading.Thread(target=self._pump_stderr, daemon=True).start()

    def _pump_stdout(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self._lines.put(line)
        self._lines.put(b"")

    def _pump_stderr(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.stderr.append(line.decode("utf-8", "replace"))

    def send_line(self, line: bytes) -> dict[str, Any]:
        assert self.process.stdin is not None
        self.process.stdin.write(line)
        self.process.stdin.flush()
        try:
            raw = self._lines.get(timeout=ANSWER_TIMEOUT_S)
        except queue.Empty:
            raise AssertionError(f"no answer within {ANSWER_TIMEOUT_S} s; stderr: {''.join(self.stderr)}") from None
        assert raw, f"the adapter closed its stdout; stderr: {''.join(self.stderr)}"
        assert raw.endswith(b"\n")
        answer: dict[str, Any] = json.loads(raw)
        return answer

    def call(self, op: str, **fields: Any) -> dict[str, Any]:
        self._seq += 1
        request = {"seq": self._seq, "op": op, **fields}
        answer = self.send_line(json.dumps(request, separators=(",", ":")).encode() + b"\n")
        assert answer["seq"] == self._seq, answer
        # A malformed request's protocol_error is outside some schemas (hello allows only returned).
        if op in ops() and answer.get("status") != "protocol_error":
            problem = response_problem(op, answer)
            assert problem is None, f"{op} response does not validate: {problem}: {str(answer)[:300]}"
        return answer

    def session(self, case: str = "js.unit") -> None:
        assert self.call("begin", case=case)["status"] == "returned"

    def connect(self, address: Any, options: Any = None) -> str:
        fields: dict[str, Any] = {"address": address}
        if options is not None:
            fields["options"] = options
        answer = self.call("connect", **fields)
        assert answer["status"] == "returned", answer
        handle: str = answer["value"]["socket"]
        return handle

    def wait_exit(self, timeout: float) -> int | None:
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)
        for stream in (self.process.stdin, self.process.stdout, self.process.stderr):
            if stream is not None:
                stream.close()


def elapsed(start: float) -> float:
    return time.monotonic() - start
