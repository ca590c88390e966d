"""The built-in adapters, as one table, and turning an ``--adapter`` value into an ``AdapterSpec``.

Every place that lists adapters reads ``BUILTINS``: the CLI's help and ``install``,
``report publish`` (which implementations are published and with which expectations
file) and the docs' table (checked by a test). Forms besides the built-in names:
``reference+<mutant>`` (a deliberately broken reference), ``stdio:CMD ARGS`` (any
program speaking the protocol on stdin/stdout), ``ws://HOST:PORT/PATH`` (a
WebSocket server speaking it) and ``ws-launch:CMD ARGS`` (a WebSocket adapter the
harness starts, one per lane, with the run's CA in its environment).

``NAME@VERSION`` (``workerd@1.20260426.1``, ``miniflare@3.20231218.0``, ``latest``
too) picks one published npm version of a built-in's package instead of its pinned
one: ``parse_versioned`` is the one parser; a version the registry does not list
is a ``UsageError``, and it is installed on demand into the npm cache.
"""

from __future__ import annotations

import importlib
import shlex
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..core.jsshow import show
from ..errors import UsageError
from .base import AdapterSpec, RunContext, launch_environment

if TYPE_CHECKING:
    from ..protocol.transports import StdioTransport, WebSocketTransport
    from .ws_launch import LaunchedWebSocketTransport

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
    #: Its file of known non-pass outcomes in ``expectations/`` (shipped in the wheel; ``report publish``
    #: passes it to ``run``, ``run --expectations NAME`` names it).
    expectations_file: str | None = None
    #: The npm package whose published versions ``NAME@VERSION`` installs (the factory gets ``version=``).
    npm_package: str | None = None
    #: Memory of one lane (its processes), in MB: ``history`` runs as many versions at once as memory allows.
    lane_mb: int = 50
    #: Size of one installed version, in MB (what ``history`` warns about before installing many).
    install_mb: int = 1

    @property
    def expectations(self) -> str | None:
        """The path of its expectations file: the wheel's copy, or the checkout's in an editable install
        (relative to the current folder when inside it, as reports record it)."""
        if self.expectations_file is None:
            return None
        from ..core.packaged import data_dir, from_here

        return str(from_here(data_dir("expectations") / self.expectations_file))


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
        expectations_file="workerd.yaml",
        npm_package="workerd",
        lane_mb=75,
        install_mb=150,
    ),
    Builtin(
        "node-socket",
        "`@arrowood.dev/socket` on Node.js",
        "conformance.adapters.node_socket:node_socket_spec",
        npm_packages="node-socket",
        expectations_file="node-socket.yaml",
        npm_package="@arrowood.dev/socket",
    ),
    Builtin(
        "miniflare",
        "Miniflare (workerd as `wrangler dev` runs it) on Node 22 from npm, one process per lane, loopback only",
        "conformance.adapters.miniflare:miniflare_spec",
        npm_packages="miniflare",
        expectations_file="miniflare.yaml",
        npm_package="miniflare",
        lane_mb=240,
        install_mb=360,
    ),
)


def sandboxable(value: str) -> bool:
    """Whether ``run`` may put this adapter in the network sandbox: every adapter the harness starts itself.

    A ``ws://`` adapter is a server someone else started: it lives outside the sandbox's network.
    """
    return not value.startswith(("ws://", "wss://"))


def builtin(name: str) -> Builtin | None:
    return next((entry for entry in BUILTINS if entry.name == name), None)


def names() -> list[str]:
    return [entry.name for entry in BUILTINS]


#: npm package sets that belong to no adapter: the drivers area's clients and bundler (conformance/drivers/).
OTHER_PACKAGE_SETS = ("drivers",)


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


def versioned_names() -> list[str]:
    """The built-ins that accept ``NAME@VERSION``."""
    return [entry.name for entry in BUILTINS if entry.npm_package]


def parse_versioned(value: str) -> tuple[Builtin, str] | None:
    """``NAME@VERSION`` as (built-in, version); ``None`` when ``value`` is not of that form.

    The version is checked only for its shape here; ``resolve_version`` checks the registry.
    """
    if value.startswith(("stdio:", "ws://", "wss://", "ws-launch:")) or "@" not in value:
        return None
    name, _, version = value.partition("@")
    entry = builtin(name)
    if entry is None or entry.npm_package is None:
        raise UsageError(
            f"--adapter {show(value)}: NAME@VERSION needs one of {', '.join(versioned_names())} as NAME, got {show(name)}"
        )
    from .npm_versions import is_version

    if version != "latest" and not is_version(version):
        raise UsageError(
            f"--adapter {show(value)}: {show(version)} is not a version (e.g. {name}@1.2.3, or {name}@latest)"
        )
    return entry, version


def resolve_version(entry: Builtin, version: str) -> str:
    """The exact published version (``latest`` resolved); installed versions need no registry (offline)."""
    from . import npm_cache, npm_versions

    assert entry.npm_package is not None
    if version != "latest" and npm_cache.is_installed(npm_cache.version_dir(entry.npm_package, version)):
        return version
    return npm_versions.published(entry.npm_package).check(version, f"--adapter {entry.name}@{version}")


def resolve(value: str) -> AdapterSpec:
    versioned = parse_versioned(value)
    if versioned is not None:
        chosen, version = versioned
        return _load(chosen)(version=resolve_version(chosen, version))
    name, plus, variant = value.partition("+")
    entry = builtin(name)
    if entry is not None and entry.name == "reference":
        if plus and variant not in mutant_names():
            raise UsageError(f"--adapter {value}: unknown mutant {show(variant)}; known: {', '.join(mutant_names())}")
        return _load(entry)(variant or None)
    if entry is not None and not plus:
        return _load(entry)()
    if value.startswith("stdio:"):
        argv = _command(value, "stdio:")
        return AdapterSpec(value, lambda context: _stdio(argv, context), default_lanes=EXTERNAL_LANES)
    if value.startswith(("ws://", "wss://")):
        return AdapterSpec(value, lambda context: _websocket(value), default_lanes=EXTERNAL_LANES)
    if value.startswith("ws-launch:"):
        launched = _command(value, "ws-launch:")
        return AdapterSpec(value, lambda context: _launched(launched, context), default_lanes=EXTERNAL_LANES)
    raise UsageError(
        f"--adapter {show(value)}: expected one of {', '.join(names())}, NAME@VERSION, reference+<mutant>, "
        "stdio:'CMD ARGS', ws-launch:'CMD ARGS' or ws://HOST:PORT/PATH"
    )


def _command(value: str, prefix: str) -> list[str]:
    try:
        argv = shlex.split(value[len(prefix) :].strip())
    except ValueError as error:
        raise UsageError(f"--adapter {show(value)}: cannot split the command: {error}") from None
    if not argv:
        raise UsageError(f"--adapter {prefix} needs a command, e.g. {prefix}'node adapter.js'")
    return argv


def _launched(argv: list[str], context: RunContext) -> LaunchedWebSocketTransport:
    from .ws_launch import LaunchedWebSocketTransport

    return LaunchedWebSocketTransport(argv, launch_environment(context))


def _stdio(argv: list[str], context: RunContext) -> StdioTransport:
    from ..protocol.transports import StdioTransport

    return StdioTransport(argv, env=launch_environment(context))


def _websocket(url: str) -> WebSocketTransport:
    from ..protocol.transports import WebSocketTransport

    return WebSocketTransport(url)
