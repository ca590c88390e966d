"""The harness side of the peer control protocol: a remote peer that is a drop-in `PeerSession`.

`RemotePeer` is one control connection to a peer service (`connect-conformance
peer serve`, or the docker peer's container). Its `open_session(spec,
certificates)` answers a `RemotePeerSession`, whose `perform(call)` sends the
call as its control message (`PeerCall.as_message`) and gives the typed result
`conformance_peer.PeerSession.perform` gives, so the runner drives a remote
peer exactly as it drives the in-process one. Every answer is checked against
the protocol's schema; a peer service that breaks the protocol, goes silent or
goes away raises `PeerUnavailable`.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
from types import TracebackType
from typing import Any

from conformance_peer import CertificateFiles, ListenerSpec, PeerCall, PeerResult, wire

from ..core.jsshow import show
from ..errors import InfrastructureError
from ..protocol import peer_messages

TOKEN_ENV = "CONNECT_CONFORMANCE_PEER_TOKEN"
"""The environment variable holding the token of a peer service started elsewhere."""
GRACE_S = 5.0
"""How much longer than an op's own timeout its answer may take before the service counts as silent."""
UNTIMED_OP_S = 5.0
"""shutdown_write, close and reset have no timeout; the peer finishes them within this."""
CONNECT_TIMEOUT_S = 10.0
MAX_LINE = 256 * 1024 * 1024


class PeerUnavailable(InfrastructureError, ConnectionError):
    """The peer service broke: unreachable, silent, gone, or not speaking the protocol."""


