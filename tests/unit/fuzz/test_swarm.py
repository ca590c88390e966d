"""Swarm testing, targets and the search's bookkeeping: the pure pieces behind ``fuzz --find-mutants``."""

from __future__ import annotations

import random
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import pytest
import yaml
from hypothesis import HealthCheck, Phase, find, given, settings
from hypothesis.errors import NoSuchExample

from conformance.core.outcomes import Outcome
from conformance.fuzz import search as search_module
from conformance.fuzz.features import ALL_CAPABILITIES, FEATURES, Profile, feature_sets
from conformance.fuzz.mutants import Hunt, summary, table
from conformance.fuzz.observations import Divergence, Normaliser, Observation
from conformance.fuzz.scenarios import Scenario, case_yaml, requirements, scenarios
from conformance.fuzz.search import Pair, Search
from conformance.fuzz.targets import scores

QUICK = settings(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck))


def test_a_profile_offers_only_the_features_both_sides_can_do() -> None:
    profile = Profile.shared({"tls", "starttls", "request-scope", "sandbox"}, {"tls", "request-scope", "sandbox"})
    assert profile.capabilities == {"tls", "request-scope", "sandbox"}
    available = set(profile.available())
    assert {"requests", "sandbox", "half_open", "large"} <= available
    assert not available & {"tls", "global", "outbound"}  # starttls, global-scope, outbound-worker missing
    assert set(Profile().available()) == set(FEATURES)


@QUICK
@given(scenarios(Profile(frozenset({"ipv6"}))))
def test_a_scenario_uses_no_capability_its_profile_lacks(scenario: Scenario) -> None:
    assert set(requirements(scenario)) <= {"ipv6"}
    assert set(scenario.features) <= set(Profile(frozenset({"ipv6"})).available())


def test_each_feature_is_switched_on_in_some_scenarios_and_off_in_others() -> None:
    seen: dict[str, set[bool]] = {name: set() for name in FEATURES}

    def record(features: frozenset[str]) -> bool:
        for name in FEATURES:
            seen[name].add(name in features)
        return False

    chosen = settings(max_examples=300, database=None, phases=[Phase.generate])
    with pytest.raises(NoSuchExample):
        find(feature_sets(Profile()), record, settings=chosen, random=random.Random(3))
    assert all(states == {True, False} for states in seen.values()), seen


def test_requirements_follow_from_what_the_case_holds() -> None:
    scenario = Scenario(
        {"kind": "tls", "host": "sandbox-loopback", "port": 25},
        (
            {"connect": {"address": "${peer.host}:25", "options": {"secureTransport": "on"}}, "as": "s1"},
            {"connect": {"address": "${peer.address}"}, "request": "global"},
            {"write": "x", "request": "b"},
            {"start_tls": {}},
        ),
        environment="outbound-worker",
    )
    assert requirements(scenario) == [
        "tls",
        "starttls",
        "sandbox",
        "request-scope",
        "global-scope",
        "outbound-worker",
    ]
    # An address only the sandbox may dial marks the case even with a loopback listener.
    dialled = Scenario("plain", ({"connect": {"address": {"hostname": "127.0.0.1", "port": 80}}},))
    assert requirements(dialled) == ["sandbox"]
    assert requirements(Scenario("plain", ({"connect": {"address": "${peer.address}"}},))) == []
    [case] = yaml.safe_load(case_yaml(scenario, "fuzz.t", "t"))
    assert case["requires"] == requirements(scenario)
    assert case["environment"] == "outbound-worker"


