"""What adapters and the runner share: how to reach an implementation, and what a run hands it.

Adapters import this module, never the runner, so the layers stay one-way:
runner -> adapters -> protocol.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

#: ``-n`` above this is refused: lanes beyond it only add processes and contention.
MAX_LANES = 64
#: Names the JavaScript adapter kit's folder for every adapter the harness starts.
JS_KIT_ENV = "CONNECT_CONFORMANCE_JS_KIT"

if TYPE_CHECKING:
    from ..core.certificates import RunCertificates
    from ..protocol.transports import Transport


#: The capability of an adapter that runs the drivers area's scenario modules (the ``driver`` op).
DRIVERS = "drivers"


@dataclass(frozen=True)
class DriverSet:
    """The bundled scenario modules of the drivers area, for one kind of runtime (``drivers/bundle.py``)."""

    target: str
    """``workerd`` (workerd, Miniflare: ``cloudflare:sockets`` is the runtime's) or ``node`` (the polyfill)."""
    files: Mapping[str, Path]
    """Driver -> its bundle, an ES module exporting ``run(scenario, {server, options})``."""
    versions: Mapping[str, str]
    """Driver -> the npm packages it is made of, as installed (``"pg@8.23.1 pg-cloudflare@1.4.1"``)."""


@dataclass(frozen=True)
class RunContext:
    """What every adapter and peer session of one run shares: the run's certificates, and the drivers.

    Runtime processes are not shared: each lane's transport owns its own (workerd),
    so unhandled rejections of one session cannot be blamed on another.
    """

    certificates: RunCertificates
    drivers: DriverSet | None = None
    """The bundles of the adapter's ``driver_target`` when installed: the adapter then declares ``drivers``."""
    drivers_missing: str | None = field(default=None, compare=False)
    """Why an adapter that could run the drivers has none this run (what to install), for the skip message."""

    @property
    def ca_pem(self) -> str:
        return self.certificates.ca_pem

    @property
    def ca_file(self) -> str:
        return str(self.certificates.ca_file)


@dataclass(frozen=True)
class AdapterSpec:
    """How to reach one implementation: a display name, a transport factory, a lane count.

    The factory gets the run's context at launch, because some runtimes read
    their trust anchors only when they start. ``default_lanes`` is what ``-n auto``
    means for it: in-process lanes are cheap, a process per lane costs memory.
    """

    name: str
    make_transport: Callable[[RunContext], Transport]
    default_lanes: int = 4
    driver_target: str | None = None
    """The bundles of the drivers area it runs (``workerd``, ``node``) when they are installed; ``None``: none."""


def js_kit_folder() -> Path:
    """The JavaScript adapter kit (``js/``, docs/adapters.md): a shell imports it from here, so the kit
    it runs is always the one of the harness that started it."""
    return Path(__file__).resolve().parent / "js"


def launch_environment(context: RunContext) -> dict[str, str]:
    """What a spawned adapter learns at start-up (docs/adapter-protocol.md, Launch)."""
    return {
        "CONNECT_CONFORMANCE_CA_FILE": context.ca_file,
        "CONNECT_CONFORMANCE_CA_PEM": context.ca_pem,
        JS_KIT_ENV: str(js_kit_folder()),
    }