class RemotePeer:
    """One authenticated control connection; sessions of any number of lanes share it."""

    def __init__(self, address: str, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.address = address
        self._reader = reader
        self._writer = writer
        self._ids = itertools.count(1)
        self._pending: dict[int, tuple[str, asyncio.Future[dict[str, Any]]]] = {}
        self._broken: str | None = None
        self._check_requests = os.environ.get("CONNECT_CONFORMANCE_CHECK_REQUESTS") == "1"
        self._certificates: CertificateFiles | None = None
        self._certificates_lock = asyncio.Lock()
        self._reading = asyncio.create_task(self._read())

    @classmethod
    async def connect(cls, host: str, port: int, token: str, timeout: float = CONNECT_TIMEOUT_S) -> RemotePeer:
        """Connects and says hello; InfrastructureError when the service is not there or refuses."""
        address = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        try:
            async with asyncio.timeout(timeout):
                reader, writer = await asyncio.open_connection(host, port, limit=MAX_LINE)
        except (OSError, TimeoutError) as error:
            raise InfrastructureError(f"cannot reach the peer service at tcp://{address}: {error}") from None
        peer = cls(address, reader, writer)
        try:
            await peer._call("hello", timeout, protocol=wire.PROTOCOL, token=token)
        except PeerUnavailable as error:
            await peer.aclose()
            raise InfrastructureError(f"the peer service at tcp://{address} refused the run: {error}") from None
        return peer

    async def open_session(self, spec: ListenerSpec, certificates: CertificateFiles | None = None) -> RemotePeerSession:
        """Opens a session on the service, as `conformance_peer.open_session` does in process."""
        if certificates is not None:
            await self._send_certificates(certificates)
        opened = await self._call("open_session", CONNECT_TIMEOUT_S, listener=wire.listener_to_wire(spec))
        return RemotePeerSession(self, opened)

    async def _send_certificates(self, certificates: CertificateFiles) -> None:
        """Sends the run's certificates (PEM text) once; the service keeps them in memory only."""
        async with self._certificates_lock:
            if certificates == self._certificates:
                return
            pems = {
                name: {"chain": chain.read_text(encoding="ascii"), "key": key.read_text(encoding="ascii")}
                for name, (chain, key) in certificates.files.items()
            }
            await self._call("certificates", CONNECT_TIMEOUT_S, certificates=pems)
            self._certificates = certificates

    async def aclose(self) -> None:
        """Ends the control connection: the service closes every session opened through it."""
        self._fail("the control connection was closed")
        self._reading.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._reading
        self._writer.close()
        with contextlib.suppress(OSError):
            await self._writer.wait_closed()

    async def __aenter__(self) -> RemotePeer:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def _call(self, op: str, wait: float, **fields: Any) -> Any:
        return await self._request({"op": op, **fields}, wait)

    async def _request(self, request: dict[str, Any], wait: float) -> Any:
        """Sends one request and waits for its answer: the result as JSON, or the peer's error raised."""
        if self._broken is not None:
            raise PeerUnavailable(self._broken)
        request_id = next(self._ids)
        op = request["op"]
        message = {"id": request_id, **request}
        if self._check_requests:
            problem = peer_messages.request_problem(message)
            if problem:
                raise AssertionError(f"harness bug: invalid peer request {op}: {problem}")
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[request_id] = (op, future)
        try:
            self._writer.write(json.dumps(message, separators=(",", ":")).encode("utf-8") + b"\n")
            await self._writer.drain()
            async with asyncio.timeout(wait + GRACE_S):
                answer = await asyncio.shield(future)
        except TimeoutError:
            self._fail(f"the peer service at {self.address} did not answer {op} within {wait + GRACE_S:g} s")
            raise PeerUnavailable(self._broken) from None
        except ConnectionError as error:
            self._fail(f"the control connection to {self.address} broke: {error}")
            raise PeerUnavailable(self._broken) from None
        except asyncio.CancelledError:
            if not future.done() and self._broken is None:  # stop the op there too, as in process
                self._cancel_remote(request_id)
            raise
        finally:
            self._pending.pop(request_id, None)
        if answer["ok"]:
            return answer["result"]
        problem = answer["error"]
        if problem["type"] in ("ProtocolError", "Unauthorized", "InternalError"):
            raise PeerUnavailable(f"the peer service answered {op} with {problem['type']}: {problem['message']}")
        raise wire.error_from_wire(problem)

    def _cancel_remote(self, target: int) -> None:
        request_id = next(self._ids)
        with contextlib.suppress(ConnectionError, RuntimeError):
            self._writer.write(json.dumps({"id": request_id, "op": "cancel", "target": target}).encode() + b"\n")
        # Nobody waits for this answer; the reader drops it when it comes.

    async def _read(self) -> None:
        try:
            while line := await self._reader.readline():
                self._deliver(line)
        except (OSError, ValueError) as error:  # ValueError: a line longer than MAX_LINE
            self._fail(f"the control connection to {self.address} broke: {error}")
            return
        self._fail(f"the peer service at {self.address} closed the control connection")

    def _deliver(self, line: bytes) -> None:
        try:
            answer = json.loads(line)
        except ValueError:
            self._fail(f"the peer service at {self.address} sent a line that is not JSON: {show(line[:200])}")
            return
        request_id = answer.get("id") if isinstance(answer, dict) else None
        entry = self._pending.get(request_id) if isinstance(request_id, int) else None
        if entry is None:
            if request_id is None:  # the service's complaint about the connection itself
                self._fail(f"the peer service at {self.address} answered: {_complaint(answer)}")
            return  # the answer to a cancelled request, or to a cancel
        op, future = entry
        problem = peer_messages.response_problem(op, answer)
        if problem:
            self._fail(f"the peer service at {self.address} answered {op} against the protocol: {problem}")
            return
        if not future.done():
            future.set_result(answer)

    def _fail(self, reason: str) -> None:
        """Marks the connection broken: every waiting and later call raises PeerUnavailable."""
        if self._broken is None:
            self._broken = reason
        for _, future in self._pending.values():
            if not future.done():
                future.set_exception(PeerUnavailable(self._broken))
        # Closing makes the service close every session of this connection: nothing stays open there.
        self._writer.close()


class RemotePeerSession:
    """One case's peer on a peer service: `perform` and the attributes of `conformance_peer.PeerSession`."""

    def __init__(self, peer: RemotePeer, opened: dict[str, Any]) -> None:
        self._peer = peer
        self._id: str = opened["session"]
        self._closed = False
        self.port: int | None = opened["port"]
        self.refused_port: int = opened["refused_port"]
        self.variables: dict[str, object] = dict(opened["variables"])

    async def perform(self, call: PeerCall) -> PeerResult:
        """Performs `call` on the service's session: the same typed result, or error, as in process."""
        limit = call.time_limit()
        answer = await self._peer._request(
            {**call.as_message(), "session": self._id}, UNTIMED_OP_S if limit is None else limit
        )
        try:
            return call.result_from_wire(answer)
        except wire.WireError as error:  # valid for the schema, but not a result this op gives
            reason = f"the peer service at {self._peer.address} answered against the protocol: {error}"
            self._peer._fail(reason)
            raise PeerUnavailable(reason) from None

    async def aclose(self) -> None:
        """Closes the session on the service. Idempotent; quiet when the service is gone already."""
        if self._closed:
            return
        self._closed = True
        with contextlib.suppress(PeerUnavailable):
            await self._peer._call("close_session", UNTIMED_OP_S, session=self._id)

    async def __aenter__(self) -> RemotePeerSession:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()


def _complaint(answer: Any) -> str:
    """What the service said of the connection (`{"id": null, "error": ...}`), as its error says it."""
    error = answer.get("error") if isinstance(answer, dict) else None
    if isinstance(error, dict) and isinstance(error.get("type"), str) and isinstance(error.get("message"), str):
        return f"{error['type']}: {error['message'][:300]}"
    return json.dumps(answer)[:300]
