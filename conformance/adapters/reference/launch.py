"""``--adapter reference`` and ``reference+<mutant>``: the reference in the harness's own event loop."""

from __future__ import annotations

from ...protocol.transports import InProcessTransport
from ..base import AdapterSpec, RunContext

#: In-process lanes cost a few coroutines each, and nearly all of a case is deliberate
#: waiting, so many lanes overlap well even on one core (measured in benchmarks/run.py).
LANES = 32


def reference_spec(mutant: str | None = None) -> AdapterSpec:
    name = "reference" if mutant is None else f"reference+{mutant}"

    def make(context: RunContext) -> InProcessTransport:
        from .adapter import ReferenceAdapter

        return InProcessTransport(lambda: ReferenceAdapter(mutant=mutant, ca_pem=context.ca_pem))

    return AdapterSpec(name, make, default_lanes=LANES)
