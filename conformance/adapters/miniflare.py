"""``--adapter miniflare`` (and ``miniflare@VERSION``): Miniflare, which runs Workers locally on workerd.

The adapter is ``js/miniflare.mjs``, a stdio process that starts Miniflare with the
adapter Worker (``js/workerd-worker.js`` + ``js/interpreter.js``, the same Worker the
workerd adapter runs) and relays the protocol's lines to it, a WebSocket per case
session. One process (one Miniflare, one workerd) per lane. It runs on the Node.js of
the ``miniflare`` package set (Node 22 from the npm registry, pinned in its lockfile),
whatever Node the machine has: the newest Miniflare needs Node 22.

What the Worker is told (its ``ADAPTER`` binding): name ``miniflare``, the Miniflare
version, a runtime string naming the bundled workerd and Node versions, and the
capabilities and compatibility date of the bundled workerd release
(``workerd_config.support_for``). The run's CA reaches Miniflare through the
launch environment (``CONNECT_CONFORMANCE_CA_PEM``), and connect() is limited to
loopback by the Worker's outbound service. With the drivers area's bundles (``RunContext.drivers``,
the same ones workerd runs) Miniflare gets a second Worker, the drivers profile, as the workerd
adapter does (``workerd_config.with_drivers``): the adapter Worker's modules and the bundles, with
the compatibility flags the drivers need at the bundled workerd's date (``driver_flags``).
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

from .. import sandbox
from ..errors import InfrastructureError
from ..protocol.transports import StdioTransport
from . import npm_cache
from .base import AdapterSpec, RunContext, launch_environment
from .workerd_config import INTERPRETER_MODULES, driver_flags, driver_module, support_for

NAME = "miniflare"
#: The adapter Worker's main module in ``js/`` (workerd embeds it as ``worker.js``).
ADAPTER_WORKER = "workerd-worker.js"
#: A Node process and a workerd process per lane (about 160 + 80 MB resident, measured here).
LANES = 6


def adapter_script() -> Path:
    return Path(str(resources.files(__package__).joinpath("js", "miniflare.mjs")))


def _version_of(folder: Path, what: str) -> str:
    try:
        return str(json.loads((folder / "package.json").read_text(encoding="utf-8"))["version"])
    except (OSError, ValueError, KeyError) as error:
        raise InfrastructureError(f"cannot read the version of {what} in {folder}: {error}") from None


def bundled_workerd(package: Path) -> Path:
    """The ``workerd`` package Miniflare resolves: its own nested copy, else the hoisted one."""
    for candidate in (package / "node_modules" / "workerd", package.parent / "workerd"):
        if (candidate / "package.json").is_file():
            return candidate
    raise InfrastructureError(f"Miniflare in {package} has no workerd package next to it")


def node_binary(modules: Path) -> Path:
    """The Node.js of the pinned package set (the registry's ``node`` package)."""
    binary = modules / "node" / "bin" / "node"
    if not binary.is_file():
        raise InfrastructureError(f"the miniflare package set has no Node.js binary at {binary}")
    return binary


def worker_info(package: Path, node_version: str) -> dict[str, object]:
    """The ``ADAPTER`` binding of the Worker under this Miniflare, and its compatibility date."""
    version = _version_of(package, "miniflare")
    workerd = _version_of(bundled_workerd(package), "workerd")
    support = support_for(workerd)
    if support.unusable:
        raise InfrastructureError(f"miniflare {version} bundles workerd {workerd}, which {support.unusable}")
    return {
        "name": NAME,
        "version": version,
        "runtime": f"workerd {workerd} (Miniflare {version}, Node {node_version})",
        # A global-scope connect needs a runtime of its own, which the stdio relay does not start.
        "capabilities": [name for name in support.capabilities if name != "global-scope"],
        "compatibility_date": support.compatibility_date,
        # The adapter Worker and what it imports, listed: Miniflare cannot follow its dynamic imports.
        "modules": [ADAPTER_WORKER, *INTERPRETER_MODULES],
    }


def miniflare_spec(version: str | None = None) -> AdapterSpec:
    """Install Miniflare (the pinned one, or ``version`` on demand) and its Node now, a process per lane later."""
    pinned = npm_cache.ensure(NAME)
    modules = npm_cache.ensure_version(NAME, version) if version else pinned
    node = node_binary(pinned)
    node_version = _version_of(pinned / "node", "node")
    package = modules / "miniflare"
    info = worker_info(package, f"v{node_version}")
    script = adapter_script()
    if not script.is_file():
        raise InfrastructureError(f"the miniflare adapter script is missing: {script}")

    def make_transport(context: RunContext) -> StdioTransport:
        env = {
            **launch_environment(context),
            "CONNECT_CONFORMANCE_MINIFLARE": str(package),
            # Inside the network sandbox, its Cloudflare addresses too (see sandbox.runtime_allow).
            "CONNECT_CONFORMANCE_EXTRA_ALLOW": json.dumps(list(sandbox.runtime_allow())),
            "CONNECT_CONFORMANCE_WORKER_INFO": json.dumps(info),
        }
        if context.drivers is not None:
            env["CONNECT_CONFORMANCE_DRIVERS"] = json.dumps(drivers_profile(context, str(info["compatibility_date"])))
        return StdioTransport([str(node), str(script)], env=env)

    name = f"{NAME}@{info['version']}" if version else NAME
    return AdapterSpec(name, make_transport, default_lanes=LANES, driver_target="workerd")


def drivers_profile(context: RunContext, compatibility_date: str) -> dict[str, object]:
    """What ``miniflare.mjs`` builds the drivers profile from: the flags the drivers need at this date, and
    each driver's bundle (``path``), module name and version."""
    assert context.drivers is not None
    return {
        "flags": list(driver_flags(compatibility_date)),
        "drivers": {
            name: {"path": str(path), "module": driver_module(name), "version": context.drivers.versions.get(name, "")}
            for name, path in sorted(context.drivers.files.items())
        },
    }
