"""The fixed behaviours of the standalone servers: echo (plain or over TLS) and STARTTLS echo.

Each is an `asyncio.start_server` callback. For `tls`, the server's SSL context
has done the handshake before the callback runs; `starttls_echo` upgrades the
connection itself.
"""

import asyncio
import contextlib
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]

READ_SIZE = 256 * 1024
STARTTLS = b"STARTTLS\r\n"
"""The one line that makes `starttls_echo` upgrade."""
STARTTLS_OK = b"OK\r\n"
"""Its answer, the last plaintext bytes the server sends."""


async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Writes back every byte it reads; on the client's FIN (or close_notify) closes after the last."""
    async with _connection(writer):
        await _echo_until_eof(reader, writer)


def starttls_echo(context: ssl.SSLContext) -> Handler:
    """The STARTTLS echo protocol, with `context` as the server's TLS side.

    The client sends lines in plaintext and the server echoes each one, until a
    line is exactly `STARTTLS\\r\\n`: the server answers `OK\\r\\n` (not echoed),
    upgrades the connection to TLS server-side, then echoes every byte until EOF.
    """

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        async with _connection(writer):
            if await _echo_lines_until_starttls(reader, writer):
                writer.write(STARTTLS_OK)
                await writer.start_tls(context)
                await _echo_until_eof(reader, writer)

    return handler


async def _echo_lines_until_starttls(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
    """Echoes plaintext lines; True once `STARTTLS\\r\\n` came, False at EOF."""
    while True:
        try:
            line = await reader.readuntil(b"\n")
        except asyncio.IncompleteReadError as exc:  # EOF: echo the unfinished line, then close
            writer.write(exc.partial)
            await writer.drain()
            return False
        except asyncio.LimitOverrunError as exc:  # a very long line: echo what there is so far
            line = await reader.readexactly(exc.consumed)
        if line == STARTTLS:
            return True
        writer.write(line)
        await writer.drain()


async def _echo_until_eof(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    while data := await reader.read(READ_SIZE):
        writer.write(data)
        await writer.drain()


@contextlib.asynccontextmanager
async def _connection(writer: asyncio.StreamWriter) -> AsyncIterator[None]:
    """Closes the connection at the end; a broken one (reset, TLS failure) ends quietly."""
    try:
        yield
    except OSError:
        pass  # the client reset, or TLS failed (ssl.SSLError is an OSError): nobody to echo to
    except asyncio.CancelledError:
        writer.transport.abort()  # the server is stopping: don't wait for a slow reader
        raise
    finally:
        writer.close()
