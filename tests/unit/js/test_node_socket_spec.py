"""``node_socket_spec()``: how the node-socket adapter is launched (no process is started here)."""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from conformance.adapters import node_socket, npm_cache, registry
from conformance.adapters.base import DriverSet
from conformance.errors import InfrastructureError
from conformance.protocol.transports import StdioTransport


@dataclass
class FakeContext:
    ca_file: str = "/run/ca.pem"
    ca_pem: str = "-----BEGIN CERTIFICATE-----\n...\n"
    drivers: DriverSet | None = None


def test_without_node_on_path_the_spec_is_an_infrastructure_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shutil, "which", lambda name: None)
    installs: list[str] = []
    monkeypatch.setattr(npm_cache, "ensure", lambda name, quiet=False: installs.append(name))
    with pytest.raises(InfrastructureError, match=r"needs Node\.js"):
        node_socket.node_socket_spec()
    assert installs == []


def test_the_spec_runs_the_shell_with_the_package_and_the_runs_ca(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shutil, "which", lambda name: "/opt/node/bin/node" if name == "node" else None)
    installs: list[str] = []

    def ensure(name: str, quiet: bool = False) -> Path:
        installs.append(name)
        return Path("/cache/npm/node-socket-abc/node_modules")

    monkeypatch.setattr(npm_cache, "ensure", ensure)
    spec = registry.resolve("node-socket")
    assert installs == ["node-socket"]  # installed before the run, not per lane
    assert spec.name == "node-socket"
    context: Any = FakeContext()
    transport = spec.make_transport(context)
    assert isinstance(transport, StdioTransport)
    assert transport.argv[0] == "/opt/node/bin/node"
    script = Path(transport.argv[1])
    assert script.name == "node-socket.mjs"
    assert script.is_file()
    assert (script.parent / "interpreter.js").is_file()
    env = transport._env
    assert env is not None
    assert env["NODE_EXTRA_CA_CERTS"] == "/run/ca.pem"
    assert env["CONNECT_CONFORMANCE_NODE_MODULES"] == "/cache/npm/node-socket-abc/node_modules"
    assert env["CONNECT_CONFORMANCE_CA_FILE"] == "/run/ca.pem"
    assert env["CONNECT_CONFORMANCE_CA_PEM"] == context.ca_pem
    assert "CONNECT_CONFORMANCE_DRIVERS" not in env  # no drivers this run: no capability
    assert spec.driver_target == "node"


def test_with_the_drivers_the_shell_gets_each_node_bundle_and_its_version(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shutil, "which", lambda name: "/opt/node/bin/node" if name == "node" else None)
    monkeypatch.setattr(npm_cache, "ensure", lambda name, quiet=False: Path("/cache/npm/node-socket-abc/node_modules"))
    drivers = DriverSet("node", {"pg": Path("/cache/drivers/node-1/pg.js")}, {"pg": "pg@8.23.1 pg-cloudflare@1.4.1"})
    context: Any = FakeContext(drivers=drivers)
    transport = registry.resolve("node-socket").make_transport(context)
    assert isinstance(transport, StdioTransport)
    assert transport._env is not None
    table = json.loads(transport._env["CONNECT_CONFORMANCE_DRIVERS"])
    assert table == {"pg": {"path": "/cache/drivers/node-1/pg.js", "version": "pg@8.23.1 pg-cloudflare@1.4.1"}}
