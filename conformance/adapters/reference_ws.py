"""The reference implementation as a WebSocket adapter: ``ws-launch:python -m conformance.adapters.reference_ws``.

A model for third-party WebSocket adapters, and the proof that ``ws-launch:``
hands a WebSocket adapter the run's CA: it listens on loopback, prints its
``ws://`` URL as its first line on stdout (what ``ws-launch:`` reads), and serves
each connection (a case session, or the ``hello`` connection) with a fresh
``ReferenceAdapter``. The CA comes from the launch environment, as for
``reference_stdio``; started by hand without it, it declares no ``tls``/``starttls``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import signal
import sys
from typing import Any

from ..protocol.transports import MAX_LINE
from .reference import ReferenceAdapter
from .reference_stdio import launch_ca_pem


async def _session(connection: Any, mutant: str | None, ca_pem: str | None) -> None:
    adapter = ReferenceAdapter(mutant=mutant, ca_pem=ca_pem)
    try:
        async for raw in connection:
            try:
                request = json.loads(raw)
            except ValueError:
                await connection.send(json.dumps({"seq": 0, "status": "protocol_error", "reason": "not JSON"}))
                continue
            response = await adapter.request(request)
            await connection.send(json.dumps(response, separators=(",", ":")))
            if isinstance(request, dict) and request.get("op") == "shutdown":
                await connection.close()
    finally:
        await adapter.aclose()


async def serve(host: str, port: int, mutant: str | None) -> None:
    from websockets.asyncio.server import serve as websocket_server

    ca_pem = launch_ca_pem()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(sig, stop.set)

    async def handler(connection: Any) -> None:
        await _session(connection, mutant, ca_pem)

    async with websocket_server(handler, host, port, max_size=MAX_LINE, ping_interval=None) as server:
        bound = next(iter(server.sockets)).getsockname()
        shown = f"[{bound[0]}]" if ":" in bound[0] else bound[0]
        print(f"ws://{shown}:{bound[1]}/", flush=True)
        await stop.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--mutant", default=None)
    args = parser.parse_args()
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(args.host, args.port, args.mutant))
    sys.exit(0)


if __name__ == "__main__":
    main()