def test_scores_measure_degree_on_the_against_side() -> None:
    scenario = Scenario(
        "plain",
        (
            {"connect": {"address": "${peer.address}"}},
            {"write": {"pattern": "x", "size": "4MiB"}, "within": "250ms"},
            {"read": {}, "within": "250ms"},
            {"peer.recv": {"n": None}},
        ),
    )
    seen = [
        Observation(1, "connect", {"status": "returned", "value": "socket"}),
        Observation(2, "write", {"status": "pending"}),
        Observation(3, "read", {"status": "pending"}),
        Observation(4, "peer.recv", {"length": 1023, "timed_out": True}),
    ]
    found = scores(scenario, seen)
    assert found["bytes the peer received (log2)"] == 10.0
    assert found["bytes queued in ops left waiting (log2)"] == pytest.approx(22.0, abs=1e-6)
    assert found["ops left waiting"] == 2.0
    assert found["sockets"] == 1.0
    assert set(scores(scenario, [])) == set(found)
    assert all(value == 0 for value in scores(scenario, []).values())


class ScriptedSearch(Search):
    """A search whose 'implementations' diverge on every scenario with a write, without a network."""

    def __init__(self, tmp_path: Path, examples: int) -> None:
        super().__init__(cast(Pair, None), Normaliser([]), examples, None, 5, tmp_path, profile=Profile(frozenset()))
        self.settled: list[Scenario] = []

    def observe(
        self, scenario: Scenario, apart: bool = False
    ) -> tuple[list[Observation], list[Observation], Divergence | None]:
        writes = [index for index, step in enumerate(scenario.steps, start=1) if "write" in step]
        if not writes:
            return [], [], None
        return [], [], Divergence(writes[0], "write", {"status": "resolved"}, {"status": "rejected"})

    def _settle(self, scenario: Scenario) -> None:
        self.settled.append(scenario)
        self.known.add("write: resolved vs rejected")
        self.report.findings.append(search_module.Finding(Divergence(1, "write", None, None), scenario, path=Path("x")))


def test_shrinking_stops_at_its_budget_and_the_smallest_divergent_scenario_so_far_is_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(search_module, "SHRINK_EXAMPLES", 3)
    search = ScriptedSearch(tmp_path, examples=300)
    search.until_written = True
    report = search.run()
    assert len(search.settled) == 1
    assert any("write" in step for step in search.settled[0].steps)
    # The first divergence was seen after some generated examples; shrinking then took at most 3 more.
    assert search.first_seen is not None
    assert report.examples <= search.first_seen[0] + 3


class SilentSearch(ScriptedSearch):
    """Implementations that never diverge: the search runs its whole budget."""

    def observe(
        self, scenario: Scenario, apart: bool = False
    ) -> tuple[list[Observation], list[Observation], Divergence | None]:
        return [], [], None


@pytest.mark.parametrize("examples", [1, 40, 41, 95])
def test_a_search_runs_exactly_its_example_budget(tmp_path: Path, examples: int) -> None:
    report = SilentSearch(tmp_path, examples=examples).run()
    assert report.examples == examples
    assert report.findings == []


def hunt(mutant: str, **more: Any) -> Hunt:
    return Hunt(mutant, **({"diverged": True} | more))


def test_the_table_shows_what_was_found_how_soon_and_whether_the_case_proves_it() -> None:
    hunts = [
        hunt("reset-as-eof", examples=12, seconds=4.25, case="out/a.yaml", replayed=("fail", "pass")),
        hunt("close-without-flush", examples=80, seconds=50.0, case="out/b.yaml", replayed=("pass", "pass")),
        hunt("sni-not-sent", examples=7, seconds=3.0, problem="inexpressible: a large chunk"),
        Hunt("leading-zero-port-octal", diverged=False, problem="no divergence", total_examples=300, total_seconds=9),
    ]
    shown = table(hunts)
    assert "| reset-as-eof | yes | 12 | 4 | `out/a.yaml` | fail / pass |" in shown
    assert "| close-without-flush | diverged | 80 | 50 | `out/b.yaml` | pass / pass **not proven** |" in shown
    assert "| sni-not-sent | diverged | 7 | 3 | inexpressible: a large chunk |  |" in shown
    assert "| leading-zero-port-octal | **no** | 300 | 9 | no divergence |  |" in shown
    said = summary(hunts, 61.0)
    # Only a proven case counts as found.
    assert said.startswith("1 of 4 mutants found (25%): a written case that fails on the mutant")
    assert "diverged, no proven case: close-without-flush, sni-not-sent" in said
    assert "missed: leading-zero-port-octal" in said
    assert [result.found for result in hunts] == [True, False, False, False]
    assert hunts[0].line() == "found after 12 examples, 4 s: out/a.yaml"
    assert hunts[3].line() == "missed (300 examples, 9 s): no divergence"


