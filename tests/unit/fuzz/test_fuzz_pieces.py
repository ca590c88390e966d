"""The pure pieces of the differential fuzzer: scenarios, normalisation, divergence, emission."""

from __future__ import annotations

import re
import tempfile
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import pytest
from hypothesis import HealthCheck, given, settings

from conformance.cases.loader import load_file
from conformance.core.transcript import TranscriptEntry, from_dicts
from conformance.fuzz.emit import Inexpressible, expected_steps
from conformance.fuzz.features import ALL_CAPABILITIES, Profile
from conformance.fuzz.observations import Divergence, Normaliser, Observation, first_divergence, message_patterns
from conformance.fuzz.scenarios import INVALID_ADDRESSES, Scenario, case_yaml, requirements, scenarios
from conformance.fuzz.search import Pair, Search, _comments
from tests.helpers import case_from_yaml

VARIABLES = {
    "peer.address": "127.0.0.1:4000",
    "peer.port": 4000,
    "peer.refused_address": "127.0.0.1:4001",
    "peer.refused_port": 4001,
}
PATTERN = re.compile("^proxy request failed, cannot connect to the specified address")


def transcript(*entries: dict[str, Any]) -> list[TranscriptEntry]:
    """Entries as results.json holds them, read back (a line, and whether the end was judged, filled in)."""

    def completed(entry: dict[str, Any]) -> dict[str, Any]:
        return {"line": None, "judged": True, **entry} if entry.get("step") == "end" else {"line": 1, **entry}

    return from_dicts([{"variables": VARIABLES}, *map(completed, entries)])


#: What a scenario dials outside the sandbox: its own peer, a refused port, or nothing (a spelling the
#: parser rejects). Upper case and URL objects are the same loopback hosts.
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "LOCALHOST", "LocalHost", "[::1]", "${peer.host}", "[${peer.hostname}]")
LOOPBACK_PORTS = ("${peer.port}", "${peer.refused_port}", "0")


def dials_only_loopback(address: Any) -> bool:
    if isinstance(address, str):
        if address in INVALID_ADDRESSES or address in ("${peer.address}", "${peer.refused_address}"):
            return True
        host, _, port = address.rpartition(":")
        return host in LOOPBACK_HOSTS and (port in LOOPBACK_PORTS or port == "0${peer.port}")
    if isinstance(address, dict) and address.get("$type") == "url":
        return bool(
            re.fullmatch(r"http://(127\.0\.0\.1|localhost):\$\{peer\.(refused_)?port\}/[a-z?]*", address["href"])
        )
    if isinstance(address, dict) and "$type" not in address:
        return address.get("hostname") in (None, "", *LOOPBACK_HOSTS)
    if isinstance(address, list):
        return address[0] == "127.0.0.1"
    return address is None or address == {"$type": "undefined"}


def connect_addresses(scenario: Scenario) -> list[Any]:
    return [step["connect"].get("address") for step in scenario.steps if "connect" in step]


@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
@given(scenarios())
def test_every_generated_scenario_is_a_valid_case_that_dials_only_its_own_peer(scenario: Scenario) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "scenario.yaml"
        path.write_text(case_yaml(scenario, "fuzz.t", "t"), encoding="utf-8")
        cases, errors = load_file(path)
    assert errors == [], [str(e) for e in errors]
    assert len(cases) == 1
    for address in connect_addresses(scenario):
        # What only the sandbox may dial is marked so: such a case never runs outside one.
        assert dials_only_loopback(address) or "sandbox" in requirements(scenario), address


@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
@given(scenarios(Profile(ALL_CAPABILITIES - {"sandbox"})))
def test_without_the_sandbox_nothing_is_generated_that_needs_it(scenario: Scenario) -> None:
    assert "sandbox" not in requirements(scenario)
    for address in connect_addresses(scenario):
        assert dials_only_loopback(address), address


