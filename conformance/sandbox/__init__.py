"""The hermetic network sandbox (docs/sandbox.md).

A run that must dial "forbidden" destinations (Cloudflare's ranges, port 25), or must not
depend on the machine's resolver, moves into fresh namespaces (as root, in place; otherwise
by re-executing itself inside them) where:

- only ``lo`` is up, with Cloudflare addresses (and the edges of every published range, and
  the addresses just beside them) added to it, and nothing has a route off it: such a destination is a local listener, and nothing can leave;
- ``/etc/hosts``, ``/etc/resolv.conf`` and ``nsswitch.conf`` are the sandbox's own: names
  resolve from the hosts file only, so no DNS query is ever sent;
- privileged ports (25) can be bound.

Modules: ``ranges`` (the published ranges, membership in any spelling), ``description``
(what a sandbox contains; what its inner processes read), ``create`` (can one be made here,
the command line), ``enter`` (builds it, in this process or in the re-executed one), ``verify`` (the check from
inside), ``trace`` (reading ``strace`` output for destinations). Stdlib only.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Sequence

from ..errors import InfrastructureError
from .create import Availability, availability, command, outer_description, reexec
from .description import ENV_VAR, Description, current
from .ranges import IPNetwork, cloudflare_network, ip_literal, is_cloudflare, published
from .verify import problems

__all__ = [
    "ENV_VAR",
    "Availability",
    "Description",
    "IPNetwork",
    "availability",
    "cloudflare_network",
    "command",
    "confirm",
    "current",
    "ip_literal",
    "is_cloudflare",
    "move_in",
    "problems",
    "published",
    "reexec",
    "runtime_allow",
]


def runtime_allow() -> tuple[str, ...]:
    """CIDRs a runtime's loopback-only network must also allow inside the sandbox: the addresses
    the sandbox put on its ``lo`` (Cloudflare's, the range edges and the public addresses beside
    them), which exist only there. With them allowed, a runtime shows what it really does with such
    an address (local runtimes dial it: B23 is production only) instead of failing on its own
    allow-list; outside a sandbox there is nothing to add."""
    described = current()
    if described is None:
        return ()
    return tuple(f"{a}/128" if ":" in a else f"{a}/32" for a in described.on_lo)


def confirm() -> Description | None:
    """Inside a sandbox: its description, once ``problems()`` finds nothing wrong; outside: None.

    Raises ``InfrastructureError`` for a broken description or a sandbox that fails its check.
    """
    try:
        described = current()
    except ValueError as error:
        raise InfrastructureError(str(error)) from None
    if described is not None:
        found = problems(described)
        if found:
            raise InfrastructureError("the network sandbox failed its check: " + "; ".join(found))
    return described


def move_in(argv: Sequence[str]) -> str | None:
    """Enter a new sandbox (``confirm()`` first: this process must be outside one).

    As root and before any thread starts, this process moves in and goes on (no second
    interpreter: start-up is most of a short run); otherwise ``python -m conformance ARGV`` is
    re-executed inside one (does not return). Returns why none can be made here (nothing was
    changed); raises ``InfrastructureError`` when one was made but could not be built or checked.
    """
    from .enter import SandboxRefused, enter_here

    available = availability(probe=False)
    if not available.ok:
        return available.reason
    if not available.user_namespace and threading.active_count() == 1:
        try:
            enter_here(outer_description())
        except SandboxRefused as error:
            return str(error)
        return None
    available = availability()
    if not available.ok:
        return available.reason
    reexec([sys.executable, "-m", "conformance", *argv])
    raise AssertionError("not reached: reexec replaces the process")