def test_every_capability_a_feature_needs_is_one_the_spec_knows() -> None:
    from conformance.schema import load

    known = set(load("case.schema.json")["$defs"]["capability"]["enum"])
    assert known >= ALL_CAPABILITIES


class VaryingSearch(Search):
    """A mutant that drops a flush: how many bytes got through before the reset differs on every run."""

    FLUSH = Scenario(
        "plain",
        (
            {"connect": {"address": "${peer.address}"}},
            {"peer.accept": {}, "within": "600ms"},
            {"write": {"pattern": "xyz", "size": "4MiB"}, "within": "250ms"},
            {"close": {}, "within": "250ms"},
            {"peer.recv": {"n": None}, "within": "5s"},
        ),
    )

    def __init__(self, tmp_path: Path, *, timing: bool = False) -> None:
        #: The against side varies too: the peer's read timed out with more or less of a large send.
        self.timing = timing
        pair = SimpleNamespace(
            lanes=tuple(SimpleNamespace(adapter=SimpleNamespace(name=name)) for name in ("ours", "theirs")),
            case=lambda scenario, text=None: text,
            run=lambda case, observe_only=True, apart=False: (
                SimpleNamespace(outcome=Outcome.FAIL),
                SimpleNamespace(outcome=Outcome.PASS),
            ),
        )
        super().__init__(cast(Pair, pair), Normaliser([]), 10, None, 0, tmp_path, profile=Profile(frozenset()))
        self.runs = 0

    def observe(
        self, scenario: Scenario, apart: bool = False
    ) -> tuple[list[Observation], list[Observation], Divergence | None]:
        self.runs += 1
        head = [
            Observation(1, "connect", {"status": "returned", "value": "socket"}),
            Observation(2, "peer.accept", {"accepted": True}),
            Observation(3, "write", {"status": "resolved", "value": {"$type": "undefined"}}),
            Observation(4, "close", {"status": "resolved", "value": {"$type": "undefined"}}),
        ]
        received = {"length": (4 << 20) - self.runs if self.timing else 4 << 20, "timed_out": self.timing}
        theirs = [*head, Observation(5, "peer.recv", received)]
        cut = {"length": 3_900_000 + self.runs, "timed_out": self.timing}
        ours = [*head, Observation(5, "peer.recv", cut)]
        return ours, theirs, Divergence(5, "peer.recv", cut, theirs[-1].seen)


def test_a_divergence_of_the_same_kind_with_other_byte_counts_on_replay_is_not_flaky(tmp_path: Path) -> None:
    search = VaryingSearch(tmp_path)
    finding = search.prove(VaryingSearch.FLUSH)
    assert search.runs == search_module.REPLAYS
    assert finding.problem is None
    assert finding.path is not None
    assert finding.path.exists()
    written = yaml.safe_load(finding.path.read_text())[0]["steps"]
    assert written[-1] == {"peer.recv": {"n": None}, "within": "5s", "expect": {"size": 4 << 20}}


def test_a_divergence_where_the_against_side_varies_on_replay_too_is_flaky(tmp_path: Path) -> None:
    finding = VaryingSearch(tmp_path, timing=True).prove(VaryingSearch.FLUSH)
    assert finding.problem == "flaky: it diverged differently on replay"
    assert finding.path is None


