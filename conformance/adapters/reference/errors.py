"""JS exceptions in the reference model, and every literal message it can produce.

A JS program may throw or reject with *any* value, not only ``Error`` objects
(an abort reason, ``undefined``...). ``JSThrow`` carries such a value through
Python code; ``JSError`` models an ``Error`` object. ``JSError`` compares by
identity on purpose: B18 says ``opened`` and ``closed`` reject with *the same*
error object, and tests check exactly that.

The messages are kept together, copied literally from the behaviour catalogue
(``spec/behaviours.yaml``), so a wording change is one edit here.
"""

from __future__ import annotations

import secrets


class JSError:
    """A JS ``Error`` (or subclass) object: ``name`` is the constructor name."""

    __slots__ = ("message", "name")

    def __init__(self, name: str, message: str) -> None:
        self.name = name
        self.message = message

    def __repr__(self) -> str:
        return f"{self.name}({self.message!r})"


class JSThrow(Exception):
    """A JS exception in flight; ``value`` is what was thrown (any JS value)."""

    def __init__(self, value: object) -> None:
        super().__init__(value)
        self.value = value


def type_error(message: str) -> JSThrow:
    return JSThrow(JSError("TypeError", message))


# B4-B7: address validation (sync TypeError).
ADDRESS_UNPARSEABLE = "Specified address could not be parsed."
ADDRESS_MISSING_HOSTNAME = "Specified address is missing hostname."
ADDRESS_MISSING_PORT = "Specified address is missing port."
ADDRESS_INVALID_HOST = "Specified address is empty string, contains unsupported characters or is too long."

# B10: JSG integer conversion of the object form's port (sync TypeError).
PORT_NOT_INTEGER = "The value cannot be converted because it is not an integer."
PORT_NEGATIVE = "The value cannot be converted because it is negative and this API expects a positive number."
PORT_TOO_LARGE = "Value out of range. Must be less than or equal to 65535."
BIGINT_TO_NUMBER = "Cannot convert a BigInt value to a number"

# B13, B15: options (sync TypeError).
UNSUPPORTED_SECURE_TRANSPORT = "Unsupported value in secureTransport socket option: "
HIGH_WATER_MARK_NEGATIVE = (
    "The value cannot be converted because it is negative and this API expects a positive bigint."
)
HIGH_WATER_MARK_NEGATIVE_BIGINT = (
    "The value cannot be converted because it is either negative and this API expects a positive bigint, "
    "or the value would be truncated."
)
HIGH_WATER_MARK_NOT_INTEGER = "The value cannot be converted because it is not an integer."
#: B15: a number of 2^64 or more (jsg's uint64 range check, exact since workerd 1.20261119.1).
HIGH_WATER_MARK_OUT_OF_RANGE = "Value out of range. Must be less than or equal to 18446744073709551615."

# B52: WebIDL-style conversion of the arguments (sync TypeError; the type name as workerd writes it
# from 1.20261123.1, mangled before).
ADDRESS_REQUIRED = "Cannot initialize SocketAddress with required members from an undefined or null value."
OPTIONS_NOT_OBJECT = "Failed to execute 'connect' on 'SocketsModule': parameter 2 is not of type 'SocketOptions'."

# B18, B19, B21: connection failures (Error).
CONNECT_FAILED = "proxy request failed, cannot connect to the specified address"
HTTP_PORT_HINT = ". It looks like you might be trying to connect to a HTTP-based service — consider using fetch instead"
#: JSG_KJ_EXCEPTION's prefix, which B19 says the writable's abort reason carries.
KJ_DESCRIPTION_PREFIX = "jsg.Error: "
CONNECTION_LOST = "Network connection lost."

# B1: connect() where no request is being handled (module evaluation); a plain Error, thrown.
GLOBAL_SCOPE = (
    "Disallowed operation called within global scope. Asynchronous I/O (ex: fetch() or connect()), setting a "
    "timeout, and generating random values are not allowed within global scope. To fix this error, perform this "
    "operation within a handler. https://developers.cloudflare.com/workers/runtime-apis/handlers/"
)
# B2: a socket used from the handler of another request (Error); the suffix names workerd's I/O object.
CROSS_REQUEST = (
    "Cannot perform I/O on behalf of a different request. I/O objects (such as streams, request/response bodies, "
    "and others) created in the context of one request handler cannot be accessed from a different request's "
    "handler. This is a limitation of Cloudflare Workers which allows us to improve overall performance. "
    "(I/O type: {io_type})"
)


def cross_request(io_type: str) -> JSError:
    return JSError("Error", CROSS_REQUEST.format(io_type=io_type))


# B24: production refuses port 25 (the documented message).
PORT_25_PROHIBITED = "Connections to port 25 are prohibited"

# B27-B30, B38: streams (TypeError).
READABLE_LOCKED = "This ReadableStream is currently locked to a reader."
WRITABLE_LOCKED = "This WritableStream is currently locked to a writer."
READABLE_CLOSING = "This ReadableStream belongs to an object that is closing."
WRITABLE_CLOSING = "This WritableStream belongs to an object that is closing."
WRITABLE_CLOSED = "This WritableStream has been closed."
READER_RELEASED = "This ReadableStream reader has been released."
WRITER_RELEASED = "This WritableStream writer has been released."
READ_ALREADY_PENDING = "This ReadableStream only supports a single pending read request at a time."
RELEASE_WITH_PENDING_READ = "Cannot call releaseLock() on a reader with outstanding read promises."
SOCKET_CLOSED = "This socket has been closed."
#: A read after done gives done again (B27); only a mutant rejects it with this.
READABLE_CLOSED = "This ReadableStream has been closed."
NOT_BYTES = (
    "This TransformStream is being used as a byte stream, but received an object of "
    "non-ArrayBuffer/ArrayBufferView type on its writable side."
)
#: Workerd before 2026-05-28 rejected strings with this (B28); only a mutant uses it now.
STRING_NOT_BYTES = (
    "This TransformStream is being used as a byte stream, but received a string on its "
    "writable side. If you wish to write a string, you'll probably want to explicitly "
    "UTF-8-encode it with TextEncoder."
)

# B39: startTls preconditions (sync TypeError).
STARTTLS_ON_TLS_SOCKET = "Cannot startTls on a TLS socket."
STARTTLS_AFTER_CLOSE = "The connection was closed before startTls could be started."
STARTTLS_WRONG_OPTION = "The `secureTransport` socket option must be set to 'starttls' for startTls to be used."
STARTTLS_TWICE = "startTls has already been called on this socket, or the socket was transferred over RPC."
STARTTLS_OPTIONS_NOT_OBJECT = "Failed to execute 'startTls' on 'Socket': parameter 1 is not of type 'TlsOptions'."

# B40, B43: startTls's asynchronous part. A handshake or certificate failure is a
# kj error without a JS type, which JS sees as an "internal error" with a fresh id (B21).
STARTTLS_CLOSED_DURING = "The connection was closed before startTls completed."
INTERNAL_ERROR_PREFIX = "internal error; reference = "


def internal_error_message() -> str:
    """B21: "internal error; reference = <id>", with an id like workerd's (random, lower-case)."""
    alphabet = "0123456789abcdefghijklmnopqrstuv"
    return INTERNAL_ERROR_PREFIX + "".join(secrets.choice(alphabet) for _ in range(24))
