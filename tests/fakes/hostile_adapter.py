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

``--hello MODE`` also puts the mode's strings into the ``hello`` answer
(name, version, runtime), so they reach the run header of every report.

The lead adds with the protocol-client changes: wrong-shape values, deep
nesting, hang-after-hello, a forking child.
"""

from __future__ import annotations

import json
import sys
from typing import Any

MODES = ("surrogates", "control-chars", "nan", "bulk-stderr")

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


class Hostile:
    def __init__(self, hello_mode: str | None) -> None:
        self.hello_mode = hello_mode
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
            if self.mode == "bulk-stderr":
                bulk_stderr()
            if self.mode is None or self.mode == "bulk-stderr":
                return {"seq": seq, "status": "threw", "error": EXPECTED_ERROR}
            return {"seq": seq, "status": "threw", "error": poisoned_error(self.mode)}
        if op == "end":
            rejections = [] if self.mode in (None, "bulk-stderr") else [poisoned_error(self.mode)]
            self.mode = None
            return {"seq": seq, "status": "returned", "value": {"open_sockets": 0, "unhandled_rejections": rejections}}
        if op == "shutdown":
            return {"seq": seq, "status": "returned"}
        return {"seq": seq, "status": "unsupported", "reason": f"the hostile fake does not do {op}"}


def main() -> None:
    hello_mode = sys.argv[sys.argv.index("--hello") + 1] if "--hello" in sys.argv else None
    fake = Hostile(hello_mode)
    out = sys.stdout.buffer
    for line in sys.stdin.buffer:
        request = json.loads(line)
        response = fake.handle(request)
        if response is not None:
            # ensure_ascii writes lone surrogates as \\udXXX escapes, as JSON.stringify does;
            # allow_nan (the default) writes bare NaN and Infinity.
            out.write(json.dumps(response, ensure_ascii=True).encode("ascii") + b"\n")
            out.flush()
        if request.get("op") == "shutdown":
            return


if __name__ == "__main__":
    main()
