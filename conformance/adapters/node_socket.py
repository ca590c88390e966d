"""``--adapter node-socket``: the npm package ``@arrowood.dev/socket`` on Node.js.

The adapter is ``js/node-socket.mjs``: a stdio shell around ``js/interpreter.js``
(the same interpreter the workerd adapter runs inside its Worker), with the
package's ``connect`` plugged in. The package comes from the npm cache
(``npm_cache.ensure("node-socket")``, installed on first use). Node reads its
extra trust anchors only at start-up, so the run's CA travels in
``NODE_EXTRA_CA_CERTS`` (docs/adapter-protocol.md, section 7). With the drivers area's Node
bundles (``RunContext.drivers``: ``cloudflare:sockets`` is the same package inside them), the shell
imports each when a scenario first needs it and declares ``drivers``.
"""

from __future__ import annotations

import json
import shutil
from importlib import resources
from pathlib import Path

from ..errors import InfrastructureError
from ..protocol.transports import StdioTransport
from . import npm_cache
from .base import AdapterSpec, RunContext, launch_environment

NAME = "node-socket"
PACKAGE = "@arrowood.dev/socket"
#: A Node process per lane (about 50 MB each).
LANES = 8


def adapter_script() -> Path:
    """The shell script Node runs (``js/node-socket.mjs``, shipped as package data)."""
    return Path(str(resources.files(__package__).joinpath("js", "node-socket.mjs")))


def find_node() -> str:
    node = shutil.which("node")
    if node is None:
        raise InfrastructureError(
            "the node-socket adapter needs Node.js: no `node` on PATH (install Node.js 18 or newer)"
        )
    return node


def node_socket_spec(version: str | None = None) -> AdapterSpec:
    """Resolve Node and install the package now (with progress), before any case runs.

    ``version``: a published version of the package instead of the pinned one (``node-socket@0.1.3``).
    """
    node = find_node()
    script = adapter_script()
    if not script.is_file():
        raise InfrastructureError(f"the node-socket adapter script is missing: {script}")
    modules = npm_cache.ensure_version(PACKAGE, version) if version else npm_cache.ensure(NAME)

    def make_transport(context: RunContext) -> StdioTransport:
        env = {
            **launch_environment(context),
            "NODE_EXTRA_CA_CERTS": context.ca_file,
            "CONNECT_CONFORMANCE_NODE_MODULES": str(modules),
        }
        if context.drivers is not None:
            table = {
                name: {"path": str(path), "version": context.drivers.versions.get(name, "unknown")}
                for name, path in context.drivers.files.items()
            }
            env["CONNECT_CONFORMANCE_DRIVERS"] = json.dumps(table)
        return StdioTransport([node, str(script)], env=env)

    name = f"{NAME}@{version}" if version else NAME
    return AdapterSpec(name, make_transport, default_lanes=LANES, driver_target=DRIVER_TARGET)


#: The bundles of the drivers area it runs: ``cloudflare:sockets`` resolved to the polyfill itself.
DRIVER_TARGET = "node"
