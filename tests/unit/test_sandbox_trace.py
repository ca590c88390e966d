"""Reading strace output for destinations: what the hermetic-run proof relies on."""

from __future__ import annotations

from pathlib import Path

from conformance.sandbox.trace import destinations, main, summarize

SANDBOX = ("104.16.0.1", "172.64.0.1", "2606:4700::1", "2400:cb00::1")

# Lines in strace's own formats (strace 6.1, -f): TCP to the peer, a UDP connect glibc makes
# to sort addresses, a resumed call, an nscd attempt, netlink and AF_UNSPEC (ignored).
LOCAL_TRACE = """\
24860 connect(7, {sa_family=AF_INET, sin_port=htons(47773), sin_addr=inet_addr("127.0.0.1")}, 16) = -1 EINPROGRESS (Operation now in progress)
24860 connect(3, {sa_family=AF_INET6, sin6_port=htons(0), sin6_flowinfo=htonl(0), inet_pton(AF_INET6, "2400:cb00::1", &sin6_addr), sin6_scope_id=0}, 28) = 0
24860 connect(3, {sa_family=AF_INET, sin_port=htons(0), sin_addr=inet_addr("104.16.0.1")}, 16) = 0
25002 connect(21, {sa_family=AF_INET6, sin6_port=htons(41000), sin6_flowinfo=htonl(0), inet_pton(AF_INET6, "::1", &sin6_addr), sin6_scope_id=0}, 28 <unfinished ...>
25002 <... connect resumed>)            = -1 ECONNREFUSED (Connection refused)
25004 sendto(12, "\\301\\n", 2, MSG_NOSIGNAL, NULL, 0 <unfinished ...>
24860 connect(3, {sa_family=AF_UNIX, sun_path="/var/run/nscd/socket"}, 110) = -1 ENOENT (No such file or directory)
24860 sendto(3, [{nlmsg_len=20, nlmsg_type=RTM_GETADDR}], 20, 0, {sa_family=AF_NETLINK, nl_pid=0, nl_groups=00000000}, 12) = 20
24860 connect(3, {sa_family=AF_UNSPEC, sa_data="\\0\\0"}, 16) = 0
25010 connect(9, {sa_family=AF_INET6, sin6_port=htons(80), sin6_flowinfo=htonl(0), inet_pton(AF_INET6, "::ffff:104.16.0.1", &sin6_addr), sin6_scope_id=0}, 28) = 0
25011 connect(9, {sa_family=AF_INET, sin_port=htons(9), sin_addr=inet_addr("0.0.0.0")}, 16) = -1 ECONNREFUSED (Connection refused)
"""

# What the issue saw outside a sandbox: glibc asking the machine's resolver.
LEAKING_TRACE = """\
31337 connect(23, {sa_family=AF_INET, sin_port=htons(53), sin_addr=inet_addr("10.255.255.53")}, 16) = 0
31337 sendmmsg(23, [{msg_hdr={msg_name=NULL, msg_namelen=0, msg_iov=[{iov_base="\\x12\\x34", iov_len=2}]}}], 2, MSG_NOSIGNAL) = 2
31338 sendto(5, "x", 1, 0, {sa_family=AF_INET6, sin6_port=htons(443), sin6_flowinfo=htonl(0), inet_pton(AF_INET6, "2606:4700::2", &sin6_addr), sin6_scope_id=0}, 28) = -1 ENETUNREACH (Network is unreachable)
31339 sendmsg(6, {msg_name={sa_family=AF_INET, sin_port=htons(53), sin_addr=inet_addr("127.0.0.1")}, msg_namelen=16}, 0) = 40
"""


def test_every_sockaddr_is_a_destination_with_its_call_port_and_error() -> None:
    found = destinations(LOCAL_TRACE.splitlines())
    assert [d.where for d in found] == [
        "127.0.0.1:47773",
        "[2400:cb00::1]:0",
        "104.16.0.1:0",
        "[::1]:41000",
        '"/var/run/nscd/socket"',
        "[::ffff:104.16.0.1]:80",
        "0.0.0.0:9",
    ]
    assert found[0].error == "EINPROGRESS"
    assert found[1].error is None
    assert {d.call for d in found} == {"connect"}
    assert [d.call for d in destinations(LEAKING_TRACE.splitlines())] == ["connect", "sendto", "sendmsg"]


def test_a_local_trace_is_clean() -> None:
    summary = summarize(LOCAL_TRACE.splitlines(), SANDBOX)
    assert summary.ok
    assert summary.outside == []
    assert summary.dns == []
    assert summary.total == 7
    assert summary.unix == {'"/var/run/nscd/socket"': 1}
    assert summary.allowed_seen == {"2400:cb00::1": 1, "104.16.0.1": 1, "::ffff:104.16.0.1": 1}


def test_without_the_sandbox_addresses_allowed_they_are_outside() -> None:
    summary = summarize(LOCAL_TRACE.splitlines())
    assert not summary.ok
    assert sorted(d.address for d in summary.outside) == ["104.16.0.1", "2400:cb00::1", "::ffff:104.16.0.1"]


def test_a_query_to_the_machine_resolver_is_caught() -> None:
    summary = summarize(LEAKING_TRACE.splitlines(), SANDBOX)
    assert not summary.ok
    assert [d.where for d in summary.outside] == ["10.255.255.53:53", "[2606:4700::2]:443"]
    assert [d.where for d in summary.dns] == ["10.255.255.53:53", "127.0.0.1:53"]
    assert [d.where for d in summary.dns_left] == ["10.255.255.53:53"]
    assert "left loopback: 1" in summary.text()


def test_the_command_exits_1_on_a_leak(tmp_path: Path) -> None:
    clean = tmp_path / "clean.log"
    clean.write_text(LOCAL_TRACE)
    leak = tmp_path / "leak.log"
    leak.write_text(LEAKING_TRACE)
    allow = [arg for address in SANDBOX for arg in ("--allow", address)]
    assert main([str(clean), *allow]) == 0
    assert main([str(leak), *allow]) == 1


def test_allow_sandbox_allows_every_address_of_the_sandbox(tmp_path: Path) -> None:
    edge = tmp_path / "edge.log"
    edge.write_text(
        '7 connect(9, {sa_family=AF_INET, sin_port=htons(4242), sin_addr=inet_addr("104.23.255.254")}, 16)'
        " = -1 EINPROGRESS (Operation now in progress)\n"
        '7 connect(9, {sa_family=AF_INET, sin_port=htons(4242), sin_addr=inet_addr("104.15.255.255")}, 16) = 0\n'
    )
    assert main([str(edge), *(arg for address in SANDBOX for arg in ("--allow", address))]) == 1
    assert main([str(edge), "--allow-sandbox"]) == 0
