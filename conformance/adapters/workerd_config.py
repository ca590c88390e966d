"""The workerd configuration of the workerd adapter, as a pure function (no I/O).

The generated ``config.capnp`` declares:

- service ``main``: the adapter Worker (``worker.js`` importing ``interpreter.js`` and the other
  modules of ``INTERPRETER_MODULES``), with a json binding ``ADAPTER`` that carries the versions
  the ``hello`` answer reports;
- service ``internet``: overrides workerd's implicit default outbound, which also backs
  ``connect()``, with a network service that reaches **loopback only** (``allow = ["local"]``)
  and trusts **only the run's CA** (``trustedCertificates = [ embed "ca.pem" ]``, no
  ``trustBrowserCas``), so no case can leave the machine or pass a TLS check on a public CA;
- socket ``http``: where the harness reaches the Worker; the harness replaces its address
  with ``--socket-fd http=<fd>`` (a socket it bound itself), so the address written here
  is only a placeholder;
- the request-scope and environment profiles (docs/adapter-protocol.md, section 4): a ``SELF``
  binding (the Worker opens a second request to itself), and service ``outbound-worker-profile``,
  the same adapter Worker with a Worker as its global outbound (``fetch-only-outbound``, which
  has nothing but a fetch handler), reached through the ``OUTBOUND_WORKER`` binding;
- with the drivers area's bundles (``with_drivers``): service ``drivers-profile``, the same adapter
  Worker with every bundle as a module (``driver-<name>.js``, imported when a scenario first needs
  it) and the compatibility flags a driver needs for its ``node:*`` imports (``driver_flags``: what a
  user of the driver sets), reached through the ``DRIVERS`` binding; the main Worker keeps its own
  flags, so the other cases run as before.

Any published workerd version can be run (``--adapter workerd@VERSION``), so what the
config may use depends on the version: ``FEATURES`` is that knowledge as data (each
feature with the first release that has it, found by running the releases here), and
``support_for(version)`` reads it. ``config_for`` builds a version's config from it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from .npm_versions import is_version, semver_key, version_date

#: What ``connect()`` may reach: 127.0.0.0/8 and ::1. Never ``public``, ``private`` or ``network``.
ALLOW = ("local",)
#: The date the Worker is pinned to (the pinned workerd 1.20261123.1 supports up to it).
#: An older release gets its own date instead (``support_for``): workerd refuses a
#: compatibility date newer than it knows ("the newest date supported by this server binary").
COMPATIBILITY_DATE = "2026-11-23"
SOCKET_NAME = "http"
BINDING = "ADAPTER"
WORKER_MODULE = "worker.js"
INTERPRETER_MODULE = "interpreter.js"
#: The ES modules of ``js/`` the adapter Worker imports, directly or through ``interpreter.js``, each
#: embedded under its own file name (``tests/unit/js/test_js_modules.py`` follows the imports).
INTERPRETER_MODULES = (INTERPRETER_MODULE, "ops.js", "session.js", "values.js", "bytes.js", "messages.js", "errors.js")
#: The Outbound Worker of the ``outbound-worker`` environment: a fetch handler and nothing else.
OUTBOUND_MODULE = "fetch-only-outbound.js"
CA_FILE = "ca.pem"


@dataclass(frozen=True)
class WorkerdConfig:
    """Everything that varies in the generated config; the file names live beside it."""

    adapter_info: Mapping[str, Any] = field(default_factory=dict)
    """The ``ADAPTER`` json binding: what ``hello`` answers (``name``, ``version``, ``runtime``,
    ``capabilities``; see ``js/workerd-worker.js``)."""
    compatibility_date: str = COMPATIBILITY_DATE
    compatibility_flags: Sequence[str] = ()
    modules: Sequence[str] = (WORKER_MODULE, *INTERPRETER_MODULES)
    """ES modules, the main one first; each is embedded from the file of the same name."""
    ca_file: str = CA_FILE
    """The run's CA (PEM), next to the config: the only trust anchor of ``connect()``."""
    placeholder_address: str = "127.0.0.1:0"
    extra_allow: Sequence[str] = ()
    """More CIDRs ``connect()`` may reach: inside the run's network sandbox, its Cloudflare addresses
    on ``lo`` (``/32``, ``/128``), so that workerd shows what it really does with them (it does not
    block Cloudflare's ranges; production does, B23) instead of failing on the allow-list."""
    profiles: bool = True
    """Whether the Worker gets its second-request and Outbound-Worker profiles (``SELF``,
    ``OUTBOUND_WORKER``); the one-off runtime of a global-scope connect has no use for them."""
    driver_modules: Mapping[str, str] = field(default_factory=dict)
    """Driver -> the file of its bundle (embedded like the other modules); non-empty: the drivers profile."""
    driver_flags: Sequence[str] = ()
    """Compatibility flags the drivers profile adds to ``compatibility_flags``."""