def test_the_invalid_spellings_name_no_port_anyone_could_listen_on() -> None:
    # A broken implementation may dial them anyway, parsed leniently: then only port 0 or 1 (tcpmux,
    # which nothing here serves), or no port at all.
    for address in INVALID_ADDRESSES:
        port_part = address.rsplit(":", 1)[-1] if ":" in address else ""
        numbers = [int(text) for text in re.findall(r"[0-9]+", port_part)]
        assert all(number in (0, 1) or number > 65535 for number in numbers), address


def test_ports_and_addresses_of_a_run_become_their_variables() -> None:
    observations = Normaliser([]).transcript(
        transcript(
            {
                "step": 2,
                "action": "await",
                "observed": {"status": "resolved", "value": {"remoteAddress": "127.0.0.1:4000"}},
            },
            {"step": "end", "reply": {"status": "returned", "value": {"open_sockets": 0, "unhandled_rejections": []}}},
        )
    )
    assert observations[0] == Observation(
        2, "await", {"status": "resolved", "value": {"remoteAddress": "${peer.address}"}}
    )
    assert observations[1] == Observation(0, "end", {"unhandled_rejections": []})


def test_what_a_case_cannot_check_is_not_compared() -> None:
    def seen(local: object, open_sockets: int) -> list[Observation]:
        value: dict[str, object] = {"remoteAddress": "127.0.0.1:4000"}
        if local is not None:
            value["localAddress"] = local
        return Normaliser([]).transcript(
            transcript(
                {"step": 2, "action": "await", "observed": {"status": "resolved", "value": value}},
                {
                    "step": "end",
                    "reply": {
                        "status": "returned",
                        "value": {"open_sockets": open_sockets, "unhandled_rejections": []},
                    },
                },
            )
        )

    assert seen({"$type": "undefined"}, 0) == seen(None, 1)

    def hello(random: str) -> list[Observation]:
        received = {"length": 5, "sha256": random * 64, "ended": None, "timed_out": True, "data": {"hex": "1603010200"}}
        return Normaliser([]).transcript(transcript({"step": 3, "action": "peer.recv", "observed": received}))

    assert hello("a") == hello("b")  # the ClientHello's random bytes are no behaviour
    assert hello("a")[0].seen["tls_handshake"] is True
    assert seen("127.0.0.1:5000", 0) != seen(None, 0)  # a real localAddress still counts


def test_how_far_a_transfer_cut_short_got_is_timing_not_behaviour() -> None:
    def peer(action: str, observed: dict[str, Any]) -> Any:
        return Normaliser([]).transcript(transcript({"step": 3, "action": action, "observed": observed}))[0].seen

    def received(length: int, **more: Any) -> dict[str, Any]:
        return {"length": length, "sha256": f"{length:064x}", "ended": None, "timed_out": False} | more

    # The peer's read timed out (or the connection was reset) half way through a large send.
    assert peer("peer.recv", received(1000, timed_out=True)) == peer("peer.recv", received(2000, timed_out=True))
    assert peer("peer.recv", received(1000, ended="reset")) == peer("peer.recv", received(9, ended="reset"))
    sent = {"sent": 65536, "chunks": 1, "timed_out": True, "reset": False}
    assert peer("peer.send", sent) == peer("peer.send", sent | {"sent": 131072, "chunks": 2})
    # Complete transfers still compare by what arrived, and a cut-short one differs from a whole one.
    assert peer("peer.recv", received(1000, ended="eof")) != peer("peer.recv", received(2000, ended="eof"))
    assert peer("peer.recv", received(1000, timed_out=True)) != peer("peer.recv", received(1000, ended="eof"))


def test_messages_the_spec_accepts_as_one_pattern_are_equal() -> None:
    normaliser = Normaliser([PATTERN])
    plain = "proxy request failed, cannot connect to the specified address"
    hinted = plain + ". It looks like you might be trying to connect to a HTTP-based service"
    assert normaliser.message(plain) == normaliser.message(hinted) == f"<matches {PATTERN.pattern}>"
    assert normaliser.message("jsg.Error: " + plain) == "jsg.Error: " + plain


