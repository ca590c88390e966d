"""A stdio adapter that sends hostile strings and values, steered by the id of the case it is in.

Stdlib only: it implements just enough of the adapter protocol for the cases of
``tests/fixtures/spec/hostile/``, which have no peer and one ``connect`` step
each. In a session whose case id contains no mode word, ``connect`` throws the
TypeError those cases expect, so they pass. In a session whose id contains one
of these words, ``connect`` throws an error (and ``end`` reports an unhandled
rejection) carrying:

- ``surrogates``: lone UTF-16 surrogates (``"\\ud800"``), as a JS runtime may produce;
- ``control-chars``: C0 and C1 control characters, an ANSI clear-screen, DEL and
  the non-characters U+FFFE/U+FFFF;
- ``nan``: bare ``NaN``, ``Infinity`` and ``-Infinity`` in the values (Python's
  json accepts them; strict JSON and Node's ``JSON.parse`` do not);
- ``bulk-stderr``: a correct answer, after 8 MiB on stderr (control
  characters, bytes that are not UTF-8, a long line without a newline).

And in the protocol's structure rather than its strings:

- ``wrong-shape``: ``connect`` "returns" a string where a socket handle must be;
- ``deep-nesting``: ``connect`` returns a value nested 100,000 arrays deep;
- ``forking-child``: the fake forks a child that keeps its stdout open (and
  writes its pid into the folder named by ``--pids``), then exits without
  answering: the harness must kill the child too, not wait for its EOF.

``--hello MODE`` also puts the mode's strings into the ``hello`` answer
(name, version, runtime), so they reach the run header of every report.

``--hang-after-hello STATE`` makes the whole process hostile: the first
process to start (it creates the file STATE) answers ``hello`` and then
nothing; every process started after it (a restart) answers nothing at all.
Each process adds a line to STATE, so a test counts the starts.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any

STRING_MODES = ("surrogates", "control-chars", "nan", "bulk-stderr")
MODES = (*STRING_MODES, "wrong-shape", "deep-nesting", "forking-child")
#: Deep enough to overflow any recursive JSON decoder's stack.
DEPTH = 100_000

EXPECTED_ERROR = {"name": "TypeError", "message": "Specified address could not be parsed."}

POISON: dict[str, str] = {
    "surrogates": "lone \ud800 high, lone \udfff low, reversed \udc00\ud800, pair 😀",
    "control-chars": "nul\x00 soh\x01 esc\x1b[2J\x1b]0;title\x07 bs\x08 vt\x0b ff\x0c del\x7f c1\x85\x9b fffe\ufffe ffff\uffff",
    "nan": "not a number",
    "bulk-stderr": "noise",
}


def poisoned_value(mode: str) -> Any:
    text = POISON[mode]
    if mode == "nan":
        return {"n": float("nan"), "inf": float("inf"), "ninf": float("-inf"), "list": [float("nan"), 1.5]}
    return {"text": text, text: [text, {"key": text}]}


def poisoned_error(mode: str) -> dict[str, Any]:
    text = POISON[mode]
    return {"name": f"TypeError {text}", "message": text, "value": poisoned_value(mode), "stack": text}


def bulk_stderr() -> None:
    err = sys.stderr.buffer
    line = b"\x1b[2J\x00\xff\xfe invalid utf-8 \xc3\x28 " * 64 + b"\n"
    for _ in range(4 * 1024 * 1024 // len(line)):
        err.write(line)
    err.write(b"x" * (4 * 1024 * 1024))  # a long last line without its newline yet
    err.write(b"\n")
    err.flush()


def fork_and_die(pids: Path) -> None:
    """A child that holds stdout open long after its parent died without an answer."""
    if os.fork() == 0:
        (pids / f"{os.getpid()}.pid").write_text(str(os.getpid()))
        time.sleep(600)
        os._exit(0)
    os._exit(1)


class Hostile:
    def __init__(self, hello_mode: str | None, pids: Path | None = None) -> None:
        self.hello_mode = hello_mode
        self.pids = pids
        self.mode: str | None = None

    def handle(self, request: dict[str, Any]) -> dict[str, Any] | None:
        seq = request.get("seq", 0)
        op = request.get("op")
        if op == "hello":
            text = POISON[self.hello_mode] if self.hello_mode else ""
            value = {
                "name": f"hostile{text}",
                "version": f"0.1{text}",
                "runtime": f"Python{text}",
                "protocol": 1,
                "capabilities": [],
            }
            return {"seq": seq, "status": "returned", "value": value}
        if op == "begin":
            case = str(request.get("case", ""))
            self.mode = next((mode for mode in MODES if mode in case), None)
            return {"seq": seq, "status": "returned"}
        if op == "connect":
            if self.mode == "wrong-shape":
                return {"seq": seq, "status": "returned", "value": "x"}
            if self.mode == "deep-nesting":
                return {"seq": seq, "status": "returned", "value": "written by main, nested"}
            if self.mode == "forking-child":
                fork_and_die(self.pids or Path("."))
            if self.mode == "bulk-stderr":
                bulk_stderr()
            if self.mode is None or self.mode == "bulk-stderr":
                return {"seq": seq, "status": "threw", "error": EXPECTED_ERROR}
            return {"seq": seq, "status": "threw", "error": poisoned_error(self.mode)}
        if op == "end":
            rejections = [poisoned_error(self.mode)] if self.mode in STRING_MODES[:3] else []
            self.mode = None
            return {"seq": seq, "status": "returned", "value": {"open_sockets": 0, "unhandled_rejections": rejections}}
        if op == "shutdown":
            return {"seq": seq, "status": "returned"}
        return {"seq": seq, "status": "unsupported", "reason": f"the hostile fake does not do {op}"}


def argument(flag: str) -> str | None:
    return sys.argv[sys.argv.index(flag) + 1] if flag in sys.argv else None


def hang_after_hello(state: Path) -> None:
    with state.open("a", encoding="utf-8") as starts:
        first = starts.tell() == 0
        starts.write(f"{os.getpid()}\n")
    for line in sys.stdin.buffer:
        request = json.loads(line)
        if first and request.get("op") == "hello":
            value = {"name": "hostile", "version": "0.1", "runtime": "Python", "protocol": 1, "capabilities": []}
            sys.stdout.write(json.dumps({"seq": request["seq"], "status": "returned", "value": value}) + "\n")
            sys.stdout.flush()


def main() -> None:
    state = argument("--hang-after-hello")
    if state:
        hang_after_hello(Path(state))
        return
    pids = argument("--pids")
    fake = Hostile(argument("--hello"), Path(pids) if pids else None)
    out = sys.stdout.buffer
    for line in sys.stdin.buffer:
        request = json.loads(line)
        response = fake.handle(request)
        if response is not None and fake.mode == "deep-nesting" and request.get("op") == "connect":
            head = json.dumps({"seq": response["seq"], "status": "returned"})[:-1].encode()
            out.write(head + b', "value": ' + b"[" * DEPTH + b"]" * DEPTH + b"}\n")
            out.flush()
        elif response is not None:
            # ensure_ascii writes lone surrogates as \\udXXX escapes, as JSON.stringify does;
            # allow_nan (the default) writes bare NaN and Infinity.
            out.write(json.dumps(response, ensure_ascii=True).encode("ascii") + b"\n")
            out.flush()
        if request.get("op") == "shutdown":
            return


if __name__ == "__main__":
    main()
