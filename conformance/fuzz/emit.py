"""A divergence as a case: the scenario's steps, each expecting what the ``--against`` side did.

Steps up to the first divergent one get an ``expect`` written from the
against side's normalised observation (messages the spec's own patterns cover
keep the pattern); later steps are dropped, since they add nothing the replay
needs. The neutral ``peer.expect_silence`` wait of a scenario becomes the end
the peer actually saw (``peer.expect_eof``, ``peer.expect_reset``...). An
observation no expectation can state (an adapter that refused an op, a peer
read that timed out half way) makes the scenario inexpressible: ``None``.
"""

from __future__ import annotations

from typing import Any

from ..core.jsshow import show
from ..engine.actions import ACTIONS, Kind
from ..errors import ConformanceError
from ..protocol.replies import SHAPE_OF_OP
from .moves import AFTER_WAIT, CLIENT_WITHIN, NEUTRAL_WAIT, Step
from .observations import Divergence, Observation
from .scenarios import Scenario

_MATCHES = "<matches "


class Inexpressible(ConformanceError):
    """The against side did something no expectation of the case format can state."""


def _message(value: Any) -> Any:
    if isinstance(value, str) and value.startswith(_MATCHES) and value.endswith(">"):
        return {"$regex": value[len(_MATCHES) : -1]}
    return value


def _error(error: Any) -> dict[str, Any]:
    if not isinstance(error, dict):
        raise Inexpressible(f"an error that is not an object: {show(error)}")
    if error.get("name") is None and error.get("message") is None:
        return {"value": error.get("value", {"$type": "undefined"})}
    return {"name": error.get("name"), "message": _message(error.get("message"))}


def _bytes_expect(value: dict[str, Any]) -> dict[str, Any]:
    if "hex" in value:
        return {"hex": value["hex"], **({"view": value["view"]} if value.get("view") else {})}
    raise Inexpressible("a large chunk (compared by digest only)")


def _client_expect(step: Step, action: str, seen: dict[str, Any]) -> dict[str, Any] | None:
    status = seen.get("status")
    if status in ("unsupported", "protocol_error", "skipped", "not reached"):
        raise Inexpressible(f"{action}: the against side answered {status}")
    if status == "threw":
        return {"throws": _error(seen.get("error"))}
    if status == "rejected":
        return {"rejects": _error(seen.get("error"))}
    if status == "pending":
        return {"pending": {"for": step.get("within", CLIENT_WITHIN)}}
    value = seen.get("value", {"$type": "undefined"})
    # What the settled value looks like, by the op (the protocol's table): a socket, one read, bytes read.
    shape = SHAPE_OF_OP.get(action, "any")
    if status == "returned":
        return None if shape == "socket" and value == "socket" else {"returns": value}
    if shape == "read":
        if value.get("done"):
            return {"done": True}
        chunk = value.get("value", {})
        if chunk.get("large"):
            # Its length depended on timing: any chunk will do.
            return {"resolves": {"done": False, "value": {"$any": True}}}
        return {"chunk": _bytes_expect(chunk)}
    if shape == "read_bytes":
        data = value.get("data")
        if isinstance(data, dict) and "hex" in data:
            return {"bytes": {"hex": data["hex"]}}
        return {"size": value.get("length", 0)}
    return {"resolves": value}


def _without_extras(expect: dict[str, Any], ours: Any) -> dict[str, Any]:
    """At the divergent step, a settled value that matches as a subset (extra keys allowed) states
    ``{$absent: true}`` for each key only our side had: else a SocketInfo with a ``localAddress``
    (B17: absent) would pass the written case."""
    for key in ("resolves", "returns"):
        if key in expect and isinstance(ours, dict) and ours.get("status") in ("resolved", "returned"):
            return {**expect, key: _absent(expect[key], ours.get("value"))}
    return expect