def test_lookahead_patterns_are_not_used_to_equate_messages() -> None:
    case = case_from_yaml("""\
    - id: errors.x
      title: t
      level: must
      source: [B18]
      peer: none
      steps:
        - connect: {address: "${peer.refused_address}"}
        - await: opened
          expect: {rejects: {message: {$regex: "^(?!proxy request failed)"}}}
        - await: closed
          expect: {rejects: {message: {$regex: "^proxy request failed"}}}
    """)
    assert [p.pattern for p in message_patterns([case])] == ["^proxy request failed"]


def test_the_first_divergence_and_a_step_one_side_never_reached() -> None:
    a = [Observation(1, "connect", {"status": "returned"}), Observation(2, "read", {"status": "pending"})]
    b = [Observation(1, "connect", {"status": "returned"}), Observation(2, "read", {"status": "resolved"})]
    assert first_divergence(a, a) is None
    found = first_divergence(a, b)
    assert found is not None
    assert (found.index, found.action) == (2, "read")
    assert found.signature() == "read: pending vs resolved"
    shorter = first_divergence(a, a[:1])
    assert shorter is not None
    assert shorter.theirs == {"status": "not reached"}


def test_a_signature_and_the_written_comments_quote_js() -> None:
    undefined = {"status": "rejected", "error": {"name": None, "message": None, "value": {"$type": "undefined"}}}
    typed = {"status": "rejected", "error": {"name": "TypeError", "message": "closed"}}
    found = first_divergence([Observation(3, "write", undefined)], [Observation(3, "write", typed)])
    assert found is not None
    assert found.signature() == "write: rejected a non-Error value vs rejected TypeError"
    lane = SimpleNamespace
    pair = cast(Pair, lane(lanes=(lane(adapter=lane(name="ours")), lane(adapter=lane(name="workerd")))))
    comments = "\n".join(_comments(pair, found))
    assert '  ours: {status: "rejected", error: {name: null, message: null, value: undefined}}' in comments
    assert 'workerd (expected below): {status: "rejected", error: {name: "TypeError", message: "closed"}}' in comments


def test_emission_writes_what_the_against_side_did() -> None:
    scenario = Scenario(
        "plain",
        (
            {"connect": {"address": "${peer.address}"}},
            {"peer.accept": {}, "within": "600ms"},
            {"peer.expect_silence": {"for": "200ms"}},
            {"read": {}, "within": "250ms"},
            {"write": "x", "within": "250ms"},
        ),
    )
    against = [
        Observation(1, "connect", {"status": "returned", "value": "socket"}),
        Observation(2, "peer.accept", {"accepted": True}),
        Observation(3, "peer.expect_silence", {"seen": "eof"}),
        Observation(4, "read", {"status": "pending"}),
        Observation(5, "write", {"status": "rejected", "error": {"name": "TypeError", "message": "<matches ^x>"}}),
    ]
    divergence = first_divergence(against, [*against[:4], Observation(5, "write", {"status": "resolved"})])
    assert divergence is not None
    steps = expected_steps(scenario, against, divergence)
    assert steps[0] == {"connect": {"address": "${peer.address}"}}
    assert steps[2] == {"peer.expect_eof": {}}
    assert steps[3]["expect"] == {"pending": {"for": "250ms"}}
    assert steps[4]["expect"] == {"rejects": {"name": "TypeError", "message": {"$regex": "^x"}}}


def test_an_op_the_against_adapter_refused_cannot_be_a_case() -> None:
    scenario = Scenario("plain", ({"connect": {"address": "${peer.address}"}}, {"get": "upgraded"}))
    against = [
        Observation(1, "connect", {"status": "returned", "value": "socket"}),
        Observation(2, "get", {"status": "unsupported"}),
    ]
    divergence = first_divergence(against, [against[0], Observation(2, "get", {"status": "returned", "value": False})])
    assert divergence is not None
    with pytest.raises(Inexpressible, match="unsupported"):
        expected_steps(scenario, against, divergence)


def read_entry(step: int, chunk: dict[str, Any]) -> dict[str, Any]:
    return {
        "step": step,
        "action": "read",
        "observed": {"status": "resolved", "value": {"done": False, "value": chunk}},
    }


