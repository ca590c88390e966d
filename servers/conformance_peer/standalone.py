"""Fixed-behaviour servers for standalone use: `serve()`, and `main()` behind
`python -m conformance_peer`, `python servers/peer.py` and `connect-conformance servers`.

Each listener has a kind (`ServerKind`, also the `--kind` choice):

| kind | behaviour |
|---|---|
| `echo` | plain TCP: writes back every byte, answers the client's FIN with ours |
| `tls` | the same over TLS from the first byte |
| `starttls` | echoes plaintext lines until `STARTTLS\r\n`, answers `OK\r\n`, upgrades, echoes |

The behaviours themselves are in `_behaviours`.
"""

import argparse
import asyncio
import json
import signal
import ssl
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, get_args

from ._behaviours import Handler, echo, starttls_echo

ServerKind = Literal["echo", "tls", "starttls"]
TLS_KINDS: tuple[ServerKind, ...] = ("tls", "starttls")


class CannotListen(OSError):
    """A listener could not be opened (port taken, no such address); names which one."""

    def __init__(self, spec: "ServerSpec", cause: OSError) -> None:
        super().__init__(f"cannot listen on {spec.host} port {spec.port}: {cause}")
        self.spec = spec


@dataclass(frozen=True)
class ServerSpec:
    """One listener to run: its kind, host and port (0 picks a free one).

    `tls` and `starttls` need `cert` (the certificate chain, PEM) and `key` (its
    private key, PEM).
    """

    kind: ServerKind = "echo"
    host: str = "127.0.0.1"
    port: int = 0
    cert: Path | None = None
    key: Path | None = None

    def __post_init__(self) -> None:
        if self.kind in TLS_KINDS and (self.cert is None or self.key is None):
            raise ValueError(f"a {self.kind} server needs a certificate: cert and key files")

    def tls_context(self) -> ssl.SSLContext | None:
        """The server's TLS context (None for `echo`); OSError when the files don't load."""
        if self.cert is None or self.key is None:
            return None
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.cert, self.key)
        return context


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
    context = spec.tls_context() if spec.kind in TLS_KINDS else None
    handler: Handler = echo
    if spec.kind == "starttls":
        assert context is not None
        handler = starttls_echo(context)

    async def tracked(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        handlers.add(task)
        try:
            await handler(reader, writer)
        finally:
            handlers.discard(task)

    try:
        return await asyncio.start_server(tracked, spec.host, spec.port, ssl=context if spec.kind == "tls" else None)
    except OSError as exc:
        raise CannotListen(spec, exc) from exc


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="conformance-peer",
        description=(
            "Run the connect() conformance peer's standalone servers. Prints one JSON line "
            'per listener, e.g. {"kind": "echo", "host": "127.0.0.1", "port": 40123}, '
            "then serves until SIGINT or SIGTERM. STARTTLS echo: plaintext lines are echoed "
            "until the line STARTTLS\\r\\n, answered OK\\r\\n; then TLS, and every byte is echoed."
        ),
    )
    p.add_argument(
        "--kind",
        action="append",
        choices=get_args(ServerKind),
        help="server behaviour; repeat for several listeners, one JSON line each (default: echo)",
    )
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default: 127.0.0.1)")
    p.add_argument(
        "--port",
        action="append",
        type=int,
        help="port to bind (default: 0, pick a free one); with several --kind, one --port each, in order",
    )
    p.add_argument("--cert", type=Path, help="certificate chain (PEM) for --kind tls/starttls")
    p.add_argument("--key", type=Path, help="its private key (PEM) for --kind tls/starttls")
    return p


def specs_from(args: argparse.Namespace, p: argparse.ArgumentParser) -> list[ServerSpec]:
    """The listeners the command line asks for; exits 2 (argparse) on a contradiction."""
    kinds: list[ServerKind] = args.kind or ["echo"]
    ports: list[int] = args.port or [0]
    if len(ports) == 1 and (ports[0] == 0 or len(kinds) == 1):
        ports = ports * len(kinds)
    if len(ports) != len(kinds):
        p.error("with several --kind, give one --port per --kind (or none, for free ports)")
    tls = [kind for kind in kinds if kind in TLS_KINDS]
    if tls and (args.cert is None or args.key is None):
        p.error(f"--kind {tls[0]} needs --cert FILE and --key FILE")
    return [
        ServerSpec(kind=kind, host=args.host, port=port, cert=args.cert, key=args.key)
        for kind, port in zip(kinds, ports, strict=True)
    ]


def main(argv: Sequence[str] | None = None) -> int:
    p = parser()
    specs = specs_from(p.parse_args(argv), p)
    tls = next((spec for spec in specs if spec.kind in TLS_KINDS), None)
    if tls is not None:
        try:
            tls.tls_context()  # fail before listening, naming the files
        except OSError as exc:  # ssl.SSLError is one too
            print(
                f"conformance-peer: cannot load --cert {tls.cert} --key {tls.key}: {exc}",
                file=sys.stderr,
            )
            return 1
    try:
        asyncio.run(_serve_until_signal(specs))
    except OSError as exc:
        print(f"conformance-peer: {exc}", file=sys.stderr)
        return 1
    return 0


async def _serve_until_signal(specs: list[ServerSpec]) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    await serve(specs, stop=stop)
