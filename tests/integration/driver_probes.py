"""Minimal stdlib clients for the drivers area's servers: enough protocol to prove a server answers,
authenticates with the password it was given, and speaks TLS with the run's certificate.

PostgreSQL (SCRAM-SHA-256, a simple query), MariaDB (mysql_native_password, the SSL request),
Redis (AUTH, PING), MQTT 3.1.1 (CONNECT / CONNACK). SMTP is the stdlib's own ``smtplib``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import socket
import ssl
import struct

TIMEOUT_S = 10.0


def tls_context(ca_file: str) -> ssl.SSLContext:
    """A client context that trusts the run's CA and nothing else (a ``cafile`` replaces the system's)."""
    return ssl.create_default_context(cafile=ca_file)


def recv_exact(sock: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            raise ConnectionError(f"closed after {len(data)} of {size} bytes")
        data += chunk
    return data


# -- PostgreSQL ------------------------------------------------------------------------------------------


class PostgresError(Exception):
    def __init__(self, fields: dict[str, str]) -> None:
        self.code = fields.get("C", "")
        super().__init__(f"{fields.get('C')} {fields.get('M')}")


def _pg_message(sock: socket.socket) -> tuple[bytes, bytes]:
    kind = recv_exact(sock, 1)
    (length,) = struct.unpack("!I", recv_exact(sock, 4))
    return kind, recv_exact(sock, length - 4)


def _pg_error(payload: bytes) -> PostgresError:
    fields = {part[:1].decode(): part[1:].decode() for part in payload.split(b"\0") if part}
    return PostgresError(fields)


def _pg_expect(sock: socket.socket, kind: bytes) -> bytes:
    got, payload = _pg_message(sock)
    if got == b"E":
        raise _pg_error(payload)
    if got != kind:
        raise ConnectionError(f"expected {kind!r}, got {got!r}")
    return payload


def pg_ssl_request(sock: socket.socket) -> bytes:
    sock.sendall(struct.pack("!II", 8, 80877103))
    return recv_exact(sock, 1)


def pg_login(sock: socket.socket, user: str, password: str, database: str) -> list[str]:
    """Startup and SCRAM-SHA-256 (RFC 5802, 7677); the SASL mechanisms the server offered."""
    params = f"user\0{user}\0database\0{database}\0\0".encode()
    sock.sendall(struct.pack("!II", 8 + len(params), 196608) + params)
    payload = _pg_expect(sock, b"R")
    if struct.unpack("!I", payload[:4])[0] != 10:
        raise ConnectionError("the server did not ask for SASL")
    mechanisms = [m.decode() for m in payload[4:].split(b"\0") if m]
    nonce = base64.b64encode(os.urandom(18)).decode()
    first_bare = f"n=,r={nonce}"
    first = f"n,,{first_bare}".encode()
    body = b"SCRAM-SHA-256\0" + struct.pack("!I", len(first)) + first
    sock.sendall(b"p" + struct.pack("!I", 4 + len(body)) + body)
    payload = _pg_expect(sock, b"R")
    server_first = payload[4:].decode()
    fields = dict(item.split("=", 1) for item in server_first.split(","))
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), base64.b64decode(fields["s"]), int(fields["i"]))
    client_key = hmac.digest(salted, b"Client Key", "sha256")
    final_bare = f"c=biws,r={fields['r']}"
    signature = hmac.digest(
        hashlib.sha256(client_key).digest(), f"{first_bare},{server_first},{final_bare}".encode(), "sha256"
    )
    proof = base64.b64encode(bytes(a ^ b for a, b in zip(client_key, signature, strict=True))).decode()
    final = f"{final_bare},p={proof}".encode()
    sock.sendall(b"p" + struct.pack("!I", 4 + len(final)) + final)
    _pg_expect(sock, b"R")  # SASLFinal
    _pg_expect(sock, b"R")  # AuthenticationOk
    while True:
        kind, payload = _pg_message(sock)
        if kind == b"Z":
            return mechanisms
        if kind == b"E":
            raise _pg_error(payload)


def pg_query(sock: socket.socket, sql: str) -> list[list[str | None]]:
    """A simple query; its rows as text."""
    body = sql.encode() + b"\0"
    sock.sendall(b"Q" + struct.pack("!I", 4 + len(body)) + body)
    rows: list[list[str | None]] = []
    error: PostgresError | None = None
    while True:
        kind, payload = _pg_message(sock)
        if kind == b"D":
            (count,) = struct.unpack("!H", payload[:2])
            offset, row = 2, []
            for _ in range(count):
                (size,) = struct.unpack("!i", payload[offset : offset + 4])
                offset += 4
                row.append(None if size < 0 else payload[offset : offset + size].decode())
                offset += max(size, 0)
            rows.append(row)
        elif kind == b"E":
            error = _pg_error(payload)
        elif kind == b"Z":
            if error:
                raise error
            return rows


# -- MariaDB ---------------------------------------------------------------------------------------------

CLIENT_LONG_PASSWORD = 0x1
CLIENT_CONNECT_WITH_DB = 0x8
CLIENT_PROTOCOL_41 = 0x200
CLIENT_SSL = 0x800
CLIENT_SECURE_CONNECTION = 0x8000
CLIENT_PLUGIN_AUTH = 0x80000


class MysqlError(Exception):
    def __init__(self, errno: int, message: str) -> None:
        self.errno = errno
        super().__init__(f"{errno} {message}")


def _my_packet(sock: socket.socket) -> tuple[int, bytes]:
    header = recv_exact(sock, 4)
    return header[3], recv_exact(sock, int.from_bytes(header[:3], "little"))


def _my_send(sock: socket.socket, sequence: int, payload: bytes) -> None:
    sock.sendall(len(payload).to_bytes(3, "little") + bytes([sequence]) + payload)


def mysql_greeting(sock: socket.socket) -> tuple[int, bytes, str]:
    """The handshake: capability flags, the 20-byte scramble, the auth plugin."""
    _, payload = _my_packet(sock)
    if payload[0] != 10:
        raise ConnectionError(f"greeting {payload[:40]!r}")
    end = payload.index(b"\0", 1)
    rest = payload[end + 1 :]
    scramble = rest[4:12]
    capabilities = int.from_bytes(rest[13:15], "little")
    capabilities |= int.from_bytes(rest[18:20], "little") << 16
    tail = rest[31:]
    scramble += tail[:12]
    plugin = tail[13:].split(b"\0", 1)[0].decode()
    return capabilities, scramble, plugin


def mysql_login(
    sock: socket.socket, user: str, password: str, database: str, tls: ssl.SSLContext | None = None
) -> socket.socket:
    """Handshake (with the SSL request when ``tls``) and mysql_native_password; the socket to go on with."""
    capabilities, scramble, _ = mysql_greeting(sock)
    flags = CLIENT_LONG_PASSWORD | CLIENT_PROTOCOL_41 | CLIENT_SECURE_CONNECTION | CLIENT_PLUGIN_AUTH
    flags |= CLIENT_CONNECT_WITH_DB
    sequence = 1
    if tls is not None:
        if not capabilities & CLIENT_SSL:
            raise ConnectionError("the server does not offer TLS")
        flags |= CLIENT_SSL
        _my_send(sock, sequence, struct.pack("<IIB", flags, 1 << 24, 45) + bytes(23))
        sequence += 1
        sock = tls.wrap_socket(sock, server_hostname="localhost")
    hashed = hashlib.sha1(password.encode()).digest()
    mix = hashlib.sha1(scramble + hashlib.sha1(hashed).digest()).digest()
    answer = bytes(a ^ b for a, b in zip(hashed, mix, strict=True))
    body = struct.pack("<IIB", flags, 1 << 24, 45) + bytes(23)
    body += user.encode() + b"\0" + bytes([len(answer)]) + answer + database.encode() + b"\0"
    body += b"mysql_native_password\0"
    _my_send(sock, sequence, body)
    _, reply = _my_packet(sock)
    if reply[:1] == b"\xff":
        raise MysqlError(int.from_bytes(reply[1:3], "little"), reply[9:].decode(errors="replace"))
    if reply[:1] != b"\x00":
        raise ConnectionError(f"unexpected reply to the login: {reply[:40]!r}")
    return sock


# -- Redis -----------------------------------------------------------------------------------------------


def redis_command(sock: socket.socket, *args: str) -> bytes:
    """One command; its reply's first line (enough for AUTH, PING, simple errors)."""
    parts = [f"*{len(args)}\r\n".encode()]
    for arg in args:
        data = arg.encode()
        parts.append(f"${len(data)}\r\n".encode() + data + b"\r\n")
    sock.sendall(b"".join(parts))
    line = b""
    while not line.endswith(b"\r\n"):
        chunk = sock.recv(1)
        if not chunk:
            raise ConnectionError("closed")
        line += chunk
    return line[:-2]


# -- MQTT 3.1.1 ------------------------------------------------------------------------------------------


def _mqtt_string(text: str) -> bytes:
    data = text.encode()
    return struct.pack("!H", len(data)) + data


def mqtt_connect(sock: socket.socket, client_id: str, user: str, password: str) -> int:
    """CONNECT with user and password; the CONNACK's return code (0: accepted, 4/5: refused)."""
    variable = _mqtt_string("MQTT") + bytes([4, 0x80 | 0x40 | 0x02]) + struct.pack("!H", 30)
    payload = _mqtt_string(client_id) + _mqtt_string(user) + _mqtt_string(password)
    body = variable + payload
    assert len(body) < 128
    sock.sendall(bytes([0x10, len(body)]) + body)
    reply = recv_exact(sock, 4)
    if reply[:2] != b"\x20\x02":
        raise ConnectionError(f"not a CONNACK: {reply!r}")
    return reply[3]
