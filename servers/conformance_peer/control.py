"""The peer as a service: a harness in another process, container or host drives it (docs/peer-protocol.md).

    python -m conformance_peer.control [--control HOST:PORT] [--once] [--first-client-timeout S]

The control channel is TCP, one JSON object per line each way. A client first
says `hello` with the token, then sends the run's certificates (kept in memfds,
see `_memfd`), opens sessions (one `ListenerSpec` each, exactly as
`open_session` takes it) and runs their ops, each a call (`calls`) that its
session performs; the answers are the ops' typed results, encoded by `wire`.
Requests run concurrently and are answered as they finish, matched by `id`.
When the control connection ends, its sessions are closed and its certificates
freed: a harness that dies leaves nothing open.

The token comes from the environment: `CONNECT_CONFORMANCE_PEER_TOKEN` (the
token itself) or `CONNECT_CONFORMANCE_PEER_TOKEN_SHA256` (its SHA-256, in hex:
what a container gets, so that its configuration does not hold the token). With
neither, a token is made and printed in the announce line.
"""

import argparse
import asyncio
import contextlib
import hashlib
import hmac
import ipaddress
import json
import os
import platform
import secrets
import signal
import ssl
import sys
import traceback
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from . import _requests, wire
from ._errors import PeerError, WireError
from ._lines import READ_CHUNK, FramingError, LineReader
from ._memfd import InMemoryCertificates
from ._rules import shown
from ._session import PeerSession, open_session
from ._spec import ListenerSpec
from ._tls import server_context
from .calls import PeerCall

TOKEN_ENV = "CONNECT_CONFORMANCE_PEER_TOKEN"
TOKEN_SHA256_ENV = "CONNECT_CONFORMANCE_PEER_TOKEN_SHA256"
MAX_LINE = 256 * 1024 * 1024
"""The longest message once a client has said hello (a `send` of 16 MiB is about 22 MB of base64)."""
HELLO_MAX_LINE = 4096
"""The longest message before that: a hello with a token of a few thousand characters still fits."""
HELLO_TIMEOUT = 3.0
"""A connection that has not said hello by then is dropped.

An honest client says hello in its first write, right after connecting, so this
only has to cover a round trip and a stalled scheduler: connecting and saying
hello take about 1 ms on a quiet machine, and 3 s leaves seconds of slack on a
loaded one or over a tunnel. It is how long a silent client holds a slot of
`MAX_GREETING`.
"""
MAX_GREETING = 16
"""How many connections may be waiting to say hello at once; a further one is answered and closed at once.

Each costs at most about 400 KiB (`HELLO_MAX_LINE`, the stream's buffer and one
read of the socket), so clients without the token hold a few MB at most. A
harness makes one control connection per run.
"""


def token_digest(token: str) -> bytes:
    return hashlib.sha256(token.encode("utf-8")).digest()


class ControlServer:
    """Serves control connections; each one owns its sessions and certificates."""

    def __init__(self, digest: bytes, once: bool = False) -> None:
        self._digest = digest
        self._once = once
        self.client_seen = asyncio.Event()
        """Set when the first client has said hello with the right token."""
        self.done = asyncio.Event()
        """Set, with `once`, when that client has gone."""
        self._connections: set[asyncio.Task[None]] = set()
        self._greeting = 0
        """Connections that have not said hello yet (bounded by MAX_GREETING)."""

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self._greeting >= MAX_GREETING:
            # Answered without reading: a flood of connections costs a few bytes each, not a buffer.
            _write_line(writer, _complaint(f"{MAX_GREETING} connections are waiting to say hello already"))
            writer.close()
            return
        self._greeting += 1
        task = asyncio.current_task()
        assert task is not None
        self._connections.add(task)
        try:
            await _Connection(self, reader, writer).run()
        except asyncio.CancelledError:
            # Cancelled only when the service stops, and its teardown has run by then. Ending normally
            # spares Python 3.11's streams from logging a cancelled handler as an unhandled exception.
            pass
        finally:
            self._connections.discard(task)

    def greeted(self) -> None:
        """A connection is done saying hello (welcomed or not): its slot is free."""
        self._greeting -= 1

    def authenticate(self, token: object) -> bool:
        if not isinstance(token, str):
            return False
        try:
            digest = token_digest(token)
        except UnicodeEncodeError:  # a lone surrogate: no token is that
            return False
        return hmac.compare_digest(digest, self._digest)

    def client_left(self) -> None:
        if self._once:
            self.done.set()

    async def aclose(self) -> None:
        """Ends every connection (closing their sessions)."""
        for task in self._connections:
            task.cancel()
        await asyncio.gather(*self._connections, return_exceptions=True)


