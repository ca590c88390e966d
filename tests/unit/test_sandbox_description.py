"""What a sandbox contains, and its pure checks (the namespace side is in tests/integration/test_sandbox.py)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import pytest

from conformance.cases.loader import load_strict
from conformance.sandbox import runtime_allow, verify
from conformance.sandbox.create import explain, unshare_prefix
from conformance.sandbox.description import ENV_VAR, Description, current, hostname_of, nameservers
from conformance.sandbox.enter import address_commands
from conformance.sandbox.ranges import cloudflare_network, is_cloudflare, published
from tests.helpers import REPO

OUTER = Description().with_outer(netns=4026531840, mntns=4026531841, nameservers=("10.255.255.53",), hostname="vm")


def test_the_default_layout_has_two_cloudflare_addresses_per_family_from_different_ranges() -> None:
    described = Description()
    assert len(described.cloudflare_v4) >= 2
    assert len(described.cloudflare_v6) >= 2
    assert len({cloudflare_network(a) for a in described.cloudflare_v4}) == len(described.cloudflare_v4)
    assert len({cloudflare_network(a) for a in described.cloudflare_v6}) == len(described.cloudflare_v6)
    assert all(is_cloudflare(a) for a in described.cloudflare_v4 + described.cloudflare_v6)
    assert described.privileged_port == 25


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"cloudflare_v4": ("8.8.8.8", "104.16.0.1")}, "not in a published Cloudflare range"),
        ({"cloudflare_v4": ("2606:4700::1", "104.16.0.1")}, "not an IPv4 address"),
        ({"cloudflare_v6": ("104.16.0.1", "2606:4700::1")}, "not an IPv6 address"),
        ({"names": {"away": ("10.0.0.1",)}}, "only to sandbox addresses"),
        ({"names": {"none": ()}}, "only to sandbox addresses"),
        ({"unresolvable": ("nothing.example",)}, r"must end in \.invalid"),
        ({"edges": ("104.15.255.255",)}, "edge address '104.15.255.255' is not in a published Cloudflare range"),
        ({"beside": ("104.16.0.0",)}, "must be a public address in no Cloudflare range"),
        ({"beside": ("10.0.0.1",)}, "must be a public address in no Cloudflare range"),
        ({"names": {"away": ("104.15.255.254",)}}, "only to sandbox addresses"),
    ],
)
def test_a_description_that_could_reach_outside_is_refused(change: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        replace(Description(), **change)  # type: ignore[arg-type]


def test_the_sandbox_also_binds_the_edges_of_every_range_and_the_addresses_beside_them() -> None:
    described = Description()
    ranges = published()
    assert set(described.on_lo) == {
        *described.cloudflare_v4,
        *described.cloudflare_v6,
        *ranges.edges(),
        *ranges.beside(),
    }
    assert len(described.on_lo) == len(set(described.on_lo))
    assert "104.23.255.254" in described.on_lo
    assert "104.15.255.255" in described.on_lo
    assert "104.16.0.2" not in described.on_lo


def test_names_with_a_blocked_and_an_allowed_address_in_both_orders() -> None:
    names = Description().names
    assert names["mixed"] == ("127.0.0.1", "104.16.0.1")
    assert names["mixed_public"] == ("104.15.255.255", "104.16.0.1")
    assert names["mixed_public_reversed"] == ("104.16.0.1", "104.15.255.255")
    assert names["mixed6"] == ("2606:46ff:ffff:ffff:ffff:ffff:ffff:ffff", "2606:4700::1")
    assert names["mixed6_reversed"] == tuple(reversed(names["mixed6"]))
    for role in ("mixed_public", "mixed6"):
        allowed, blocked = names[role]
        assert not is_cloudflare(allowed)
        assert is_cloudflare(blocked)


def test_a_runtime_allows_every_address_of_the_sandbox(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV_VAR, OUTER.to_json())
    allowed = runtime_allow()
    assert len(allowed) == len(OUTER.on_lo)
    assert "104.23.255.254/32" in allowed
    assert "2606:46ff:ffff:ffff:ffff:ffff:ffff:ffff/128" in allowed
    monkeypatch.delenv(ENV_VAR)
    assert runtime_allow() == ()


def test_the_addresses_go_on_lo_in_one_batch_each_alone() -> None:
    lines = address_commands(OUTER)
    assert len(lines) == len(OUTER.on_lo)
    assert "address add 104.16.0.1/32 dev lo" in lines
    assert "address add 2606:4700::1/128 dev lo nodad" in lines


def test_json_round_trip_and_the_environment() -> None:
    assert Description.from_json(OUTER.to_json()) == OUTER
    assert current({ENV_VAR: OUTER.to_json()}) == OUTER
    assert current({}) is None
    with pytest.raises(ValueError, match=f"invalid sandbox description in \\${ENV_VAR}"):
        current({ENV_VAR: '{"format": 99}'})
    with pytest.raises(ValueError, match=ENV_VAR):
        current({ENV_VAR: "not json"})


def test_the_hosts_file_lists_every_name_and_address() -> None:
    hosts = OUTER.hosts_file()
    pairs = {tuple(line.split("\t")) for line in hosts.splitlines() if line and not line.startswith("#")}
    assert ("127.0.0.1", "localhost") in pairs
    assert ("127.0.0.1", "vm") in pairs
    for role, addresses in OUTER.names.items():
        for address in addresses:
            assert (address, hostname_of(role)) in pairs
    assert ("104.16.0.1", "cloudflare.sandbox.test") in pairs
    assert ("2606:4700::1", "cloudflare6.sandbox.test") in pairs
    assert not any("invalid" in line for line in hosts.splitlines())


def test_resolv_conf_points_only_at_loopback() -> None:
    assert nameservers(OUTER.resolv_conf()) == ("127.0.0.1",)
    assert "search" not in OUTER.resolv_conf()
    assert nameservers("# x\nnameserver 10.255.255.53\nnameserver ::1\nsearch a\n") == ("10.255.255.53", "::1")


def test_nsswitch_keeps_the_machine_lines_but_hosts() -> None:
    machine = "passwd: files systemd\nhosts:          files dns mdns4\nnetworks: files\n"
    ours = Description.nsswitch_conf(machine)
    assert "passwd: files systemd" in ours
    assert "networks: files" in ours
    assert [line for line in ours.splitlines() if line.startswith("hosts:")] == ["hosts: files"]
    assert verify.nsswitch_problems(ours) == []


def test_variables_for_cases() -> None:
    variables = OUTER.variables()
    assert variables["sandbox.cloudflare_v4"] == "104.16.0.1"
    assert variables["sandbox.cloudflare_v4_b"] == "172.64.0.1"
    assert variables["sandbox.cloudflare_v6"] == "2606:4700::1"
    assert variables["sandbox.cloudflare_v4_mapped"] == "::ffff:104.16.0.1"
    assert variables["sandbox.name.cloudflare"] == "cloudflare.sandbox.test"
    assert variables["sandbox.name.cloudflare_dual"] == "cloudflare-dual.sandbox.test"
    assert variables["sandbox.name.unresolvable"].endswith(".invalid")
    assert variables["sandbox.port.privileged"] == 25


# -- verify: the pure checks --------------------------------------------------------------------


def _link(name: str, *flags: str, addresses: tuple[str, ...] = ()) -> dict[str, object]:
    return {"ifname": name, "flags": list(flags), "addr_info": [{"local": a} for a in addresses]}


def test_interfaces() -> None:
    assert verify.interface_problems([_link("lo", "LOOPBACK", "UP")]) == []
    assert verify.interface_problems([_link("lo", "LOOPBACK")]) == ["lo is down"]
    assert verify.interface_problems([]) == ["there is no lo interface"]
    assert verify.interface_problems([_link("lo", "UP"), _link("eth0", "UP")]) == [
        "interface eth0 exists besides lo and is up"
    ]
    assert verify.interface_problems([_link("lo", "UP"), _link("sit0", "NOARP")]) == []
    assert verify.interface_problems([_link("lo", "UP"), _link("sit0", "UP")]) != []


def test_routes() -> None:
    assert verify.route_problems([{"type": "local", "dst": "127.0.0.0/8", "dev": "lo"}]) == []
    assert verify.route_problems([{"type": "unreachable", "dst": "10.0.0.0/8"}]) == []
    assert verify.route_problems([{"dst": "default", "gateway": "10.0.0.1", "dev": "eth0"}]) == [
        "route default goes through eth0 via 10.0.0.1, not lo"
    ]
    assert verify.route_problems([{"dst": "default", "gateway": "127.0.0.2", "dev": "lo"}]) != []


def test_addresses_on_lo() -> None:
    links = [_link("lo", "UP", addresses=("127.0.0.1", "104.16.0.1", "2606:4700:0:0::1"))]
    assert verify.address_problems(links, ["104.16.0.1", "2606:4700::1"]) == []
    assert verify.address_problems(links, ["172.64.0.1"]) == ["172.64.0.1 is not on lo"]


def test_files_and_nsswitch() -> None:
    assert verify.file_problems("/etc/hosts", "x", "x") == []
    assert verify.file_problems("/etc/hosts", None, "x") == ["/etc/hosts cannot be read"]
    assert verify.file_problems("/etc/hosts", "127.0.0.1 localhost\n", "x") != []
    assert verify.nsswitch_problems("hosts: files dns\n") != []
    assert verify.nsswitch_problems("hosts: files\nhosts: files\n") != []
    assert verify.nsswitch_problems("passwd: files\n") != []


def test_namespaces() -> None:
    assert verify.namespace_problems({"net": 2, "mnt": 3}, {"net": 1, "mnt": 1}) == []
    assert verify.namespace_problems({"net": 1, "mnt": 3}, {"net": 1, "mnt": 1}) == [
        "this process is in the machine's net namespace, not in a sandbox of its own"
    ]
    assert verify.namespace_problems({"net": 2}, {"net": 0}) != []


def test_probe_targets() -> None:
    targets = verify.probe_targets(OUTER)
    assert "8.8.8.8" in targets
    assert "10.255.255.53" in targets  # the machine's resolver
    assert "104.16.0.2" in targets  # in a Cloudflare range, but not on lo
    assert "2606:4700::2" in targets
    assert not set(targets) & set(OUTER.on_lo)
    assert "104.16.0.0" in targets  # below the first edge: the range's own network address
    assert "104.23.255.255" in targets  # past the last edge of 104.16.0.0/13
    assert "104.15.255.254" in targets  # below the address beside it
    assert "2606:4700::" in targets
    loopback_resolver = replace(OUTER, outer_nameservers=("127.0.0.53",))
    assert "127.0.0.53" not in verify.probe_targets(loopback_resolver)


def test_route_lookups_read_from_one_batch() -> None:
    stdout = '[{"type":"local","dst":"104.16.0.1","dev":"lo"}]\n'
    stderr = (
        "RTNETLINK answers: Network is unreachable\nCommand failed -:2\n"
        'Error: any valid prefix is expected rather than "x".\nCommand failed -:3\n'
    )
    routes = verify.batch_routes(["104.16.0.1", "8.8.8.8", "x"], stdout, stderr)
    assert routes["8.8.8.8"] is None
    assert routes["104.16.0.1"] == '[{"type":"local","dst":"104.16.0.1","dev":"lo"}]'
    assert routes["x"] == 'Error: any valid prefix is expected rather than "x".'
    assert verify.batch_routes(["1.2.3.4"], "", "") == {"1.2.3.4": "a route (ip printed nothing)"}


# -- create: can a sandbox be made here -------------------------------------------------------


def _which(*present: str) -> Callable[[str], str | None]:
    return lambda tool: f"/usr/bin/{tool}" if tool in present else None


def test_explain() -> None:
    tools = _which("unshare", "ip")
    assert explain("linux", tools, 0, {}).ok
    assert explain("linux", tools, 1000, {"kernel.unprivileged_userns_clone": None}).user_namespace
    darwin = explain("darwin", tools, 0, {})
    assert not darwin.ok
    assert "only on Linux" in darwin.reason
    missing = explain("linux", _which("ip"), 0, {})
    assert "'unshare' (util-linux) is not on PATH" in missing.reason
    disabled = explain("linux", tools, 1000, {"kernel.unprivileged_userns_clone": 0})
    assert not disabled.ok
    assert "unprivileged user namespaces are disabled" in disabled.reason
    assert not explain("linux", tools, 1000, {"user.max_user_namespaces": 0}).ok
    assert explain("linux", tools, 0, {"user.max_user_namespaces": 0}).ok


def test_unshare_prefix() -> None:
    assert unshare_prefix(False) == ["unshare", "--net", "--mount", "--propagation", "private"]
    assert unshare_prefix(True)[:3] == ["unshare", "--user", "--map-root-user"]


# -- the cases that use the edges ---------------------------------------------------------------


def test_the_range_edge_cases_listen_on_exactly_the_sandbox_edges_and_beside_addresses() -> None:
    """spec/policy/range-edges.yaml writes its addresses out: it must follow the data file."""
    cases = load_strict([REPO / "spec" / "policy" / "range-edges.yaml"])
    refused = {case.peer.host for case in cases if case.id.endswith("-not-dialled")}
    dialled = {case.peer.host for case in cases if case.id.endswith("-dialled") and case.peer.host not in refused}
    ranges = published()
    assert refused == set(ranges.edges())
    assert dialled == set(ranges.beside())
    assert len(cases) == len(refused) + len(dialled)
    assert all("sandbox" in case.requires for case in cases)


def test_a_listener_on_an_address_written_out_must_be_one_of_the_sandbox() -> None:
    from conformance.core.model import PeerSpec
    from conformance.errors import InfrastructureError
    from conformance.execution.runner import Environment

    inside = Environment(OUTER)
    assert inside.host("104.23.255.254") == "104.23.255.254"
    assert inside.host("sandbox-cloudflare-v6-b") == "2400:cb00::1"
    assert inside.host("127.0.0.1") == "127.0.0.1"
    with pytest.raises(InfrastructureError, match="not an address of the sandbox"):
        inside.host("104.16.0.2")
    with pytest.raises(InfrastructureError, match="exists only in the sandbox"):
        Environment().host("104.23.255.254")
    assert PeerSpec(host="104.23.255.254").needs_sandbox
    assert not PeerSpec(host="::1").needs_sandbox
