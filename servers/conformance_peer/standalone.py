"""Fixed-behaviour servers for standalone use: `serve()`, and `main()` behind
`python -m conformance_peer`, `python servers/peer.py` and `connect-conformance servers`.

Each listener has a kind; today only `echo` (plain TCP: write back every byte,
answer the client's FIN with ours). TLS echo and STARTTLS echo slot in as more
kinds: a new entry of `ServerKind` (which is also the `--kind` choice), its
handler in `_HANDLERS`, and an SSL context passed to `start_server` in `_start`.
"""

import argparse
import asyncio
import json
import signal
import sys
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Literal, get_args

ServerKind = Literal["echo"]
Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]

READ_SIZE = 256 * 1024


@dataclass(frozen=True)
class ServerSpec:
    """One listener to run: its kind, host and port (0 picks a free one)."""

    kind: ServerKind = "echo"
    host: str = "127.0.0.1"
    port: int = 0


@dataclass(frozen=True)
class Listening:
    """A listener that is up, with the port it got."""

    kind: ServerKind
    host: str
    port: int

    def as_dict(self) -> dict[str, object]:
        return {"kind": self.kind, "host": self.host, "port": self.port}


def print_listening(listening: Listening) -> None:
    """Announces a listener as one JSON line on stdout (what scripts and the harness read)."""
    print(json.dumps(listening.as_dict()), file=sys.stdout, flush=True)


async def serve(
    specs: Sequence[ServerSpec],
    *,
    stop: asyncio.Event | None = None,
    announce: Callable[[Listening], None] = print_listening,
) -> None:
    """Runs the listeners until `stop` is set (or this task is cancelled), then closes all.

    `announce` is called once per listener, in order, once every listener is up.
    """
    handlers: set[asyncio.Task[None]] = set()
    servers: list[asyncio.Server] = []
    try:
        for spec in specs:
            servers.append(await _start(spec, handlers))
        for spec, server in zip(specs, servers, strict=True):
            host, port = server.sockets[0].getsockname()[:2]
            announce(Listening(spec.kind, host, port))
        await (stop or asyncio.Event()).wait()
    finally:
        for server in servers:
            server.close()
        for task in handlers:
            task.cancel()
        await asyncio.gather(*handlers, return_exceptions=True)
        for server in servers:
            await server.wait_closed()


async def _start(spec: ServerSpec, handlers: set[asyncio.Task[None]]) -> asyncio.Server:
    handler = _HANDLERS[spec.kind]

    async def tracked(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        handlers.add(task)
        try:
            await handler(reader, writer)
        finally:
            handlers.discard(task)

    return await asyncio.start_server(tracked, spec.host, spec.port)


async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Writes back every byte it reads; on the client's FIN closes (FIN after the last byte)."""
    try:
        while data := await reader.read(READ_SIZE):
            writer.write(data)
            await writer.drain()
    except ConnectionError:
        pass  # the client reset: nothing left to echo to
    except asyncio.CancelledError:
        writer.transport.abort()  # the server is stopping: don't wait for a slow reader
        raise
    finally:
        writer.close()


_HANDLERS: dict[ServerKind, Handler] = {"echo": echo}


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="conformance-peer",
        description=(
            "Run the connect() conformance peer's standalone servers. Prints one JSON line "
            'per listener, e.g. {"kind": "echo", "host": "127.0.0.1", "port": 40123}, '
            "then serves until SIGINT or SIGTERM."
        ),
    )
    p.add_argument("--kind", choices=get_args(ServerKind), default="echo", help="server behaviour")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default: 127.0.0.1)")
    p.add_argument("--port", type=int, default=0, help="port to bind (default: 0, pick a free one)")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    spec = ServerSpec(kind=args.kind, host=args.host, port=args.port)
    try:
        asyncio.run(_serve_until_signal([spec]))
    except OSError as exc:
        print(
            f"conformance-peer: cannot listen on {spec.host} port {spec.port}: {exc}",
            file=sys.stderr,
        )
        return 1
    return 0


async def _serve_until_signal(specs: list[ServerSpec]) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    await serve(specs, stop=stop)