class _Connection:
    def __init__(self, server: ControlServer, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._server = server
        self._lines = LineReader(reader)
        self._writer = writer
        self._sessions: dict[str, PeerSession] = {}
        self._requests: dict[int, asyncio.Task[None]] = {}
        self._certificates: InMemoryCertificates | None = None
        self._opened = 0
        self._closing = False

    async def run(self) -> None:
        authenticated = False
        try:
            try:
                authenticated = await self._hello()
            finally:
                self._server.greeted()
            if not authenticated:
                return
            self._server.client_seen.set()
            while message := await self._next(MAX_LINE):
                self._start(message)
        except ConnectionError:
            pass
        except Exception as exc:
            # A bug of the service, not of the client: said to the client, shown to whoever runs
            # the service, and the other connections go on.
            self._write({"id": None, "ok": False, "error": wire.error_to_wire(exc)})
            traceback.print_exc()
        finally:
            self._closing = True
            await self._teardown()
            if authenticated:
                self._server.client_left()

    async def _next(self, limit: int) -> dict[str, Any] | None:
        """The next request; None at the end of the connection or after a framing error (answered)."""
        try:
            line = await self._lines.next(limit)
        except FramingError as exc:
            await self._send(_complaint(str(exc)))
            return None
        if line is None:
            return None
        try:
            message = json.loads(line, parse_constant=_refuse_constant)
        except RecursionError:
            await self._send(_complaint("a line is not JSON this peer reads: it nests too deep"))
            return None
        except ValueError:
            await self._send(_complaint("a line is not JSON"))
            return None
        if not isinstance(message, dict):
            await self._send(_complaint(f"a request is a JSON object, not {shown(message)}"))
            return None
        try:
            _requests.REQUEST_ID.parse(message.get("id"), "id")
        except WireError as exc:
            await self._send(_complaint(f"a request needs an id: {exc}"))
            return None
        return message

    async def _hello(self) -> bool:
        try:
            async with asyncio.timeout(HELLO_TIMEOUT):
                message = await self._next(HELLO_MAX_LINE)
        except TimeoutError:
            await self._send(_complaint(f"no hello within {HELLO_TIMEOUT:g} s"))
            return False
        if message is None:
            return False
        answer: dict[str, Any] = {"id": message["id"], "ok": False}
        protocol = message.get("protocol")
        if message.get("op") != "hello":
            answer["error"] = _protocol_error("the first request must be hello")
        elif not self._server.authenticate(message.get("token")):
            answer["error"] = {"type": "Unauthorized", "message": "wrong token: this peer serves only its own harness"}
        elif not (type(protocol) is int and protocol == wire.PROTOCOL):
            # Said before any other field is judged: a newer harness's hello may well have more of them.
            answer["error"] = _protocol_error(
                f"this peer speaks control protocol {wire.PROTOCOL}, not {shown(protocol)}"
            )
        else:
            try:
                _requests.parse(message)
            except WireError as exc:
                answer["error"] = _protocol_error(str(exc))
            else:
                answer = {
                    "id": message["id"],
                    "ok": True,
                    "result": {
                        "protocol": wire.PROTOCOL,
                        "python": platform.python_version(),
                        "openssl": ssl.OPENSSL_VERSION,
                    },
                }
        await self._send(answer)
        return bool(answer["ok"])

    def _start(self, message: dict[str, Any]) -> None:
        request_id: int = message["id"]
        try:
            op, fields = _requests.parse(message)
        except (WireError, PeerError) as exc:  # PeerError: UnsupportedListener, a listener field this peer lacks
            self._answer_soon(request_id, None, wire.error_to_wire(exc))
            return
        if op == "cancel":  # answered at once: it must overtake the request it cancels
            target = self._requests.get(fields["target"])
            if target is not None:
                target.cancel()
            self._answer_soon(request_id, {"cancelled": target is not None})
            return
        if request_id in self._requests:
            self._answer_soon(request_id, None, _protocol_error(f"request id {request_id} is already in use"))
            return
        task = asyncio.create_task(self._dispatch(request_id, op, fields))
        self._requests[request_id] = task
        task.add_done_callback(lambda done: self._finished(request_id, done))

    def _finished(self, request_id: int, task: asyncio.Task[None]) -> None:
        self._requests.pop(request_id, None)
        # A cancelled request is answered here: it may have been cancelled before it ever ran.
        if task.cancelled() and not self._closing:
            self._write(
                {"id": request_id, "ok": False, "error": {"type": "Cancelled", "message": "cancelled by the client"}}
            )

    def _answer_soon(self, request_id: int, result: Any, error: dict[str, Any] | None = None) -> None:
        answer = {"id": request_id, "ok": False, "error": error} if error else {"id": request_id, "ok": True}
        if not error:
            answer["result"] = result
        self._write(answer)

    async def _dispatch(self, request_id: int, op: str, fields: dict[str, Any]) -> None:
        try:
            result = await self._perform(op, fields)
        except Exception as exc:
            await self._send({"id": request_id, "ok": False, "error": wire.error_to_wire(exc)})
            return
        await self._send({"id": request_id, "ok": True, "result": result})

    async def _perform(self, op: str, fields: dict[str, Any]) -> Any:
        if op == "hello":
            raise WireError("hello comes once, as the first request")
        if op == "certificates":
            return self._load_certificates(fields["certificates"])
        if op == "open_session":
            return await self._open_session(fields["listener"])
        if op == "close_session":
            session = self._sessions.pop(fields["session"], None)
            if session is not None:
                await session.aclose()
            return None
        return await self._session_op(fields["session"], fields["args"])

    def _load_certificates(self, certificates: dict[str, dict[str, str]]) -> dict[str, Any]:
        loaded = InMemoryCertificates({name: (pair["chain"], pair["key"]) for name, pair in certificates.items()})
        try:
            for name, (chain, key) in loaded.files.files.items():
                try:
                    server_context(chain, key)  # fail now, naming the certificate, not in a later session
                except (OSError, ssl.SSLError) as exc:
                    raise PeerError(f"the {name!r} certificate does not load: {exc}") from None
        except BaseException:
            loaded.close()
            raise
        if self._certificates is not None:
            self._certificates.close()
        self._certificates = loaded
        return {"names": sorted(certificates)}

    async def _open_session(self, spec: ListenerSpec) -> dict[str, Any]:
        certificates = self._certificates.files if self._certificates is not None else None
        session = await open_session(spec, certificates)
        self._opened += 1
        name = str(self._opened)
        self._sessions[name] = session
        return {
            "session": name,
            "port": session.port,
            "refused_port": session.refused_port,
            "variables": dict(session.variables),
        }

    async def _session_op(self, name: str, call: PeerCall) -> Any:
        session = self._sessions.get(name)
        if session is None:
            raise WireError(f"no open session {shown(name)}")
        return call.result_to_wire(await session.perform(call))

    async def _teardown(self) -> None:
        requests = list(self._requests.values())
        for task in requests:
            task.cancel()
        await asyncio.gather(*requests, return_exceptions=True)
        sessions, self._sessions = list(self._sessions.values()), {}
        await asyncio.gather(*(session.aclose() for session in sessions), return_exceptions=True)
        if self._certificates is not None:
            self._certificates.close()
            self._certificates = None
        self._writer.close()
        with contextlib.suppress(OSError):
            await self._writer.wait_closed()

    def _write(self, message: dict[str, Any]) -> None:
        _write_line(self._writer, message)

    async def _send(self, message: dict[str, Any]) -> None:
        self._write(message)
        with contextlib.suppress(ConnectionError):
            await self._writer.drain()


def _write_line(writer: asyncio.StreamWriter, message: dict[str, Any]) -> None:
    if not writer.is_closing():
        writer.write(json.dumps(message, separators=(",", ":")).encode("utf-8") + b"\n")


def _protocol_error(message: str) -> dict[str, str]:
    return {"type": "ProtocolError", "message": message}


def _complaint(message: str) -> dict[str, Any]:
    """The answer to a line that is no request at all: the connection is closed after it."""
    return {"id": None, "ok": False, "error": _protocol_error(message)}


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def parse_address(value: str) -> tuple[str, int]:
    """`HOST:PORT` or `[IPv6]:PORT` with an IP literal (binding never asks a resolver)."""
    host, sep, port = value.rpartition(":")
    host = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    try:
        ipaddress.ip_address(host)
        number = int(port)
    except ValueError:
        raise ValueError(
            f"expected HOST:PORT with an IP address, like 127.0.0.1:0 or [::1]:7000, not {value!r}"
        ) from None
    if not sep or not 0 <= number <= 65535:
        raise ValueError(f"expected HOST:PORT with a port from 0 to 65535, not {value!r}")
    return host, number


async def serve_control(
    host: str,
    port: int,
    digest: bytes,
    *,
    once: bool = False,
    first_client_timeout: float | None = None,
    stop: asyncio.Event | None = None,
    announce: Callable[[str, int], None] = lambda host, port: None,
) -> bool:
    """Serves until `stop` is set, or (with `once`) the first client has gone.

    Returns False when no client said hello within `first_client_timeout`.
    """
    server = ControlServer(digest, once=once)
    listener = await asyncio.start_server(server.handle, host, port, limit=READ_CHUNK)
    bound_host, bound_port = listener.sockets[0].getsockname()[:2]
    announce(bound_host, bound_port)
    waits = [asyncio.ensure_future(server.done.wait()), asyncio.ensure_future((stop or asyncio.Event()).wait())]
    client_came = True
    try:
        if first_client_timeout is not None:
            seen = asyncio.ensure_future(server.client_seen.wait())
            finished, _ = await asyncio.wait(
                [seen, *waits], timeout=first_client_timeout, return_when="FIRST_COMPLETED"
            )
            client_came = bool(finished)
            seen.cancel()
        if client_came:
            await asyncio.wait(waits, return_when="FIRST_COMPLETED")
    finally:
        for wait in waits:
            wait.cancel()
        listener.close()
        await server.aclose()
        await listener.wait_closed()
    return client_came


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="conformance-peer-control",
        description=(
            "Run the conformance peer as a service driven by a harness over a control channel "
            "(docs/peer-protocol.md). Prints one JSON line once listening, then serves until SIGINT or SIGTERM."
        ),
    )
    p.add_argument(
        "--control",
        default="127.0.0.1:0",
        metavar="HOST:PORT",
        help="where the control channel listens (default 127.0.0.1:0: loopback, a free port)",
    )
    p.add_argument("--once", action="store_true", help="exit when the first client that said hello has gone")
    p.add_argument(
        "--first-client-timeout",
        type=float,
        metavar="S",
        help="exit 1 when no client has said hello after S seconds",
    )
    return p