def test_a_case_written_for_a_scenario_behind_an_outbound_worker_keeps_its_environment(tmp_path: Path) -> None:
    # Issue 23: written without it, the case's connect reached the peer on both sides (6 mutants).
    scenario = Scenario(VaryingSearch.FLUSH.peer, VaryingSearch.FLUSH.steps, "outbound-worker", ("outbound",))
    finding = VaryingSearch(tmp_path).prove(scenario)
    assert finding.path is not None
    case = yaml.safe_load(finding.path.read_text())[0]
    assert case["environment"] == "outbound-worker"
    assert case["requires"] == ["outbound-worker"]


def _options(connect: dict[str, Any]) -> dict[str, Any]:
    """A connect's options when they are an object (odd options may be a number or a list)."""
    found = connect.get("options")
    return found if isinstance(found, dict) else {}


def _edge_kind(scenario: Scenario) -> str | None:
    """Which edge a scenario's first connect aims at, if any (issue 23: none of these was drawn)."""
    from conformance.sandbox.ranges import published

    listener = scenario.listener
    connect = scenario.steps[0]["connect"]
    address = connect.get("address")
    text = address if isinstance(address, str) else str(address.get("hostname")) if isinstance(address, dict) else ""
    port = address.get("port") if isinstance(address, dict) else None
    if listener.host in published().edges():
        return "a range's first or last address"
    if listener.host in published().beside():
        return "beside a range"
    if text.startswith(("1745879041", "0x68", "0150", "104.16.1", "104.1048577")):
        return "a legacy IPv4 spelling"
    if text.startswith(("[0:0:0:0:0:ffff", "[::FFFF", "[2606:4700:0", "[2400:CB00", "[2400:cb00:0")):
        return "an IPv6 spelling"
    if "${sandbox.name.mixed" in text:
        return "a name with an allowed and a blocked address"
    if listener.port == 25 and _options(connect).get("secureTransport") in ("on", "starttls"):
        return "port 25 with TLS"
    if text == "${peer.host}:0${peer.port}" and listener.port in (4321, 1234, 7654):
        return "a port only octal digits spell"
    if port in (65535, "65535"):
        return "port 65535"
    if address in ("127.0.0.1", "localhost"):
        return "no port"
    if isinstance(port, dict) and port.get("value") in ("Infinity", "-Infinity"):
        return "an infinite port"
    return None


def test_the_edges_feature_aims_first_connects_at_every_kind_of_edge() -> None:
    seen: set[str] = set()

    def record(scenario: Scenario) -> bool:
        if "edges" in scenario.features:
            seen.add(str(_edge_kind(scenario)))
        return False

    chosen = settings(max_examples=600, database=None, phases=[Phase.generate], suppress_health_check=list(HealthCheck))
    with pytest.raises(NoSuchExample):
        find(scenarios(Profile()), record, settings=chosen, random=random.Random(1))
    assert seen >= {
        "a range's first or last address",
        "beside a range",
        "a legacy IPv4 spelling",
        "an IPv6 spelling",
        "a name with an allowed and a blocked address",
        "port 25 with TLS",
        "a port only octal digits spell",
        "port 65535",
        "no port",
        "an infinite port",
    }


def _drawn(count: int, seed: int = 1) -> list[Scenario]:
    found: list[Scenario] = []

    def record(scenario: Scenario) -> bool:
        found.append(scenario)
        return False

    chosen = settings(
        max_examples=count, database=None, phases=[Phase.generate], suppress_health_check=list(HealthCheck)
    )
    with pytest.raises(NoSuchExample):
        find(scenarios(Profile()), record, settings=chosen, random=random.Random(seed))
    return found