#: The capabilities (spec/README.md) the adapter Worker declares when the release supports them all.
CAPABILITIES = (
    "ipv6",
    "tls",
    "starttls",
    "unhandled-rejections",
    "request-scope",
    "global-scope",
    "outbound-worker",
)
NAME = "workerd"


@dataclass(frozen=True)
class Feature:
    """Something the adapter relies on, and the first workerd release that has it."""

    name: str
    since: str
    """The first npm version of ``workerd`` that has it (older ones were tried here and lack it)."""
    needed_by: str
    """What goes without it: ``run`` (the version cannot run the suite at all) or a capability."""
    evidence: str


#: What the adapter needs of a workerd release, as data. Rows were found by running the
#: releases on this machine (loopback only); ``tests/unit/test_workerd_config.py`` reads them.
FEATURES: tuple[Feature, ...] = (
    Feature(
        "cloudflare:sockets",
        since="1.20230512.0",
        needed_by="run",
        evidence="connect() first shipped in workerd 1.20230512.0 (May 2023); 1.20230404.0, the release "
        'before it, exits at start-up with: No such module "cloudflare:sockets"',
    ),
)


@dataclass(frozen=True)
class Support:
    """What one workerd release can do, as ``FEATURES`` says."""

    version: str
    compatibility_date: str
    capabilities: tuple[str, ...]
    unusable: str | None
    """Why the release cannot run the suite at all, or ``None``."""


def _has(version: str, feature: Feature) -> bool:
    # A version that is not a published one (a local build) is taken to have everything.
    return not is_version(version) or semver_key(version) >= semver_key(feature.since)


def support_for(version: str) -> Support:
    """What release ``version`` (an npm version of ``workerd``) supports."""
    missing = [feature for feature in FEATURES if not _has(version, feature)]
    unusable = next(
        (f"it lacks {f.name} (first in {f.since}): {f.evidence}" for f in missing if f.needed_by == "run"), None
    )
    lost = {feature.needed_by for feature in missing}
    named = version_date(version)
    date = min(COMPATIBILITY_DATE, named.isoformat()) if named else COMPATIBILITY_DATE
    return Support(
        version=version,
        compatibility_date=date,
        capabilities=tuple(c for c in CAPABILITIES if c not in lost),
        unusable=unusable,
    )


#: workerd turns ``nodejs_compat`` on by compatibility date from 2026-08-04 (found by running the pinned
#: release with 2026-08-03 and 2026-08-04: the drivers' ``node:events`` and ``node:buffer`` imports fail
#: before it; it warns "does not need to be specified anymore" when a later date names the flag).
NODEJS_COMPAT_BY_DEFAULT = "2026-08-04"
NODEJS_COMPAT = "nodejs_compat"
DRIVERS_CAPABILITY = "drivers"
DRIVERS_BINDING = "DRIVERS"
DRIVERS_SERVICE = "drivers-profile"


def driver_flags(compatibility_date: str) -> tuple[str, ...]:
    """The flags a Worker running the driver bundles needs at this date: ``nodejs_compat`` until it is the default."""
    return () if compatibility_date >= NODEJS_COMPAT_BY_DEFAULT else (NODEJS_COMPAT,)


def driver_module(driver: str) -> str:
    """The module name a driver's bundle gets in a Worker."""
    return f"driver-{driver}.js"


def drivers_info(info: Mapping[str, Any], versions: Mapping[str, str], modules: bool) -> dict[str, Any]:
    """The ``ADAPTER`` binding with the drivers: the capability, each driver's version, and (``modules``:
    in the Worker that has the bundles) the module of each."""
    drivers = {
        name: {"version": version, **({"module": driver_module(name)} if modules else {})}
        for name, version in sorted(versions.items())
    }
    capabilities = [name for name in info.get("capabilities", []) if name != DRIVERS_CAPABILITY]
    return {**info, "capabilities": [*capabilities, DRIVERS_CAPABILITY], "drivers": drivers}


def with_drivers(config: WorkerdConfig, versions: Mapping[str, str]) -> WorkerdConfig:
    """``config`` with the drivers profile for these drivers (driver -> version; the bundles are written
    beside the config as ``driver_module(name)``)."""
    return replace(
        config,
        adapter_info=drivers_info(config.adapter_info, versions, modules=False),
        driver_modules={name: driver_module(name) for name in sorted(versions)},
        driver_flags=driver_flags(config.compatibility_date),
    )


def config_for(version: str, runtime: str) -> WorkerdConfig:
    """The config of release ``version``: its compatibility date, and what the hello answer reports."""
    support = support_for(version)
    return WorkerdConfig(
        adapter_info={
            "name": NAME,
            "version": version,
            "runtime": runtime,
            "capabilities": list(support.capabilities),
        },
        compatibility_date=support.compatibility_date,
    )


