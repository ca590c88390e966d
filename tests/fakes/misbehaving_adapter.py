"""A stdio adapter that misbehaves on purpose, steered by the id of the case it is in.

It serves the reference implementation, except in a session whose case id
contains one of these words, where the first client op after ``begin`` (or the
first op named by the id's ``-on-<op>`` suffix, e.g. ``-on-read``) gets:

- ``crash``: the process exits with code 3, answering nothing;
- ``hang``: no answer, ever;
- ``garbage``: a line that is not JSON;
- ``wrong-seq``: a response with another ``seq``;
- ``bad-response``: a response that breaks the schema (unknown status);
- ``stderr-noise``: a correct answer, after a burst of lines on stderr;
- ``wrong-shape``: ``returned`` with ``value: "x"`` (no socket where connect must name one);
- ``bad-base64``: the real answer, with the bytes of a read chunk replaced by invalid base64.

After misbehaving (any mode but ``stderr-noise``) the process refuses every later
session (``begin`` answers ``protocol_error``): a case that passes after a broken
one proves that the harness restarted the adapter.

With ``--broken-hello`` it answers ``hello`` with garbage, so it never starts.
"""

from __future__ import annotations

import asyncio
import os
import sys
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

from conformance.adapters.reference import ReferenceAdapter
from conformance.adapters.stdio_server import run

MODES = ("crash", "hang", "garbage", "wrong-seq", "bad-response", "stderr-noise", "wrong-shape", "bad-base64")


class Misbehaving:
    def __init__(self, broken_hello: bool) -> None:
        self.adapter = ReferenceAdapter()
        self.mode: str | None = None
        self.target: str | None = None
        self.poisoned = False
        self.broken_hello = broken_hello

    async def handle(self, request: dict[str, Any]) -> dict[str, Any] | None:
        op = request.get("op")
        if op == "hello" and self.broken_hello:
            sys.stdout.write("hello? who is this\n")
            sys.stdout.flush()
            return None
        if op == "begin":
            if self.poisoned:
                return {"seq": request["seq"], "status": "protocol_error", "reason": "misbehaved, not restarted"}
            case = str(request.get("case", ""))
            self.mode = next((mode for mode in MODES if mode in case), None)
            self.target = case.rsplit("-on-", 1)[1] if "-on-" in case else None
            return await self.adapter.request(request)
        if self.mode is not None and op not in ("end", "shutdown", "hello") and self.target in (None, op):
            mode, self.mode = self.mode, None
            self.poisoned = mode != "stderr-noise"
            if mode == "crash":
                os._exit(3)
            if mode == "hang":
                await asyncio.Event().wait()
            if mode == "garbage":
                sys.stdout.write("Segmentation fault? no: just garbage\n")
                sys.stdout.flush()
                return None
            if mode == "wrong-seq":
                response = await self.adapter.request(request)
                return {**response, "seq": int(request["seq"]) + 1000}
            if mode == "bad-response":
                return {"seq": request["seq"], "status": "maybe"}
            if mode == "wrong-shape":
                return {"seq": request["seq"], "status": "returned", "value": "x"}
            if mode == "bad-base64":
                response = await self.adapter.request(request)
                chunk = response.get("value", {}).get("value")
                if isinstance(chunk, dict):
                    chunk["b64"] = "not base64!"
                return response
            if mode == "stderr-noise":
                for index in range(200):
                    print(f"noise {index}", file=sys.stderr)
        return await self.adapter.request(request)


def main() -> None:
    fake = Misbehaving(broken_hello="--broken-hello" in sys.argv)
    run(fake.handle)


if __name__ == "__main__":
    main()
