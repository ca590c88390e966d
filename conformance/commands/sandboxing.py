"""Entering the network sandbox for ``run``, ``mutants`` and ``report publish --run`` (docs/sandbox.md).

``--sandbox``: required (exit 3 where none can be made). ``--no-sandbox``: never. Neither: on for
every adapter the harness starts (a ``ws://`` server is outside the sandbox's network), where a
sandbox can be made; otherwise the cases that need one are reported as not run here, with the
reason. Entering moves the process into fresh namespaces (as root; otherwise the whole command
is re-executed inside them); inside one already, the command only checks it.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from .. import interrupts
from ..adapters import registry
from ..errors import InfrastructureError, UsageError


def enter_if_wanted(args: argparse.Namespace, adapters: Sequence[str]) -> None:
    """Enter a sandbox when asked or by default (``args.argv``: the command, should it be re-executed); ``adapters``
    it will run."""
    from .. import sandbox

    if args.sandbox is False:
        return
    if getattr(args, "peer", "in-process") != "in-process":
        # The sandbox's network is its own: a peer in a container or on another host is not in it.
        if args.sandbox:
            raise UsageError("--sandbox needs the in-process peer: a peer elsewhere is outside the sandbox's network")
        return
    outside = [adapter for adapter in adapters if not registry.sandboxable(adapter)]
    if outside:
        if args.sandbox:
            raise UsageError(
                f"--sandbox cannot hold {outside[0]}: a server started elsewhere is outside the sandbox's network"
            )
        return
    if sandbox.confirm() is not None:
        return
    for adapter in adapters:
        registry.resolve(adapter)  # npm packages are installed now: the sandbox has no network
    if interrupts.pending():
        return  # interrupted already: end here as interrupted (run writes its report) rather than start anew
    interrupts.block_for_exec()
    try:
        reason = sandbox.move_in(args.argv)  # in this process, or re-executed inside the sandbox (no return)
    finally:
        interrupts.unblock()
    if reason is None:
        return
    if args.sandbox:
        raise InfrastructureError(f"cannot create the network sandbox here: {reason}")
    print(
        f"no network sandbox here ({reason}): the cases that need one are not run (--sandbox makes that an error)",
        file=sys.stderr,
    )
