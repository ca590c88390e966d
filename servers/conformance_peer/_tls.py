"""Server-side TLS: a context for the run's certificates, and TLS over one connection through memory BIOs.

The peer runs TLS itself (an `ssl.SSLObject` between two memory BIOs) instead of
asyncio's SSL transport, because the cases need what that transport does not
give: a half-close (close_notify and FIN, then go on reading), the client's
close_notify told apart from a reset, a STARTTLS upgrade that hands the bytes
already received to TLS, and every handshake failure as a result rather than a log line.
"""

import contextlib
import functools
import re
import ssl
from pathlib import Path

from ._results import TlsInfo

READ_SIZE = 64 * 1024


class _SslObject(ssl.SSLObject):
    """An SSLObject that remembers the server name the client asked for (SNI)."""

    requested_server_name: str | None = None


def _record_sni(obj: ssl.SSLObject | ssl.SSLSocket, name: str | None, _: ssl.SSLContext) -> None:
    if isinstance(obj, _SslObject):
        obj.requested_server_name = name


def server_context(chain: Path, key: Path) -> ssl.SSLContext:
    """A server context presenting `chain`; records the client's SNI on each connection.

    One context serves every listener of the same certificate: loading a key costs more than
    a case's whole handshake. The files' contents are the cache key, so new files are read anew.
    """
    return _context(str(chain), str(key), Path(chain).read_bytes(), Path(key).read_bytes())


@functools.lru_cache(maxsize=16)
def _context(chain: str, key: str, _chain_bytes: bytes, _key_bytes: bytes) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(chain, key)
    context.sslobject_class = _SslObject
    context.sni_callback = _record_sni
    return context


def describe(exc: ssl.SSLError) -> str:
    """The error's text without the `(_ssl.c:NNNN)` suffix."""
    return re.sub(r"\s*\(_ssl\.c:\d+\)$", "", str(exc))


class TlsSession:
    """The server side of TLS on one connection: bytes from the wire in, bytes for the wire out.

    After each call, `output()` holds what must go to the client (handshake
    messages, alerts, records, close_notify).
    """

    def __init__(self, context: ssl.SSLContext) -> None:
        self._incoming = ssl.MemoryBIO()
        self._outgoing = ssl.MemoryBIO()
        self._obj = context.wrap_bio(self._incoming, self._outgoing, server_side=True)
        self.established = False
        """The handshake completed."""
        self.close_notify_received = False
        self._close_notify_sent = False

    def receive(self, data: bytes) -> tuple[bytes, str | None]:
        """Takes bytes from the wire: the plaintext they complete, and the error if TLS failed.

        Plaintext decrypted before an error is returned with it. Nothing is read
        after the client's close_notify.
        """
        if self.close_notify_received:
            return b"", None
        self._incoming.write(data)
        plain: list[bytes] = []
        error = None
        try:
            if not self.established:
                self._obj.do_handshake()
                self.established = True
            while chunk := self._obj.read(READ_SIZE):
                plain.append(chunk)
            self.close_notify_received = True  # read() gives b"" only for close_notify
        except ssl.SSLWantReadError:
            pass
        except ssl.SSLZeroReturnError:
            self.close_notify_received = True
        except ssl.SSLError as exc:
            error = describe(exc)
        return b"".join(plain), error

    def encrypt(self, data: bytes | memoryview) -> bytes:
        """The records carrying `data`."""
        self._obj.write(data)
        return self.output()

    def close_notify(self) -> bytes:
        """The close_notify alert (once; nothing before the handshake completed)."""
        if self._close_notify_sent or not self.established:
            return b""
        self._close_notify_sent = True
        # SSLWantReadError only says the client's close_notify has not come, which is fine
        with contextlib.suppress(ssl.SSLError):
            self._obj.unwrap()
        return self.output()

    def output(self) -> bytes:
        return self._outgoing.read()

    @property
    def _sni(self) -> str | None:
        return self._obj.requested_server_name if isinstance(self._obj, _SslObject) else None

    def info(self) -> TlsInfo:
        """The established session's parameters."""
        cipher = self._obj.cipher()
        return TlsInfo(
            ok=True,
            version=self._obj.version(),
            sni=self._sni,
            cipher=None if cipher is None else cipher[0],
        )

    def failed(self, error: str) -> TlsInfo:
        return TlsInfo(ok=False, sni=self._sni, error=error)