def test_a_large_chunk_of_a_read_is_compared_by_type_and_a_small_one_whole() -> None:
    normaliser = Normaliser([])
    large = {"$type": "bytes", "view": "Uint8Array", "b64": "cXJz" * 40}
    shorter = {"$type": "bytes", "view": "Uint8Array", "b64": "cXJz" * 30}
    assert normaliser.transcript(transcript(read_entry(1, large))) == normaliser.transcript(
        transcript(read_entry(1, shorter))
    ), "how much of a large send one read returns depends on timing"
    other_type = {**large, "view": "Buffer"}
    assert normaliser.transcript(transcript(read_entry(1, large))) != normaliser.transcript(
        transcript(read_entry(1, other_type))
    )
    small = {"$type": "bytes", "view": "Uint8Array", "b64": "cXJz"}
    assert normaliser.transcript(transcript(read_entry(1, small))) != normaliser.transcript(
        transcript(read_entry(1, {**small, "b64": "cXI="}))
    )


def test_a_signature_names_the_fields_that_differ_when_the_shapes_agree() -> None:
    def read(view: str, hexed: str) -> Observation:
        return Observation(
            1, "read", {"status": "resolved", "value": {"done": False, "value": {"view": view, "hex": hexed}}}
        )

    by_type = first_divergence([read("Buffer", "71")], [read("Uint8Array", "71")])
    by_bytes = first_divergence([read("Uint8Array", "72")], [read("Uint8Array", "71")])
    assert by_type is not None
    assert by_bytes is not None
    assert by_type.signature() == "read: resolved vs resolved (value.value.view)"
    assert by_bytes.signature() == "read: resolved vs resolved (value.value.hex)"


def test_a_large_chunk_before_the_divergence_is_expected_loosely() -> None:
    scenario = Scenario(
        "plain",
        (
            {"connect": {"address": "${peer.address}"}},
            {"read": {}, "within": "250ms"},
            {"write": "x", "within": "250ms"},
        ),
    )
    against = [
        Observation(1, "connect", {"status": "returned", "value": "socket"}),
        Observation(
            2, "read", {"status": "resolved", "value": {"done": False, "value": {"view": "Uint8Array", "large": True}}}
        ),
        Observation(3, "write", {"status": "resolved"}),
    ]
    divergence = first_divergence(against, [*against[:2], Observation(3, "write", {"status": "pending"})])
    assert divergence is not None
    steps = expected_steps(scenario, against, divergence)
    assert steps[1]["expect"] == {"resolves": {"done": False, "value": {"$any": True}}}


def test_a_finding_that_does_not_come_back_on_replay_says_where_it_diverged(tmp_path: Path) -> None:
    scenario = Scenario("plain", ({"connect": {"address": "${peer.address}"}}, {"read": {}}))
    seen = Divergence(2, "read", {"status": "pending"}, {"status": "resolved"})

    class NoDivergenceOnReplay(Search):
        def observe(
            self, scenario: Scenario, apart: bool = False
        ) -> tuple[list[Observation], list[Observation], Divergence | None]:
            return [], [], None

    search = NoDivergenceOnReplay(cast(Pair, None), Normaliser([]), examples=1, deadline=None, seed=1, out=tmp_path)
    search.last = (scenario, seen)
    search._settle(scenario)
    [finding] = search.report.findings
    assert (finding.divergence, finding.problem) == (seen, "flaky: no divergence on replay")
    assert seen.signature() in search.known  # not chased again in this search
    assert not list(tmp_path.iterdir())  # and not written


def test_the_lanes_of_n_search_different_scenarios_in_every_round(tmp_path: Path) -> None:
    def draws(seed: int, rounds: int) -> list[float]:
        search = Search(cast(Pair, None), Normaliser([]), examples=1, deadline=None, seed=seed, out=tmp_path)
        randomness = search._random(rounds)
        return [randomness.random() for _ in range(3)]

    assert draws(7, 0) == draws(7, 0)  # a seed is a reproducible search
    seen = [draws(seed, rounds) for seed in (7, 8) for rounds in range(4)]
    assert len({tuple(values) for values in seen}) == len(seen)


