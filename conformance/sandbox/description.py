"""What a sandbox contains: its addresses, names, files and ports (pure, no I/O).

The process that creates the sandbox fills in a ``Description`` and hands it to the inner
stage (``enter``), which builds exactly that and exports it to everything it starts as JSON
in the environment variable ``CONNECT_CONFORMANCE_SANDBOX``; ``current()`` reads it back.
Cases refer to its parts through ``variables()`` (``${sandbox.cloudflare_v4}`` ...).

Names use the ``.test`` top-level domain (RFC 6761: never delegated), so a name of ours can
never mean a real host; ``*.invalid`` names never resolve.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from .ranges import ip_literal, is_cloudflare, published

ENV_VAR = "CONNECT_CONFORMANCE_SANDBOX"
FORMAT = 2

#: Cloudflare addresses bound to the sandbox's ``lo``: two IPv4 from different published
#: ranges (104.16.0.0/13, 172.64.0.0/13) and two IPv6 (2606:4700::/32, 2400:cb00::/32).
CLOUDFLARE_V4 = ("104.16.0.1", "172.64.0.1")
CLOUDFLARE_V6 = ("2606:4700::1", "2400:cb00::1")
UNRESOLVABLE = ("nothing.sandbox.invalid", "nonexistent.invalid")

PRIVILEGED_PORT = 25
NAMESERVER = "127.0.0.1"
"""resolv.conf's only server: loopback inside the namespace, where nothing listens on 53;
``hosts: files`` keeps glibc from asking it at all, and anything that bypasses nsswitch
(a resolver library of its own) gets an immediate refusal that never leaves the namespace."""


def _default_names() -> dict[str, tuple[str, ...]]:
    # glibc sorts a loopback address before a global one whatever the hosts file says (RFC 6724,
    # smaller scope first), so "mixed" always gives 127.0.0.1 first. Two global addresses keep the
    # file's order: the public names give a blocked and an allowed address in both orders. The
    # allowed one is the address just below the Cloudflare address's range (bound as an edge).
    ranges = published()
    public_v4 = ranges.just_below(CLOUDFLARE_V4[0])
    public_v6 = ranges.just_below(CLOUDFLARE_V6[0])
    return {
        "loopback": ("127.0.0.1",),
        "loopback6": ("::1",),
        "cloudflare": (CLOUDFLARE_V4[0],),
        "cloudflare6": (CLOUDFLARE_V6[0],),
        "cloudflare_dual": (CLOUDFLARE_V4[1], CLOUDFLARE_V6[1]),
        "mixed": ("127.0.0.1", CLOUDFLARE_V4[0]),
        "mixed_public": (public_v4, CLOUDFLARE_V4[0]),
        "mixed_public_reversed": (CLOUDFLARE_V4[0], public_v4),
        "mixed6": (public_v6, CLOUDFLARE_V6[0]),
        "mixed6_reversed": (CLOUDFLARE_V6[0], public_v6),
    }


def _default_edges() -> tuple[str, ...]:
    return published().edges()


def _default_beside() -> tuple[str, ...]:
    return published().beside()


def hostname_of(role: str) -> str:
    """The host name of a name role: ``cloudflare_dual`` -> ``cloudflare-dual.sandbox.test``."""
    return f"{role.replace('_', '-')}.sandbox.test"


@dataclass(frozen=True)
class Description:
    cloudflare_v4: tuple[str, ...] = CLOUDFLARE_V4
    cloudflare_v6: tuple[str, ...] = CLOUDFLARE_V6
    edges: tuple[str, ...] = field(default_factory=_default_edges)
    """The first and last usable address of every published range (both families), on ``lo`` too:
    an implementation that blocks a range too narrowly dials one of them."""
    beside: tuple[str, ...] = field(default_factory=_default_beside)
    """The addresses just outside each end of every range (in no range themselves), on ``lo``: an
    implementation that blocks a range too widely refuses one of them."""
    names: Mapping[str, tuple[str, ...]] = field(default_factory=_default_names)
    """Role -> the addresses its name (``hostname_of(role)``) resolves to, in order."""
    unresolvable: tuple[str, ...] = UNRESOLVABLE
    privileged_port: int = PRIVILEGED_PORT
    machine_hostname: str = ""
    """This machine's host name: the namespace shares it, and programs look it up."""
    outer_netns: int = 0
    """Inode of the network namespace the sandbox was created from: inside, ours must differ."""
    outer_mntns: int = 0
    """Inode of the mount namespace it was created from: inside, ours must differ."""
    outer_nameservers: tuple[str, ...] = ()
    """The machine's resolvers: inside, none of them may be reachable."""
    format: int = FORMAT

    def __post_init__(self) -> None:
        for address in self.cloudflare_v4 + self.cloudflare_v6:
            ip = ip_literal(address)
            if ip is None or not is_cloudflare(ip):
                raise ValueError(f"sandbox address {address!r} is not in a published Cloudflare range")
        for address in self.cloudflare_v4:
            if ip_literal(address) is None or ":" in address:
                raise ValueError(f"cloudflare_v4 lists {address!r}, not an IPv4 address")
        for address in self.cloudflare_v6:
            if ":" not in address:
                raise ValueError(f"cloudflare_v6 lists {address!r}, not an IPv6 address")
        for address in self.edges:
            ip = ip_literal(address)
            if ip is None or not is_cloudflare(ip):
                raise ValueError(f"edge address {address!r} is not in a published Cloudflare range")
        for address in self.beside:
            ip = ip_literal(address)
            if ip is None or is_cloudflare(ip) or not ip.is_global:
                raise ValueError(
                    f"address beside the ranges {address!r} must be a public address in no Cloudflare range"
                )
        bound = {"127.0.0.1", "::1", *self.on_lo}
        for role, addresses in self.names.items():
            stray = [a for a in addresses if a not in bound]
            if not addresses or stray:
                raise ValueError(f"name {role!r} must resolve only to sandbox addresses, not {stray or 'nothing'}")
        for name in self.unresolvable:
            if not name.endswith(".invalid"):
                raise ValueError(f"unresolvable name {name!r} must end in .invalid (RFC 6761)")

    @property
    def on_lo(self) -> tuple[str, ...]:
        """Every address the sandbox adds to ``lo`` besides loopback's own, each once."""
        return tuple(dict.fromkeys((*self.cloudflare_v4, *self.cloudflare_v6, *self.edges, *self.beside)))

    # -- the files -------------------------------------------------------------------------

    def hosts_file(self) -> str:
        """``/etc/hosts`` inside: localhost, the machine's name, and one line per (name, address)."""
        lines = [
            "# connect-conformance network sandbox: the only names that resolve in here",
            "127.0.0.1\tlocalhost",
            "::1\tlocalhost ip6-localhost ip6-loopback",
        ]
        if self.machine_hostname:
            lines.append(f"127.0.0.1\t{self.machine_hostname}")
        # By role: two equal descriptions (one read back from JSON) give the same file.
        for role, addresses in sorted(self.names.items()):
            lines.extend(f"{address}\t{hostname_of(role)}" for address in addresses)
        return "\n".join(lines) + "\n"

    def resolv_conf(self) -> str:
        return (
            "# connect-conformance network sandbox: no DNS server is reachable from here\n"
            f"nameserver {NAMESERVER}\n"
            "options timeout:1 attempts:1\n"
        )

    @staticmethod
    def nsswitch_conf(machine: str) -> str:
        """The machine's ``nsswitch.conf`` with its ``hosts:`` line replaced by ``hosts: files``."""
        lines = [line for line in machine.splitlines() if not line.strip().startswith("hosts:")]
        return "\n".join([*lines, "hosts: files"]) + "\n"

    # -- for cases -------------------------------------------------------------------------

    def variables(self) -> dict[str, Any]:
        """``${sandbox.*}`` values for cases."""
        variables: dict[str, Any] = {
            "sandbox.cloudflare_v4": self.cloudflare_v4[0],
            "sandbox.cloudflare_v4_b": self.cloudflare_v4[1],
            "sandbox.cloudflare_v6": self.cloudflare_v6[0],
            "sandbox.cloudflare_v6_b": self.cloudflare_v6[1],
            "sandbox.cloudflare_v4_mapped": f"::ffff:{self.cloudflare_v4[0]}",
            "sandbox.name.unresolvable": self.unresolvable[0],
            "sandbox.port.privileged": self.privileged_port,
        }
        for role in self.names:
            variables[f"sandbox.name.{role}"] = hostname_of(role)
        return variables

    # -- serialisation ---------------------------------------------------------------------

    def to_json(self) -> str:
        return json.dumps(
            {
                "format": self.format,
                "cloudflare_v4": list(self.cloudflare_v4),
                "cloudflare_v6": list(self.cloudflare_v6),
                "edges": list(self.edges),
                "beside": list(self.beside),
                "names": {role: list(addresses) for role, addresses in self.names.items()},
                "unresolvable": list(self.unresolvable),
                "privileged_port": self.privileged_port,
                "machine_hostname": self.machine_hostname,
                "outer_netns": self.outer_netns,
                "outer_mntns": self.outer_mntns,
                "outer_nameservers": list(self.outer_nameservers),
            },
            sort_keys=True,
        )

    @classmethod
    def from_json(cls, text: str) -> Description:
        try:
            data = json.loads(text)
            if data.get("format") != FORMAT:
                raise ValueError(f"format {data.get('format')!r}, expected {FORMAT}")
            return cls(
                cloudflare_v4=tuple(data["cloudflare_v4"]),
                cloudflare_v6=tuple(data["cloudflare_v6"]),
                edges=tuple(data["edges"]),
                beside=tuple(data["beside"]),
                names={str(role): tuple(addresses) for role, addresses in data["names"].items()},
                unresolvable=tuple(data["unresolvable"]),
                privileged_port=int(data["privileged_port"]),
                machine_hostname=str(data["machine_hostname"]),
                outer_netns=int(data["outer_netns"]),
                outer_mntns=int(data["outer_mntns"]),
                outer_nameservers=tuple(data["outer_nameservers"]),
            )
        except (ValueError, KeyError, TypeError, AttributeError) as error:
            raise ValueError(f"invalid sandbox description in ${ENV_VAR}: {error}") from None

    def with_outer(self, netns: int, mntns: int, nameservers: tuple[str, ...], hostname: str) -> Description:
        return replace(
            self, outer_netns=netns, outer_mntns=mntns, outer_nameservers=nameservers, machine_hostname=hostname
        )


def nameservers(resolv_conf: str) -> tuple[str, ...]:
    """The ``nameserver`` addresses of a resolv.conf text."""
    found = []
    for line in resolv_conf.splitlines():
        words = line.split()
        if len(words) >= 2 and words[0] == "nameserver":
            found.append(words[1])
    return tuple(found)


def current(environ: Mapping[str, str] | None = None) -> Description | None:
    """The description of the sandbox this process runs in, or None outside one (not verified:
    ``verify.problems`` says whether it holds)."""
    text = (os.environ if environ is None else environ).get(ENV_VAR)
    return None if text is None else Description.from_json(text)
