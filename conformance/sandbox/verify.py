"""Checking a sandbox from inside: ``problems(description)`` lists what is wrong (empty: all good).

What is checked, and why each check sends nothing anywhere:

- the network and mount namespaces are not those the sandbox was created from (inodes);
- ``lo`` is up and is the only interface (the kernel's fallback tunnel devices, which appear
  in every namespace when their modules are loaded, are tolerated while they are down);
- every route of every table goes through ``lo`` (``ip -j route show table all``), and
  public, private and unassigned Cloudflare destinations, and the machine's own resolvers,
  have no route (``ip route get``: a routing-table lookup, no packet, no ``connect()``);
- each address of the description (Cloudflare's, the range edges, the addresses beside them)
  is on ``lo``;
- ``/etc/hosts`` and ``/etc/resolv.conf`` are ours, and nsswitch says ``hosts: files``;
- every name resolves to exactly its addresses, and the ``.invalid`` names fail at once
  with "name not known" (glibc reads only ``/etc/hosts``: no query is sent);
- the privileged port (25) can be bound on loopback and on each of those addresses.

The pure parts (``*_problems`` taking parsed data) are unit-tested; ``problems`` gathers.
"""

from __future__ import annotations

import errno
import ipaddress
import json
import os
import re
import socket
import subprocess
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from .description import Description, hostname_of
from .ranges import ip_literal

#: Devices the kernel creates in every new namespace when their tunnel modules are loaded.
FALLBACK_TUNNELS = frozenset(
    {"sit0", "tunl0", "ip6tnl0", "gre0", "gretap0", "erspan0", "ip6gre0", "ip_vti0", "ip6_vti0"}
)
#: Destinations that must have no route: public (v4, v6), each private range, CGNAT,
#: the public resolvers and link-local.
UNREACHABLE_PROBES = (
    "8.8.8.8",
    "1.1.1.1",
    "10.0.0.1",
    "172.16.0.1",
    "192.168.0.1",
    "100.64.0.1",
    "2001:4860:4860::8888",
    "2606:4700:4700::1111",
    "fd00::1",
    "fe80::1",
)
#: A lookup slower than this went somewhere it should not have (files-only lookups take < 1 ms).
SLOW_LOOKUP_S = 0.5


def _ip_json(*args: str) -> list[dict[str, Any]]:
    done = subprocess.run(["ip", "-j", *args], capture_output=True, text=True, timeout=10, check=False)
    if done.returncode != 0:
        raise OSError(f"ip -j {' '.join(args)}: {done.stderr.strip() or f'exit {done.returncode}'}")
    parsed = json.loads(done.stdout or "[]")
    return [entry for entry in parsed if isinstance(entry, dict)]


def _routable(addresses: Sequence[str]) -> dict[str, str | None]:
    """The route ``ip route get`` finds for each address (its text), or None where there is none.

    One ``ip -force -batch`` for all of them (a process per address would dominate start-up)."""
    commands = "".join(f"route get {address}\n" for address in addresses)
    done = subprocess.run(
        ["ip", "-j", "-force", "-batch", "-"], input=commands, capture_output=True, text=True, timeout=10, check=False
    )
    return batch_routes(addresses, done.stdout, done.stderr)


def batch_routes(addresses: Sequence[str], stdout: str, stderr: str) -> dict[str, str | None]:
    """Reads ``ip -j -force -batch`` output of ``route get`` lines: a failed line is reported on
    stderr after its error message as "Command failed -:N"; each line that succeeded printed one
    JSON array on stdout, in order."""
    failed: dict[int, str] = {}
    message: list[str] = []
    for line in stderr.splitlines():
        found = re.match(r"Command failed -:(\d+)", line.strip())
        if found is None:
            message.append(line.strip())
            continue
        failed[int(found.group(1))] = " ".join(message)
        message = []
    printed = iter(line for line in stdout.splitlines() if line.strip())
    routes: dict[str, str | None] = {}
    for number, address in enumerate(addresses, start=1):
        if number in failed:
            why = failed[number]
            routes[address] = None if "unreachable" in why.lower() else why or "the lookup failed"
        else:
            routes[address] = next(printed, "") or "a route (ip printed nothing)"
    return routes


# -- pure checks ----------------------------------------------------------------------------


def namespace_problems(current: Mapping[str, int], outer: Mapping[str, int]) -> list[str]:
    """``current`` and ``outer``: namespace kind (``net``, ``mnt``) -> inode."""
    found = []
    for kind, inode in outer.items():
        if not inode:
            found.append(f"the description does not name the {kind} namespace it was created from")
        elif current.get(kind) == inode:
            found.append(f"this process is in the machine's {kind} namespace, not in a sandbox of its own")
    return found


def namespace_inode(kind: str) -> int:
    return os.stat(f"/proc/self/ns/{kind}").st_ino


def outside_problems(description: Description) -> list[str]:
    """Non-empty when this process is not in namespaces of its own (nothing may be changed then)."""
    return namespace_problems(
        {"net": namespace_inode("net"), "mnt": namespace_inode("mnt")},
        {"net": description.outer_netns, "mnt": description.outer_mntns},
    )


def interface_problems(links: Sequence[Mapping[str, Any]]) -> list[str]:
    """``links``: ``ip -j addr show`` entries."""
    found = []
    names = {str(link.get("ifname")): link for link in links}
    lo = names.pop("lo", None)
    if lo is None:
        found.append("there is no lo interface")
    elif "UP" not in lo.get("flags", []):
        found.append("lo is down")
    for name, link in sorted(names.items()):
        up = "UP" in link.get("flags", [])
        if name in FALLBACK_TUNNELS and not up and not link.get("addr_info"):
            continue
        found.append(f"interface {name} exists besides lo{' and is up' if up else ''}")
    return found