def test_a_client_hello_the_peer_saw_instead_of_silence_compares_as_a_handshake() -> None:
    def silence_broken_by(hex_bytes: str) -> list[Observation]:
        observed = {"seen": "data", "length": 3, "data": {"hex": hex_bytes}}
        return Normaliser([]).transcript(transcript({"step": 3, "action": "peer.expect_silence", "observed": observed}))

    assert silence_broken_by("160301aa") == silence_broken_by("160301bb")
    assert silence_broken_by("0001aa") != silence_broken_by("0001bb")  # other bytes still count


def test_the_rest_of_a_client_hello_read_in_pieces_is_tls_too_until_the_peer_speaks_tls() -> None:
    def pieces(rest: str, after: str) -> list[Observation]:
        def received(data: object) -> dict[str, object]:
            return {"length": 1, "sha256": str(data), "timed_out": False, "data": data}

        return Normaliser([]).transcript(
            transcript(
                {"step": 3, "action": "peer.recv", "observed": received("\x16")},
                {"step": 4, "action": "peer.recv", "observed": received({"hex": rest})},
                {"step": 5, "action": "peer.start_tls", "observed": {"ok": True, "cipher": "x", "sni": None}},
                {"step": 6, "action": "peer.recv", "observed": received(after)},
            )
        )

    assert pieces("0301aa", "same") == pieces("0301bb", "same")  # the ClientHello, cut anywhere
    assert pieces("0301aa", "plain") != pieces("0301aa", "other")  # decrypted bytes count again


def test_a_key_only_our_side_had_at_the_divergence_is_written_as_absent() -> None:
    # Issue 23 (opened-has-local-address): a resolves expectation allows extra keys, so the written
    # case passed on the mutant too unless it says the key must be absent.
    scenario = Scenario(
        "plain",
        (
            {"connect": {"address": "${peer.address}"}},
            {"peer.accept": {}, "within": "600ms"},
            {"await": "opened", "within": "1s"},
        ),
    )
    head = [
        Observation(1, "connect", {"status": "returned", "value": "socket"}),
        Observation(2, "peer.accept", {"accepted": True}),
    ]
    theirs = [*head, Observation(3, "await", {"status": "resolved", "value": {"remoteAddress": "${peer.address}"}})]
    extra = {"remoteAddress": "${peer.address}", "localAddress": "127.0.0.1:5"}
    ours = [*head, Observation(3, "await", {"status": "resolved", "value": extra})]
    divergence = first_divergence(ours, theirs)
    assert divergence is not None
    steps = expected_steps(scenario, theirs, divergence)
    assert steps[2]["expect"] == {"resolves": {"remoteAddress": "${peer.address}", "localAddress": {"$absent": True}}}


def test_the_sni_the_peer_saw_is_written_into_the_handshake_expectation() -> None:
    # Issue 23 (sni-not-sent): the observations compare the SNI; a case written with `ok` alone
    # passed on an implementation that sends none.
    scenario = Scenario(
        "tls",
        (
            {"connect": {"address": "localhost:${peer.port}", "options": {"secureTransport": "on"}}},
            {"peer.accept": {}, "within": "600ms"},
        ),
    )
    connected = Observation(1, "connect", {"status": "returned", "value": "socket"})
    theirs = [connected, Observation(2, "peer.accept", {"accepted": True, "tls": {"ok": True, "sni": "localhost"}})]
    ours = [connected, Observation(2, "peer.accept", {"accepted": True, "tls": {"ok": True, "sni": None}})]
    divergence = first_divergence(ours, theirs)
    assert divergence is not None
    steps = expected_steps(scenario, theirs, divergence)
    assert steps[1]["expect"] == {"tls": {"ok": True, "sni": "localhost"}}
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "case.yaml"
        path.write_text(case_yaml(Scenario("tls", tuple(steps)), "fuzz.t", "t"), encoding="utf-8")
        assert load_file(path)[1] == []
