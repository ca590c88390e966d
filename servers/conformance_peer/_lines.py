"""The control channel's framing: one message per line, each read under the limit its caller sets.

The limit is per call because it changes with trust: a few KiB before the
client has said hello with the token, the large one after. The reader never
takes more from the socket than the limit needs to decide (a hello that is too
long is noticed after limit + 1 bytes, not after the 250 MB a client may be
sending), and a line is decoded from the buffer it arrived in, without a copy of
the raw bytes.
"""

import asyncio

READ_CHUNK = 64 * 1024
"""The most taken from the stream at a time; the control server gives its streams this buffer limit too."""


class FramingError(Exception):
    """The line cannot be a message (too long, not UTF-8): the connection's framing is lost."""


class LineReader:
    def __init__(self, reader: asyncio.StreamReader) -> None:
        self._reader = reader
        self._buffer = bytearray()

    async def next(self, limit: int) -> str | None:
        """The next line, without its newline, as text; None at the end of the stream.

        FramingError when the line is longer than `limit` bytes or is not UTF-8.
        A last line without a newline is dropped: the client ended mid-message.
        """
        searched = 0
        while True:
            end = self._buffer.find(b"\n", searched)
            if end >= 0:
                if end > limit:
                    raise FramingError(f"a line is over {limit} bytes")
                return self._take(end)
            if len(self._buffer) > limit:
                raise FramingError(f"a line is over {limit} bytes")
            searched = len(self._buffer)
            chunk = await self._reader.read(min(READ_CHUNK, limit + 1 - len(self._buffer)))
            if not chunk:
                return None
            self._buffer += chunk

    def _take(self, end: int) -> str:
        try:
            with memoryview(self._buffer) as whole, whole[:end] as line:
                return str(line, "utf-8")
        except UnicodeDecodeError as exc:
            raise FramingError(f"a line is not UTF-8 ({exc.reason} at byte {exc.start})") from None
        finally:
            del self._buffer[: end + 1]
