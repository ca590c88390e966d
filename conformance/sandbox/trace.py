"""Where a traced run tried to send things: destinations in ``strace -f`` output (pure parsing).

Feed it the output of ``strace -f -e trace=connect,sendto,sendmsg,sendmmsg -o FILE CMD``.
Every ``sockaddr`` in those calls is a destination: ``connect()`` names one for TCP and
connected UDP (glibc's DNS client connects its UDP socket), and the send calls name one
for unconnected datagrams. ``Summary.outside`` lists those that are neither loopback nor
one of the allowed addresses (the sandbox's own addresses on ``lo``), ``dns`` every one to
port 53, and ``unix`` the Unix-socket paths dialled (not network traffic, but they reach the
machine's daemons, which a network namespace does not separate).

Run as a module to summarise a trace file:
``python -m conformance.sandbox.trace FILE [--allow ADDRESS]... [--allow-sandbox]`` (exit 1 when
anything went outside or a DNS query left loopback; ``--allow-sandbox`` allows every address the
sandbox puts on its ``lo``).
"""

from __future__ import annotations

import argparse
import re
import sys
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from .description import Description
from .ranges import ip_literal, unmapped

_CALL = re.compile(r"\b(connect|sendto|sendmsg|sendmmsg)\(")
_INET = re.compile(r'sa_family=AF_INET, sin_port=htons\((\d+)\), sin_addr=inet_addr\("([^"]+)"\)')
_INET6 = re.compile(r'sa_family=AF_INET6, sin6_port=htons\((\d+)\),.*?inet_pton\(AF_INET6, "([^"]+)"')
_UNIX = re.compile(r'sa_family=AF_UNIX, sun_path=(@?"(?:[^"\\]|\\.)*")')
_RESULT = re.compile(r"\)\s+=\s+(-?\d+|\?)(?:\s+(E[A-Z0-9]+))?")


@dataclass(frozen=True)
class Destination:
    call: str
    family: str
    """``inet``, ``inet6`` or ``unix``."""
    address: str
    port: int | None
    error: str | None
    """The errno name the call failed with (``ECONNREFUSED``, ``EINPROGRESS`` ...), or None."""
    line: int

    @property
    def where(self) -> str:
        if self.family == "unix":
            return self.address
        host = f"[{self.address}]" if self.family == "inet6" else self.address
        return f"{host}:{self.port}"


#: The system calls that name a destination (the module's docstring says why these).
SYSCALLS = "trace=connect,sendto,sendmsg,sendmmsg"


def strace_command(strace: str, output: Path, argv: Sequence[str]) -> list[str]:
    """``argv`` under ``strace -f``, tracing ``SYSCALLS`` into ``output``."""
    return [strace, "-f", "-e", SYSCALLS, "-o", str(output), *argv]


def destinations(lines: Iterable[str]) -> list[Destination]:
    found = []
    for number, line in enumerate(lines, start=1):
        call = _CALL.search(line)
        if call is None:
            continue
        result = _RESULT.search(line)
        error = result.group(2) if result else None
        for pattern, family in ((_INET, "inet"), (_INET6, "inet6")):
            for match in pattern.finditer(line):
                found.append(Destination(call.group(1), family, match.group(2), int(match.group(1)), error, number))
        for match in _UNIX.finditer(line):
            found.append(Destination(call.group(1), "unix", match.group(1), None, error, number))
    return found


def is_local(destination: Destination, allowed: Iterable[str] = ()) -> bool:
    """Loopback, or one of ``allowed`` (any spelling, mapped IPv6 included)."""
    if destination.family == "unix":
        return True
    ip = ip_literal(destination.address)
    if ip is None:
        return False
    ip = unmapped(ip)
    if ip.is_loopback or (ip.version == 4 and int(ip) == 0):
        return True  # 0.0.0.0 is "this host": the kernel dials loopback
    wanted = {unmapped(a) for a in (ip_literal(text) for text in allowed) if a is not None}
    return ip in wanted


@dataclass
class Summary:
    total: int = 0
    by_family: Counter[str] = field(default_factory=Counter)
    outside: list[Destination] = field(default_factory=list)
    dns: list[Destination] = field(default_factory=list)
    unix: Counter[str] = field(default_factory=Counter)
    allowed_seen: Counter[str] = field(default_factory=Counter)

    @property
    def dns_left(self) -> list[Destination]:
        return [d for d in self.dns if d in self.outside]

    @property
    def ok(self) -> bool:
        return not self.outside

    def text(self) -> str:
        lines = [
            f"{self.total} destinations in connect/sendto/sendmsg calls "
            + ", ".join(f"{family} {count}" for family, count in sorted(self.by_family.items())),
            f"outside loopback and the allowed addresses: {len(self.outside)}",
        ]
        lines += [f"  line {d.line}: {d.call} {d.where} {d.error or ''}".rstrip() for d in self.outside[:20]]
        lines.append(f"DNS (port 53): {len(self.dns)}, of which left loopback: {len(self.dns_left)}")
        lines += [f"  allowed address {where}: {count}" for where, count in sorted(self.allowed_seen.items())]
        lines += [f"  unix socket {path}: {count}" for path, count in sorted(self.unix.items())]
        return "\n".join(lines)


def summarize(lines: Iterable[str], allowed: Sequence[str] = ()) -> Summary:
    summary = Summary()
    allowed_ips = {unmapped(ip) for ip in (ip_literal(a) for a in allowed) if ip is not None}
    for destination in destinations(lines):
        summary.total += 1
        summary.by_family[destination.family] += 1
        if destination.family == "unix":
            summary.unix[destination.address] += 1
            continue
        if destination.port == 53:
            summary.dns.append(destination)
        if not is_local(destination, allowed):
            summary.outside.append(destination)
        else:
            ip = ip_literal(destination.address)
            if ip is not None and unmapped(ip) in allowed_ips:
                summary.allowed_seen[destination.address] += 1
    return summary


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m conformance.sandbox.trace", description=__doc__)
    parser.add_argument("file", type=Path, help="strace -f -o output")
    parser.add_argument("--allow", action="append", default=[], metavar="ADDRESS", help="an allowed destination")
    parser.add_argument(
        "--allow-sandbox",
        action="store_true",
        help="allow every address the sandbox puts on its lo (Cloudflare's, the range edges, the addresses beside them)",
    )
    args = parser.parse_args(argv)
    allowed = [*args.allow, *(Description().on_lo if args.allow_sandbox else ())]
    with args.file.open(encoding="utf-8", errors="replace") as stream:
        summary = summarize(stream, allowed)
    print(summary.text())
    return 0 if summary.ok else 1


if __name__ == "__main__":
    sys.exit(main())
