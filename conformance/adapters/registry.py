"""Turning an ``--adapter`` value into a way to reach the implementation.

Forms: ``reference``, ``reference+<mutant>`` (a deliberately broken reference),
``workerd`` (the real runtime, from npm), ``node-socket`` (``@arrowood.dev/socket`` on Node),
``stdio:CMD ARGS`` (any program speaking the protocol on stdin/stdout) and
``ws://HOST:PORT/PATH`` (a WebSocket server speaking it).
"""

from __future__ import annotations

import shlex

from ..errors import UsageError
from ..protocol.transports import InProcessTransport, StdioTransport, WebSocketTransport
from ..runner import AdapterSpec, RunContext

BUILTIN = ("reference", "workerd", "node-socket")


def mutant_names() -> list[str]:
    from .reference.mutants import MUTANTS

    return sorted(MUTANTS)


def launch_environment(context: RunContext) -> dict[str, str]:
    """What a spawned adapter learns at start-up (docs/adapter-protocol.md, Launch)."""
    return {"CONNECT_CONFORMANCE_CA_FILE": context.ca_file, "CONNECT_CONFORMANCE_CA_PEM": context.ca_pem}


def resolve(value: str) -> AdapterSpec:
    if value == "reference" or value.startswith("reference+"):
        mutant = value.partition("+")[2] or None
        if mutant is not None and mutant not in mutant_names():
            raise UsageError(f"--adapter {value}: unknown mutant {mutant!r}; known: {', '.join(mutant_names())}")

        def make_reference(context: RunContext) -> InProcessTransport:
            from .reference import ReferenceAdapter

            return InProcessTransport(lambda: ReferenceAdapter(mutant=mutant, ca_pem=context.ca_pem))

        return AdapterSpec(value, make_reference)
    if value == "workerd":
        from .workerd import workerd_spec

        return workerd_spec()
    if value == "node-socket":
        from .node_socket import node_socket_spec

        return node_socket_spec()
    if value.startswith("stdio:"):
        command = value[len("stdio:") :].strip()
        try:
            argv = shlex.split(command)
        except ValueError as error:
            raise UsageError(f"--adapter {value!r}: cannot split the command: {error}") from None
        if not argv:
            raise UsageError("--adapter stdio: needs a command, e.g. stdio:'node adapter.js'")
        return AdapterSpec(value, lambda context: StdioTransport(argv, env=launch_environment(context)))
    if value.startswith(("ws://", "wss://")):
        return AdapterSpec(value, lambda context: WebSocketTransport(value))
    raise UsageError(
        f"--adapter {value!r}: expected one of {', '.join(BUILTIN)}, reference+<mutant>, "
        "stdio:'CMD ARGS' or ws://HOST:PORT/PATH"
    )
