"""What a sandbox contains, and its pure checks (the namespace side is in tests/integration/test_sandbox.py)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import pytest

from conformance.sandbox import verify
from conformance.sandbox.create import explain, unshare_prefix
from conformance.sandbox.description import ENV_VAR, Description, current, hostname_of, nameservers
from conformance.sandbox.ranges import cloudflare_network, is_cloudflare

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
    ],
)
def test_a_description_that_could_reach_outside_is_refused(change: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        replace(Description(), **change)  # type: ignore[arg-type]


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
    assert not set(targets) & set(OUTER.cloudflare_v4 + OUTER.cloudflare_v6)
    loopback_resolver = replace(OUTER, outer_nameservers=("127.0.0.53",))
    assert "127.0.0.53" not in verify.probe_targets(loopback_resolver)


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
