"""The adapter kit for Python: an implementation of ``connect()`` supplies its socket operations,
the kit speaks the adapter protocol (docs/adapters.md, "The Python kit").

It is the Python twin of the JavaScript kit (``conformance/adapters/js/interpreter.js`` and
``stdio.js``): the message loop, seq, timeouts, values, errors, handles, pending promises, the
session's unhandled rejections and ``end``. A complete stdio adapter::

    from conformance.adapter_kit import create_adapter, run_stdio
    from my_sockets import connect      # connect(address[, options]) -> a socket

    run_stdio(create_adapter(name="my-sockets", version="1.0.0", runtime="CPython 3.12", connect=connect))

and the harness runs it with ``--adapter stdio:'python my_adapter.py'``.
"""

from ..core.jsvalues import JSURL, UNDEFINED, JSBigInt, JSBytes
from .errors import JSError, JSThrow, ProtocolError, Unsupported
from .interpreter import OPS, Adapter, create_adapter
from .stdio import run_stdio, serve_stdio

__all__ = [
    "JSURL",
    "OPS",
    "UNDEFINED",
    "Adapter",
    "JSBigInt",
    "JSBytes",
    "JSError",
    "JSThrow",
    "ProtocolError",
    "Unsupported",
    "create_adapter",
    "run_stdio",
    "serve_stdio",
]