def capnp_string(value: str) -> str:
    """``value`` as a Cap'n Proto text literal (double-quoted, C escapes)."""
    out = ['"']
    for char in value:
        code = ord(char)
        if char == "\\":
            out.append("\\\\")
        elif char == '"':
            out.append('\\"')
        elif char == "\n":
            out.append("\\n")
        elif char == "\r":
            out.append("\\r")
        elif char == "\t":
            out.append("\\t")
        elif code < 0x20 or code == 0x7F:
            out.append(f"\\x{code:02x}")
        else:
            out.append(char)  # capnp text is UTF-8
    out.append('"')
    return "".join(out)


def _check_name(kind: str, value: str) -> str:
    if not value or "/" in value or "\\" in value or value.startswith(".") or "\n" in value:
        raise ValueError(f"{kind} {value!r} must be a plain file name next to the config")
    return value


def _worker(
    config: WorkerdConfig,
    modules: str,
    info: str,
    bindings: Sequence[str],
    outbound: str | None,
    more_flags: Sequence[str] = (),
) -> str:
    flags = ", ".join(capnp_string(flag) for flag in (*config.compatibility_flags, *more_flags))
    lines = [
        f"(name = {capnp_string(BINDING)}, json = {capnp_string(info)})",
        *bindings,
    ]
    rendered = ",\n    ".join(lines)
    global_outbound = f"\n  globalOutbound = {capnp_string(outbound)}," if outbound else ""
    return f"""(
  modules = [
{modules}
  ],
  compatibilityDate = {capnp_string(config.compatibility_date)},
  compatibilityFlags = [{flags}],{global_outbound}
  bindings = [
    {rendered},
  ],
)"""


def _modules(names: Sequence[str]) -> str:
    return ",\n".join(
        f"    (name = {capnp_string(_check_name('module', name))}, esModule = embed {capnp_string(name)})"
        for name in names
    )


def render(config: WorkerdConfig) -> str:
    """The text of ``config.capnp``."""
    if not config.modules:
        raise ValueError("the Worker needs at least one module")
    modules = _modules(config.modules)
    info = json.dumps(dict(config.adapter_info), sort_keys=True, ensure_ascii=False)
    allow = ", ".join(capnp_string(entry) for entry in (*ALLOW, *config.extra_allow))
    ca = capnp_string(_check_name("CA file", config.ca_file))
    profile_services = ""
    profile_workers = ""
    main_bindings: list[str] = []
    if config.profiles:
        main_bindings = [
            '(name = "SELF", service = "main")',
            '(name = "OUTBOUND_WORKER", service = "outbound-worker-profile")',
        ]
        profile_services = """
    # The outbound-worker environment: the same adapter Worker, a Worker as its global outbound.
    (name = "outbound-worker-profile", worker = .outboundWorkerProfile),
    (name = "fetch-only-outbound", worker = .fetchOnlyOutbound),"""
        profile = _worker(
            config, modules, info, ['(name = "SELF", service = "outbound-worker-profile")'], "fetch-only-outbound"
        )
        outbound = capnp_string(OUTBOUND_MODULE)
        profile_workers = f"""

const outboundWorkerProfile :Workerd.Worker = {profile};

const fetchOnlyOutbound :Workerd.Worker = (
  modules = [(name = {outbound}, esModule = embed {outbound})],
  compatibilityDate = {capnp_string(config.compatibility_date)},
);"""
    if config.profiles and config.driver_modules:
        main_bindings.append(f"(name = {capnp_string(DRIVERS_BINDING)}, service = {capnp_string(DRIVERS_SERVICE)})")
        versions = {
            name: str(entry.get("version", "unknown")) for name, entry in config.adapter_info.get("drivers", {}).items()
        }
        profile_info = json.dumps(
            drivers_info(config.adapter_info, versions, modules=True), sort_keys=True, ensure_ascii=False
        )
        driver_modules = _modules([*config.modules, *config.driver_modules.values()])
        drivers = _worker(config, driver_modules, profile_info, [], None, config.driver_flags)
        profile_services += f"""
    # The drivers area: the adapter Worker with the drivers' bundles and the flags they need.
    (name = {capnp_string(DRIVERS_SERVICE)}, worker = .driversProfile),"""
        profile_workers += f"""

const driversProfile :Workerd.Worker = {drivers};"""
    main = _worker(config, modules, info, main_bindings, None)
    return f"""\
# Generated by connect-conformance (conformance/adapters/workerd_config.py). Do not edit.
using Workerd = import "/workerd/workerd.capnp";

const config :Workerd.Config = (
  services = [
    (name = "main", worker = .adapterWorker),{profile_services}
    # The implicit "internet" service backs connect(); this one reaches loopback only
    # and trusts only the run's CA.
    (name = "internet", network = (
      allow = [{allow}],
      tlsOptions = (trustedCertificates = [ embed {ca} ])
    )),
  ],
  sockets = [
    (name = {capnp_string(SOCKET_NAME)}, address = {capnp_string(config.placeholder_address)}, http = (), service = "main"),
  ],
);

const adapterWorker :Workerd.Worker = {main};{profile_workers}
"""