def _absent(expected: Any, ours: Any) -> Any:
    if not isinstance(expected, dict) or not isinstance(ours, dict):
        return expected
    if any(str(key).startswith("$") for key in (*expected, *ours)):
        return expected  # a typed value ({$type: ...}) or a pattern, not an object's own keys
    found = {key: _absent(value, ours.get(key)) for key, value in expected.items()}
    return found | {key: {"$absent": True} for key in ours if key not in expected}


def _handshake(tls: dict[str, Any]) -> dict[str, Any]:
    """What the peer saw of a handshake: whether it completed, and the SNI the client sent (compared
    by the normaliser too; a ClientHello without SNI is ``sni: null``)."""
    return {"ok": tls.get("ok")} | ({"sni": tls["sni"]} if "sni" in tls else {})


def _peer_step(step: Step, action: str, seen: dict[str, Any]) -> list[Step]:
    if seen.get("status") == "not reached":
        raise Inexpressible(f"{action}: the against side did not reach it")
    spec = ACTIONS[action]
    if spec.yields_connection:
        if not seen.get("accepted"):
            return [{action: {}, "expect": {"no_connection": {"for": step.get("within", "1s")}}}]
        tls = seen.get("tls")
        return [{**step, "expect": {"tls": _handshake(tls)}} if tls else step]
    if action == NEUTRAL_WAIT:
        kind = seen.get("seen")
        if kind == "data":
            length = seen.get("length", 1)
            return [{AFTER_WAIT["data"]: {"n": length}, "expect": {"size": length}}]
        if kind in AFTER_WAIT:
            return [{AFTER_WAIT[kind]: {}}]
        return [step]
    if "tls" in spec.expects:  # a handshake the peer made on a connection it has (peer.start_tls)
        return [{**step, "expect": {"tls": _handshake(seen.get("tls", {}))}}]
    if seen.get("timed_out") or seen.get("reset") or seen.get("ended") == "reset":
        raise Inexpressible(f"{action}: the peer's op did not complete on the against side")
    if "size" in spec.expects and seen.get("tls_handshake"):
        return [step]  # a ClientHello's size is the TLS library's, not the behaviour's
    if "size" in spec.expects:  # bytes the peer received (peer.recv)
        return [{**step, "expect": {"size": seen.get("length", 0)}}]
    return [step]


def _action(step: Step) -> str:
    return next(key for key in step if key in ACTIONS)


def expected_steps(scenario: Scenario, against: list[Observation], divergence: Divergence) -> list[Step]:
    """The scenario's steps with the against side's observations as expectations, up to the divergence."""
    by_index = {observation.index: observation for observation in against if observation.index}
    steps: list[Step] = []
    last = len(scenario.steps) if divergence.index == 0 else divergence.index
    for index, step in enumerate(scenario.steps[:last], start=1):
        observation = by_index.get(index)
        if observation is None and ACTIONS[_action(step)].kind is Kind.CONTROL:
            steps.append(step)  # a sleep: the transcript records nothing for it
            continue
        if observation is None:
            raise Inexpressible(f"step {index} was not reached on the against side")
        action = observation.action
        if isinstance(observation.seen, dict) and observation.seen.get("status") == "skipped":
            continue  # it could not run on the against side (no socket or connection yet): leave it out
        kind = ACTIONS[action].kind
        if kind is Kind.CONTROL:
            steps.append(step)
        elif kind is Kind.PEER:
            steps.extend(_peer_step(step, action, observation.seen))
        else:
            expect = _client_expect(step, action, observation.seen)
            if expect and index == divergence.index:
                expect = _without_extras(expect, divergence.ours)
            steps.append({**step, "expect": expect} if expect else dict(step))
    if divergence.index == 0:
        end = next((o for o in against if o.index == 0), None)
        if end is None or not isinstance(end.seen, dict) or "unhandled_rejections" not in end.seen:
            raise Inexpressible("the against side's session did not end cleanly")
        rejections = [_error(error) for error in end.seen["unhandled_rejections"]]
        ending = next(name for name, spec in ACTIONS.items() if "unhandled_rejections" in spec.expects)
        steps.append({ending: {}, "expect": {"unhandled_rejections": rejections}})
    return steps
