"""The SMTP server of the drivers area: aiosmtpd with STARTTLS and AUTH, run as its own process.

    python -m conformance.drivers.smtp_server --host 127.0.0.1 --port P --cert C --key K \\
        --user U --password-file F --events E

The server offers STARTTLS (the certificate C), requires TLS before AUTH and AUTH (PLAIN or
LOGIN, user U, the password in F) before MAIL, accepts every recipient and stores nothing but
a digest. It is the server's own proof of what it received:

- the reply to DATA is ``250 OK tls=<TLS version or none> bytes=<N> sha256=<hex>``, so a
  scenario can return what the server saw;
- the events file E gets one JSON line per message (``"event": "message"``: session number,
  TLS version or ``null``, login, sender, recipients, byte count and SHA-256 of the content
  as received, dots unstuffed) and one when a session ends (``"event": "session"``: its TLS
  version, login, and how many messages), which the harness reads with ``read_events``.

SIGTERM and SIGINT stop it.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import signal
import ssl
import sys
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path
from typing import Any, TextIO

EVENTS_FILE = "smtp-events.jsonl"


def version() -> str:
    try:
        return f"aiosmtpd {metadata.version('aiosmtpd')}"
    except metadata.PackageNotFoundError:
        return "aiosmtpd (version unknown)"


def read_events(path: Path) -> list[dict[str, Any]]:
    """The events the server wrote so far (a line still being written is left out)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    events: list[dict[str, Any]] = []
    for line in text.splitlines():
        try:
            event = json.loads(line)
        except ValueError:
            continue
        if isinstance(event, dict):
            events.append(event)
    return events


def _tls_version(session: Any) -> str | None:
    extra = getattr(session, "ssl", None)
    if not extra:
        return None
    ssl_object = extra.get("ssl_object")
    return str(ssl_object.version()) if ssl_object is not None else "unknown"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m conformance.drivers.smtp_server")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--cert", required=True)
    parser.add_argument("--key", required=True)
    parser.add_argument("--user", required=True)
    parser.add_argument("--password-file", required=True)
    parser.add_argument("--events", required=True)
    options = parser.parse_args(argv)
    password = Path(options.password_file).read_text(encoding="utf-8").strip().encode()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(options.cert, options.key)
    with open(options.events, "a", encoding="utf-8") as events:
        asyncio.run(_serve(options, password, context, events))
    return 0


async def _serve(options: argparse.Namespace, password: bytes, context: ssl.SSLContext, events: TextIO) -> None:
    from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

    counter = iter(range(1, 1 << 62))

    def record(event: dict[str, Any]) -> None:
        events.write(json.dumps(event, ensure_ascii=False) + "\n")
        events.flush()

    def authenticate(server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any) -> AuthResult:
        if isinstance(data, LoginPassword) and data.login == options.user.encode() and data.password == password:
            return AuthResult(success=True, auth_data=data)
        return AuthResult(success=False, handled=False)

    class Handler:
        async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
            content = envelope.original_content or b""
            digest = hashlib.sha256(content).hexdigest()
            tls = _tls_version(session)
            connection = server if isinstance(server, RecordingSMTP) else None
            record(
                {
                    "event": "message",
                    "session": connection.number if connection else None,
                    "tls": tls,
                    "login": _login(session),
                    "mail_from": envelope.mail_from,
                    "rcpt_tos": list(envelope.rcpt_tos),
                    "bytes": len(content),
                    "sha256": digest,
                }
            )
            if connection:
                connection.messages += 1
            return f"250 OK tls={tls or 'none'} bytes={len(content)} sha256={digest}"

    class RecordingSMTP(SMTP):
        """One connection. aiosmtpd makes a new ``Session`` after STARTTLS: the count lives here."""

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.number = next(counter)
            self.messages = 0

        def connection_lost(self, error: Exception | None) -> None:
            session = self.session
            record(
                {
                    "event": "session",
                    "session": self.number,
                    "tls": _tls_version(session),
                    "login": _login(session),
                    "messages": self.messages,
                }
            )
            super().connection_lost(error)

    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: RecordingSMTP(
            Handler(),
            hostname="smtp.conformance.invalid",
            tls_context=context,
            require_starttls=True,
            auth_required=True,
            auth_require_tls=True,
            authenticator=authenticate,
            data_size_limit=64 * 1024 * 1024,
            enable_SMTPUTF8=True,
            timeout=120,
        ),
        options.host,
        options.port,
    )
    stopped = asyncio.Event()
    for number in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(number, stopped.set)
    try:
        await stopped.wait()
    finally:
        server.close()


def _login(session: Any) -> str | None:
    login = getattr(getattr(session, "auth_data", None), "login", None)
    if isinstance(login, bytes):
        return login.decode("utf-8", "replace")
    return None if login is None else str(login)


if __name__ == "__main__":
    sys.exit(main())