def route_problems(routes: Iterable[Mapping[str, Any]]) -> list[str]:
    """``routes``: ``ip -j route show table all`` entries (either family)."""
    found = []
    for route in routes:
        kind = str(route.get("type", "unicast"))
        if kind in {"unreachable", "prohibit", "blackhole", "throw"}:
            continue
        if route.get("dev") != "lo" or "gateway" in route:
            via = f" via {route['gateway']}" if "gateway" in route else ""
            found.append(f"route {route.get('dst')} goes through {route.get('dev')}{via}, not lo")
    return found


def address_problems(links: Sequence[Mapping[str, Any]], wanted: Iterable[str]) -> list[str]:
    on_lo = set()
    for link in links:
        if link.get("ifname") == "lo":
            for info in link.get("addr_info", []):
                ip = ip_literal(str(info.get("local", "")))
                if ip is not None:
                    on_lo.add(ip)
    return [f"{address} is not on lo" for address in wanted if ip_literal(address) not in on_lo]


def file_problems(path: str, actual: str | None, expected: str) -> list[str]:
    if actual is None:
        return [f"{path} cannot be read"]
    if actual != expected:
        return [f"{path} is not the sandbox's (it was not mounted over, or was changed)"]
    return []


def nsswitch_problems(text: str | None) -> list[str]:
    if text is None:
        return ["/etc/nsswitch.conf cannot be read"]
    hosts = [line.split(None, 1)[1:] for line in text.splitlines() if line.strip().startswith("hosts:")]
    if [line[0].split() if line else [] for line in hosts] != [["files"]]:
        return [f"/etc/nsswitch.conf must say 'hosts: files' (once), it says {hosts or 'nothing'}"]
    return []


def probe_targets(description: Description) -> list[str]:
    """Addresses that must be unreachable: the fixed probes, the machine's resolvers, and the
    neighbours of each address the sandbox put on ``lo`` that are not on it themselves (the
    rest of a Cloudflare range, the address past an edge): each was added alone, not its range."""
    bound = {str(ipaddress.ip_address(a)) for a in description.on_lo}
    targets = list(UNREACHABLE_PROBES)
    for address in description.on_lo:
        bound_ip = ipaddress.ip_address(address)
        for neighbour in (bound_ip - 1, bound_ip + 1):
            if str(neighbour) not in bound and not neighbour.is_loopback:
                targets.append(str(neighbour))
    for server in description.outer_nameservers:
        ip = ip_literal(server)
        if ip is not None and not ip.is_loopback:
            targets.append(str(ip))
    return list(dict.fromkeys(targets))


# -- gathering ------------------------------------------------------------------------------


def _read(path: str) -> str | None:
    try:
        return Path(path).read_text(encoding="utf-8")
    except OSError:
        return None


def _lookup(name: str) -> tuple[set[str] | int, float]:
    """The addresses ``name`` resolves to, or the ``gaierror`` code; and how long it took."""
    started = time.monotonic()
    try:
        infos = socket.getaddrinfo(name, None, type=socket.SOCK_STREAM)
    except socket.gaierror as error:
        return int(error.errno or 0), time.monotonic() - started
    return {str(ip_literal(str(info[4][0]))) for info in infos}, time.monotonic() - started


def name_problems(description: Description) -> list[str]:
    found = []
    for role, addresses in description.names.items():
        name = hostname_of(role)
        result, took = _lookup(name)
        wanted = {str(ip_literal(a)) for a in addresses}
        if result != wanted:
            found.append(f"{name} resolves to {result}, expected {sorted(wanted)}")
        if took > SLOW_LOOKUP_S:
            found.append(f"looking up {name} took {took:.2f} s: it did not come from /etc/hosts alone")
    for name in description.unresolvable:
        result, took = _lookup(name)
        if result != socket.EAI_NONAME:
            found.append(f"{name} gave {result}, expected 'name not known' (EAI_NONAME)")
        if took > SLOW_LOOKUP_S:
            found.append(f"looking up {name} took {took:.2f} s: a DNS query may have been attempted")
    return found


def bind_problems(description: Description) -> list[str]:
    found = []
    for address in ("127.0.0.1", "::1", *description.on_lo):
        family = socket.AF_INET6 if ":" in address else socket.AF_INET
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind((address, description.privileged_port))
            except OSError as error:
                if error.errno != errno.EADDRINUSE:  # in use: somebody could bind it, so can the peer
                    found.append(f"cannot bind {address} port {description.privileged_port}: {error.strerror}")
    return found


def problems(description: Description) -> list[str]:
    """Everything wrong with the sandbox this process is in (empty: it holds)."""
    found = outside_problems(description)
    if found:
        return found  # outside a sandbox, nothing else is worth checking
    try:
        links = _ip_json("addr", "show")
        found += interface_problems(links)
        found += address_problems(links, description.on_lo)
        found += route_problems(_ip_json("-4", "route", "show", "table", "all"))
        found += route_problems(_ip_json("-6", "route", "show", "table", "all"))
        for target, route in _routable(probe_targets(description)).items():
            if route is not None:
                found.append(f"{target} is reachable: {route}")
    except (OSError, ValueError, subprocess.SubprocessError) as error:
        found.append(f"cannot inspect the network: {error}")
    found += file_problems("/etc/hosts", _read("/etc/hosts"), description.hosts_file())
    found += file_problems("/etc/resolv.conf", _read("/etc/resolv.conf"), description.resolv_conf())
    found += nsswitch_problems(_read("/etc/nsswitch.conf"))
    if not found:  # lookups only once the files are ours: never ask the machine's resolver
        found += name_problems(description)
    found += bind_problems(description)
    return found
