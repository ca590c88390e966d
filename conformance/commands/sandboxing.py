"""Entering the network sandbox for ``run``, ``mutants`` and ``report publish --run`` (docs/sandbox.md).

``--sandbox``: required (exit 3 where none can be made). ``--no-sandbox``: never. Neither: on for
every adapter the harness starts (a ``ws://`` server is outside the sandbox's network), where a
sandbox can be made; otherwise the cases that need one are reported as not run here, with the
reason. Entering re-executes the whole command inside fresh namespaces; inside one, the command
only checks it.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from .. import interrupts
from ..adapters import registry
from ..errors import InfrastructureError, UsageError


def enter_if_wanted(args: argparse.Namespace, adapters: Sequence[str]) -> None:
    """Re-execute the command (``args.argv``) in a sandbox when asked or by default; ``adapters`` it will run."""
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
    try:
        inside = sandbox.current() is not None
    except ValueError as error:
        raise InfrastructureError(str(error)) from None
    if inside:
        sandbox.enter_or_confirm(args.argv)
        return
    if args.sandbox is None:
        available = sandbox.availability()
        if not available.ok:
            print(
                f"no network sandbox here ({available.reason}): the cases that need one are not run "
                "(--sandbox makes that an error)",
                file=sys.stderr,
            )
            return
    for adapter in adapters:
        registry.resolve(adapter)  # npm packages are installed now: the sandbox has no network
    if interrupts.pending():
        return  # interrupted already: end here as interrupted (run writes its report) rather than start anew
    interrupts.block_for_exec()
    try:
        sandbox.enter_or_confirm(args.argv)  # does not return: the command starts again inside the sandbox
    finally:
        interrupts.unblock()
