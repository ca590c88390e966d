"""A stdio adapter that breaks one rule of the adapter protocol, for testing ``adapter-check``.

It serves the reference implementation, except for the rule named by
``--break RULE``:

- ``seq-int32``: echoes ``seq`` truncated to 31 bits, so a large seq comes back wrong;
- ``unknown-op-unsupported``: answers an unknown op with ``unsupported``;
- ``unknown-op-silent``: does not answer an unknown op at all;
- ``await-ignores-timeout``: ``await`` waits until the promise settles, whatever ``timeout_ms``;
- ``end-without-report``: ``end`` answers ``returned`` without the leak report;
- ``error-as-string``: reports a thrown error as a string instead of ``{name, message}``;
- ``stdout-log``: logs a line to stdout on every ``begin``;
- ``dies-on-bad-line``: exits when a line is not JSON (a warning only).

Unlike ``misbehaving_adapter.py`` (steered by case ids, for ``run``), each
instance breaks its rule from the start.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

from conformance.adapters.reference import ReferenceAdapter

RULES = (
    "seq-int32",
    "unknown-op-unsupported",
    "unknown-op-silent",
    "await-ignores-timeout",
    "end-without-report",
    "error-as-string",
    "stdout-log",
    "dies-on-bad-line",
)


class Breaker:
    def __init__(self, rule: str) -> None:
        self.rule = rule
        self.adapter = ReferenceAdapter()

    async def handle(self, request: dict[str, Any]) -> dict[str, Any] | None:
        op = request.get("op")
        rule = self.rule
        if rule == "await-ignores-timeout" and op == "await":
            request = {**request, "timeout_ms": 3_600_000}
        response = await self.adapter.request(request)
        if rule == "seq-int32":
            response["seq"] = int(request["seq"]) & 0x7FFFFFFF
        elif op == "frobnicate" and rule == "unknown-op-unsupported":
            response = {"seq": request["seq"], "status": "unsupported", "reason": "no such op here"}
        elif op == "frobnicate" and rule == "unknown-op-silent":
            return None
        elif op == "end" and rule == "end-without-report":
            response.pop("value", None)
        elif rule == "error-as-string" and response.get("status") in ("threw", "rejected"):
            error = response["error"]
            response["error"] = f"{error.get('name')}: {error.get('message')}"
        elif op == "begin" and rule == "stdout-log":
            sys.stdout.write(f"debug: beginning {request.get('case')}\n")
            sys.stdout.flush()
        return response


def write(data: bytes) -> None:
    sys.stdout.buffer.write(data)
    sys.stdout.buffer.flush()


async def serve(breaker: Breaker) -> None:
    reader = asyncio.StreamReader(limit=256 * 1024 * 1024)
    await asyncio.get_running_loop().connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while line := await reader.readline():
        try:
            request = json.loads(line)
        except ValueError:
            if breaker.rule == "dies-on-bad-line":
                print("cannot parse a request; giving up", file=sys.stderr, flush=True)
                os._exit(70)
            write(b'{"seq":0,"status":"protocol_error","reason":"not JSON"}\n')
            continue
        response = await breaker.handle(request)
        if response is not None:
            write(json.dumps(response, separators=(",", ":")).encode() + b"\n")
        if request.get("op") == "shutdown":
            return


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--break", dest="rule", choices=RULES, required=True)
    asyncio.run(serve(Breaker(parser.parse_args().rule)))


if __name__ == "__main__":
    main()
