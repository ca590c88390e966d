"""The built-in adapters, as one table, and turning an ``--adapter`` value into an ``AdapterSpec``.

Every place that lists adapters reads ``BUILTINS``: the CLI's help and ``install``,
``report publish`` (which implementations are published and with which expectations
file) and the docs' table (checked by a test). Forms besides the built-in names:
``reference+<mutant>`` (a deliberately broken reference), ``stdio:CMD ARGS`` (any
program speaking the protocol on stdin/stdout) and ``ws://HOST:PORT/PATH`` (a
WebSocket server speaking it).
"""

from __future__ import annotations

import importlib
import shlex
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..errors import UsageError
from .base import AdapterSpec, RunContext, launch_environment

if TYPE_CHECKING:
    from ..protocol.transports import StdioTransport, WebSocketTransport

#: Lanes ``-n auto`` gives an adapter the table does not know (a process or session each).
EXTERNAL_LANES = 4


@dataclass(frozen=True)
class Builtin:
    name: str
    summary: str
    #: ``module:function`` returning the ``AdapterSpec``; imported only when the adapter is used.
    factory: str
    #: The npm package set under ``js/packages/`` that ``install`` and first use install.
    npm_packages: str | None = None
    #: Run by ``report publish`` into ``reports/<name>/`` and shown in the matrix.
    published: bool = True
    #: Known non-pass outcomes, relative to the checkout (``report publish`` passes it to ``run``).
    expectations: str | None = None
    #: ``run`` enters the network sandbox by default where one can be made (a real runtime resolves
    #: names through the machine's resolver otherwise; docs/sandbox.md).
    sandbox: bool = False


BUILTINS: tuple[Builtin, ...] = (
    Builtin(
        "reference",
        "the embedded Python model of the documented behaviour (default)",
        "conformance.adapters.reference.launch:reference_spec",
    ),
    Builtin(
        "workerd",
        "the real runtime, npm `workerd`, one process per lane, outbound network limited to loopback",
        "conformance.adapters.workerd:workerd_spec",
        npm_packages="workerd",
        expectations="expectations/workerd.yaml",
        sandbox=True,
    ),
    Builtin(
        "node-socket",
        "`@arrowood.dev/socket` on Node.js",
        "conformance.adapters.node_socket:node_socket_spec",
        npm_packages="node-socket",
        expectations="expectations/node-socket.yaml",
        sandbox=True,
    ),
)


def builtin(name: str) -> Builtin | None:
    return next((entry for entry in BUILTINS if entry.name == name), None)


def names() -> list[str]:
    return [entry.name for entry in BUILTINS]


def npm_package_sets() -> dict[str, str]:
    """Adapter name -> its npm package set, for the adapters that have one."""
    return {entry.name: entry.npm_packages for entry in BUILTINS if entry.npm_packages}


def mutant_names() -> list[str]:
    from .reference.mutants import MUTANTS

    return sorted(MUTANTS)


def _load(entry: Builtin) -> Callable[..., AdapterSpec]:
    module, _, function = entry.factory.partition(":")
    factory: Callable[..., AdapterSpec] = getattr(importlib.import_module(module), function)
    return factory


def resolve(value: str) -> AdapterSpec:
    name, plus, variant = value.partition("+")
    entry = builtin(name)
    if entry is not None and entry.name == "reference":
        if plus and variant not in mutant_names():
            raise UsageError(f"--adapter {value}: unknown mutant {variant!r}; known: {', '.join(mutant_names())}")
        return _load(entry)(variant or None)
    if entry is not None and not plus:
        return _load(entry)()
    if value.startswith("stdio:"):
        command = value[len("stdio:") :].strip()
        try:
            argv = shlex.split(command)
        except ValueError as error:
            raise UsageError(f"--adapter {value!r}: cannot split the command: {error}") from None
        if not argv:
            raise UsageError("--adapter stdio: needs a command, e.g. stdio:'node adapter.js'")
        return AdapterSpec(value, lambda context: _stdio(argv, context), default_lanes=EXTERNAL_LANES)
    if value.startswith(("ws://", "wss://")):
        return AdapterSpec(value, lambda context: _websocket(value), default_lanes=EXTERNAL_LANES)
    raise UsageError(
        f"--adapter {value!r}: expected one of {', '.join(names())}, reference+<mutant>, "
        "stdio:'CMD ARGS' or ws://HOST:PORT/PATH"
    )


def _stdio(argv: list[str], context: RunContext) -> StdioTransport:
    from ..protocol.transports import StdioTransport

    return StdioTransport(argv, env=launch_environment(context))


def _websocket(url: str) -> WebSocketTransport:
    from ..protocol.transports import WebSocketTransport

    return WebSocketTransport(url)