def _upgrade_shapes(scenario: Scenario) -> set[str]:
    """What a scenario checks around startTls(), named as the mutants of issue 23 need it."""
    steps = list(scenario.steps)
    connect = steps[0]["connect"]
    old = steps[0].get("as")
    shapes: set[str] = set()
    upgrades = [index for index, step in enumerate(steps) if "start_tls" in step]
    handshakes = [index for index, step in enumerate(steps) if "peer.start_tls" in step]
    if not upgrades or not handshakes or _options(connect).get("secureTransport") != "starttls":
        return shapes
    new = steps[upgrades[0]].get("as")
    between = steps[upgrades[0] + 1 : handshakes[0]]
    after = steps[handshakes[0] + 1 :]
    for step in between:
        if step.get("get") == "upgraded":
            shapes.add("old upgraded before the handshake" if step.get("socket") == old else "new upgraded")
        if "start_tls" in step and step.get("socket") == old:
            shapes.add("a second startTls")
        if step.get("await") == "closed" and step.get("socket") == old:
            shapes.add("old closed")
        if "desired_size" in step and "highWaterMark" in _options(connect):
            shapes.add("an inherited highWaterMark")
    if any(step.get("await") == "opened" and step.get("socket") == new for step in after):
        shapes.add("new opened after the handshake")
    if "expectedServerHostname" in str(steps[upgrades[0]].get("start_tls")):
        shapes.add("expectedServerHostname")
    queued = [step for step in between if "write" in step and step.get("socket") == new and "as" in step]
    if len(queued) > 8:
        shapes.add("more than eight writes queued")
    if (
        queued
        and any("abort_writer" in step for step in between)
        and after
        and after[0].get("await") == "q" + str(len(queued) - 1)
    ):
        shapes.add("queued writes aborted, then the last one awaited")
    return shapes


def test_the_upgrade_feature_draws_every_check_around_start_tls() -> None:
    # Issue 23: with a starttls listener dialled without its transport, or the checks drawn among
    # every other move, the upgrade mutants were never reached.
    shapes: set[str] = set()
    on = set()
    for scenario in _drawn(400):
        if "upgrade" in scenario.features:
            shapes |= _upgrade_shapes(scenario)
            first = scenario.steps[0]["connect"]
            tls = scenario.peer == "tls" or (isinstance(scenario.peer, dict) and scenario.peer.get("kind") == "tls")
            if tls and _options(first).get("secureTransport") == "on" and "peer.accept" in scenario.steps[1]:
                on.add(str(scenario.peer))
    assert shapes >= {
        "old upgraded before the handshake",
        "new upgraded",
        "a second startTls",
        "old closed",
        "an inherited highWaterMark",
        "new opened after the handshake",
        "expectedServerHostname",
        "more than eight writes queued",
        "queued writes aborted, then the last one awaited",
    }
    # secureTransport "on" against listeners with a good and a bad certificate.
    assert "tls" in on
    assert any("wrong-host" in text or "untrusted" in text for text in on)


def test_a_burst_frees_a_slot_by_closing_the_first_socket_or_by_the_peer_s_reset() -> None:
    # Issue 23: the slot a close frees must go to the socket waiting longest (the seventh), and a
    # reset must free one too; the bursts only ever closed a waiting socket.
    shapes: set[str] = set()
    for scenario in _drawn(600):
        steps = list(scenario.steps)
        names = [step.get("as") for step in steps if "connect" in step]
        for index, step in enumerate(steps[:-1]):
            follow = steps[index + 1]
            closes_first = len(names) >= 8 and "close" in step and step.get("socket") == names[0]
            if closes_first and follow.get("await") == "opened" and follow.get("socket") == names[6]:
                shapes.add("close the first, then the seventh's opened")
            seventh = names[6] if len(names) >= 7 else None
            if "peer.reset" in step and follow.get("await") == "opened" and follow.get("socket") == seventh:
                shapes.add("a reset, then the seventh's opened")
            if "get_reader" in step and any("get_reader" in later for later in steps[index + 1 : index + 3]):
                shapes.add("a second getReader")
    assert shapes == {
        "close the first, then the seventh's opened",
        "a reset, then the seventh's opened",
        "a second getReader",
    }
