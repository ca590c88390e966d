"""Generated scenarios: the hypothesis strategy of whole scenarios, and scenarios as YAML cases.

A ``Scenario`` is a peer listener and a list of steps written exactly as a
spec file writes them (mappings with one action and modifiers), so every
scenario is checked by the same loader as a hand-written case and a finding is
already a case. A scenario first draws its features (``features.py``, swarm
testing), then its listener, a ``connect`` with generated arguments
(``arguments.py``), usually ``peer.accept``, in half the scenarios an
idiom of one of its features first (its theme), and one to six moves
(``moves.py``). The capabilities a case needs (``requires``) follow from what
it holds.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

import yaml
from hypothesis import strategies as st

from ..core.model import PeerSpec
from ..engine.actions import ACTIONS
from .arguments import INVALID_ADDRESSES, listeners, needs_sandbox, weighted
from .features import Profile, feature_sets
from .moves import AWAIT_WITHIN, CLIENT_WITHIN, GENERATED, PEER_WITHIN, Builder, Step

__all__ = [
    "AWAIT_WITHIN",
    "CLIENT_WITHIN",
    "INVALID_ADDRESSES",
    "MAX_STEPS",
    "PEER_WITHIN",
    "Scenario",
    "Step",
    "case_yaml",
    "requirements",
    "scenarios",
]

#: Steps of a scenario: enough for seven connects and what follows them; a written case is shrunk.
MAX_STEPS = 16


@dataclass(frozen=True)
class Scenario:
    peer: str | dict[str, Any]
    steps: tuple[Step, ...] = field(default_factory=tuple)
    #: ``environment:`` of the case (``outbound-worker``), or None.
    environment: str | None = None
    #: The swarm features it was drawn with (for the reader of a written case; they change nothing).
    features: tuple[str, ...] = ()

    def one_line(self) -> str:
        """The peer, the environment and the steps as one line of YAML flow style."""
        steps = _flow(list(self.steps))
        where = _flow(self.peer) + (f" in {self.environment}" if self.environment else "")
        return f"{where}: {steps}"

    def digest(self) -> str:
        text = yaml.safe_dump(
            {"peer": self.peer, "environment": self.environment, "steps": list(self.steps)}, sort_keys=True
        )
        return hashlib.sha256(text.encode()).hexdigest()[:12]

    @property
    def listener(self) -> PeerSpec:
        if isinstance(self.peer, str):
            return PeerSpec(kind=self.peer)  # type: ignore[arg-type]
        return PeerSpec(**{key: value for key, value in self.peer.items() if key in ("kind", "host", "cert", "port")})


def _flow(value: Any) -> str:
    return (
        yaml.safe_dump(value, default_flow_style=True, width=1_000_000, allow_unicode=True)
        .strip()
        .removesuffix("\n...")
    )


def _action(step: Step) -> str:
    return next(key for key in step if key in ACTIONS)


def requirements(scenario: Scenario) -> list[str]:
    """The capabilities (spec/README.md section 6) the scenario's case needs, in a stable order."""
    listener = scenario.listener
    needed: set[str] = set()
    if listener.kind in ("tls", "starttls"):
        needed.add(listener.kind)
    if listener.needs_sandbox:
        needed.add("sandbox")
    if listener.host == "::1":
        needed.add("ipv6")
    if scenario.environment:
        needed.add(scenario.environment)
    for step in scenario.steps:
        action = _action(step)
        request = step.get("request")
        if request is not None:
            needed.add("global-scope" if request == "global" else "request-scope")
        needed |= _transports(step[action])
        if action in GENERATED and GENERATED[action].requires:
            needed.add(str(GENERATED[action].requires))
        argument = step[action]
        if isinstance(argument, dict) and needs_sandbox(argument.get("address")):
            needed.add("sandbox")
    order = ["ipv6", "tls", "starttls", "sandbox", "request-scope", "global-scope", "outbound-worker"]
    return [name for name in order if name in needed]


def _transports(value: Any) -> set[str]:
    if isinstance(value, dict):
        found = {"on": {"tls"}, "starttls": {"starttls"}}.get(str(value.get("secureTransport")), set())
        for item in value.values():
            found |= _transports(item)
        return found
    return set()


def case_yaml(
    scenario: Scenario,
    case_id: str,
    title: str,
    level: str = "info",
    source: tuple[str, ...] = ("fuzz",),
    comments: tuple[str, ...] = (),
) -> str:
    """The scenario as a spec file holding one case (the steps may carry ``expect``)."""
    case: dict[str, Any] = {
        "id": case_id,
        "title": title,
        "level": level,
        "source": list(source),
        "tags": ["fuzz"],
    }
    needed = requirements(scenario)
    if needed:
        case["requires"] = needed
    if scenario.environment:
        case["environment"] = scenario.environment
    case |= {"peer": scenario.peer, "timeout": "30s", "steps": list(scenario.steps)}
    header = "".join(f"# {line}\n" if line else "#\n" for line in comments)
    return header + yaml.safe_dump([case], sort_keys=False, allow_unicode=True, width=110)


@st.composite
def scenarios(draw: st.DrawFn, profile: Profile | None = None, max_steps: int = MAX_STEPS) -> Scenario:
    profile = profile or Profile()
    features = draw(feature_sets(profile))
    listener = draw(listeners(features, profile.ipv6))
    builder = Builder(draw, features, listener)
    head: list[Step] = [builder.connect(head=True)]
    # Accepting early makes most scenarios exchange data; later steps are free.
    # A handshake listener's theme needs the connection accepted (and, for "on", the peer's handshake).
    if listener.listening and (listener.handshake or weighted(draw, {"accept": 3, "later": 1}) == "accept"):
        head.append(builder.accept())
    # Drawn moves, not a list strategy of steps: lists favour a few elements, and the behaviours
    # worth comparing need several steps in a row (a FIN, reads to done, then a write).
    body: list[Step] = []
    if listener.edge:
        # What an edge decides is whether (and as what) the first connect opens.
        body.append(builder.opened())
    # Half the scenarios open with an idiom of their features (the theme), the rest draw freely.
    if listener.listening and (listener.handshake or weighted(draw, {"theme": 1, "free": 1}) == "theme"):
        body.extend(builder.theme())
    for _ in range(int(weighted(draw, {str(count): 1 for count in range(1, 7)}))):
        body.extend(builder.move())
    return Scenario(
        listener.spec(),
        tuple((head + body)[:max_steps]),
        "outbound-worker" if "outbound" in features else None,
        tuple(sorted(features)),
    )
