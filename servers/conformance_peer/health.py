"""`python3 -m conformance_peer.health`: the container's health check.

Healthy (exit 0) when the peer, PID 1 of the container (or the process given
as the one argument), listens on at least one TCP socket and every one of them
accepts a connection. It finds the sockets itself (/proc/PID/fd and
/proc/net/tcp, tcp6), so one check serves the control service and the
standalone servers whatever their ports; with `--network host` /proc/net shows
the host's sockets, and only the peer's own are tried.
"""

import os
import socket
import sys
from collections.abc import Sequence

LISTEN = "0A"
TIMEOUT = 2.0


def socket_inodes(pid: int) -> set[str]:
    inodes = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[len("socket:[") : -1])
    return inodes


def _address(hex_address: str) -> str:
    """/proc/net/tcp's address (the kernel's 32-bit words, each in host byte order) as text."""
    raw = bytes.fromhex(hex_address)
    words = b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4)) if sys.byteorder == "little" else raw
    family = socket.AF_INET if len(raw) == 4 else socket.AF_INET6
    return socket.inet_ntop(family, words)


def listeners(pid: int) -> list[tuple[str, int]]:
    """(host, port) of every TCP socket `pid` listens on."""
    inodes = socket_inodes(pid)
    found = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as file:
                rows = file.read().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            fields = row.split()
            if fields[3] == LISTEN and fields[9] in inodes:
                host, port = fields[1].split(":")
                found.append((_address(host), int(port, 16)))
    return found


def check(pid: int) -> str | None:
    """None when healthy, else why not."""
    sockets = listeners(pid)
    if not sockets:
        return f"process {pid} listens on no TCP socket"
    for host, port in sockets:
        target = {"0.0.0.0": "127.0.0.1", "::": "::1"}.get(host, host)
        try:
            socket.create_connection((target, port), timeout=TIMEOUT).close()
        except OSError as exc:
            return f"{host} port {port} does not accept a connection: {exc}"
    return None


def main(argv: Sequence[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else list(argv)
    problem = check(int(args[0]) if args else 1)
    if problem:
        print(f"unhealthy: {problem}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