def main(argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None) -> int:
    p = parser()
    args = p.parse_args(argv)
    try:
        host, port = parse_address(args.control)
    except ValueError as exc:
        p.error(str(exc))
    env = os.environ if environ is None else environ
    announced: dict[str, Any] = {"protocol": wire.PROTOCOL}
    if env.get(TOKEN_ENV):
        digest = token_digest(env[TOKEN_ENV])
    elif env.get(TOKEN_SHA256_ENV):
        try:
            digest = bytes.fromhex(env[TOKEN_SHA256_ENV])
        except ValueError:
            p.error(f"{TOKEN_SHA256_ENV} must be a SHA-256 digest in hex")
        if len(digest) != hashlib.sha256().digest_size:
            p.error(f"{TOKEN_SHA256_ENV} must be a SHA-256 digest in hex")
    else:
        token = secrets.token_urlsafe(32)
        digest = token_digest(token)
        announced["token"] = token
    if not ipaddress.ip_address(host).is_loopback:
        print(
            f"conformance-peer-control: the control channel listens on {host}, beyond this machine's loopback: "
            "whoever reaches it with the token can open listeners here (docs/peer-protocol.md, Exposing it)",
            file=sys.stderr,
        )

    def announce(bound_host: str, bound_port: int) -> None:
        shown = f"[{bound_host}]" if ":" in bound_host else bound_host
        line = {"control": f"{shown}:{bound_port}", "host": bound_host, "port": bound_port, **announced}
        print(json.dumps(line), flush=True)

    try:
        came = asyncio.run(_serve_until_signal(host, port, digest, args.once, args.first_client_timeout, announce))
    except OSError as exc:
        print(f"conformance-peer-control: cannot listen on {args.control}: {exc}", file=sys.stderr)
        return 1
    if not came:
        print(f"conformance-peer-control: no client within {args.first_client_timeout:g} s", file=sys.stderr)
        return 1
    return 0


async def _serve_until_signal(
    host: str,
    port: int,
    digest: bytes,
    once: bool,
    first_client_timeout: float | None,
    announce: Callable[[str, int], None],
) -> bool:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    return await serve_control(
        host, port, digest, once=once, first_client_timeout=first_client_timeout, stop=stop, announce=announce
    )


if __name__ == "__main__":
    raise SystemExit(main())
