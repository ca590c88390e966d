"""The network sandbox for real: namespaces are created, checked, used and left behind clean.

Every probe that dials a public or private address runs *inside* a sandbox, and only after
the sandbox passed its own check (the scripts below refuse to dial otherwise).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from conformance.sandbox import command, problems
from conformance.sandbox.create import outer_description
from conformance.sandbox.description import Description
from tests.helpers import REPO, require_sandbox
from tests.integration.cli import run_cli


@pytest.fixture(autouse=True)
def _sandbox() -> None:
    require_sandbox()


#: Prepended to every inner script: stop unless we are in a sandbox that passed its check.
PRELUDE = """\
import errno, json, os, socket, subprocess, sys, time
from conformance.sandbox import current, problems
described = current()
assert described is not None and problems(described) == [], "not in a checked sandbox: refusing to dial"
"""


def inside(script: str, tmp_path: Path, user_namespace: bool | None = None, timeout: float = 60) -> Any:
    """Run ``script`` in a new sandbox; it prints one JSON value last, which is returned."""
    temp = tmp_path / "tmp"
    temp.mkdir(exist_ok=True)
    line = command([sys.executable, "-c", PRELUDE + textwrap.dedent(script)], user_namespace=user_namespace)
    done = subprocess.run(
        line,
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=REPO,
        env={**os.environ, "TMPDIR": str(temp)},
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_the_sandbox_passes_its_check_and_describes_itself(tmp_path: Path) -> None:
    seen = inside(
        """
        links = json.loads(subprocess.run(["ip", "-j", "link"], capture_output=True, text=True).stdout)
        print(json.dumps({
            "problems": problems(described),
            "description": described.to_json(),
            "netns": os.stat("/proc/self/ns/net").st_ino,
            "links": [link["ifname"] for link in links],
            "hosts": open("/etc/hosts").read(),
        }))
        """,
        tmp_path,
    )
    assert seen["problems"] == []
    assert seen["netns"] != os.stat("/proc/self/ns/net").st_ino
    assert seen["links"] == ["lo"]
    described = Description.from_json(seen["description"])
    assert described == outer_description()
    assert seen["hosts"] == described.hosts_file()


def test_port_25_and_the_cloudflare_addresses_accept_inside(tmp_path: Path) -> None:
    seen = inside(
        """
        results = {}
        for address in ("127.0.0.1", "::1", *described.on_lo):
            family = socket.AF_INET6 if ":" in address else socket.AF_INET
            with socket.socket(family) as listener:
                listener.bind((address, described.privileged_port))
                listener.listen()
                with socket.create_connection((address, described.privileged_port), timeout=5) as client:
                    client.sendall(b"EHLO")
                    accepted, peer = listener.accept()
                    with accepted:
                        results[address] = accepted.recv(4).decode()
        print(json.dumps(results))
        """,
        tmp_path,
    )
    described = Description()
    assert seen == {a: "EHLO" for a in ("127.0.0.1", "::1", *described.on_lo)}
    assert "104.23.255.254" in seen  # the last usable address of 104.16.0.0/13
    assert "104.15.255.255" in seen  # the address just below it


def test_nothing_outside_is_reachable(tmp_path: Path) -> None:
    seen = inside(
        """
        results = {}
        # The rest of each range and the addresses next to the ones beside it: each edge was added
        # alone, so its neighbours have no route.
        for address in ("8.8.8.8", "2001:4860:4860::8888", "10.0.0.1", "104.16.0.2", "2606:4700::2",
                        "104.23.255.253", "104.23.255.255", "104.15.255.254", "104.16.0.0", "2606:4700::ffff",
                        "2606:4701::1", *described.outer_nameservers):
            family = socket.AF_INET6 if ":" in address else socket.AF_INET
            with socket.socket(family) as client:
                client.settimeout(5)
                try:
                    client.connect((address, 53))
                    results[address] = "connected"
                except OSError as error:
                    results[address] = errno.errorcode.get(error.errno, str(error))
        print(json.dumps(results))
        """,
        tmp_path,
    )
    assert seen, "no probe ran"
    assert set(seen.values()) == {"ENETUNREACH"}, seen


def test_unknown_names_fail_at_once_and_no_query_is_sent(tmp_path: Path) -> None:
    seen = inside(
        """
        listeners = []
        for family, host in ((socket.AF_INET, "127.0.0.1"), (socket.AF_INET6, "::1")):
            listener = socket.socket(family, socket.SOCK_DGRAM)
            listener.bind((host, 53))
            listener.setblocking(False)
            listeners.append(listener)
        lookups = {}
        for name in (*described.unresolvable, "example.com", "localhost.localdomain", "cloudflare.sandbox.test"):
            started = time.monotonic()
            try:
                answer = sorted({info[4][0] for info in socket.getaddrinfo(name, 80, type=socket.SOCK_STREAM)})
            except socket.gaierror as error:
                answer = "EAI_NONAME" if error.errno == socket.EAI_NONAME else str(error)
            lookups[name] = [answer, time.monotonic() - started]
        time.sleep(0.2)
        def received():
            got = 0
            for listener in listeners:
                while True:
                    try:
                        listener.recv(2048)
                        got += 1
                    except BlockingIOError:
                        break
            return got
        queries = received()
        # The listeners do catch a datagram sent to the resolver of resolv.conf:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as client:
            client.sendto(b"control", ("127.0.0.1", 53))
        time.sleep(0.2)
        print(json.dumps({"lookups": lookups, "queries": queries, "control": received()}))
        """,
        tmp_path,
    )
    lookups = seen["lookups"]
    for name in (*Description().unresolvable, "example.com", "localhost.localdomain"):
        answer, took = lookups[name]
        assert answer == "EAI_NONAME", name
        assert took < 2, (name, took)  # under 1 ms here; a resolver's timeout is 5 s
    assert lookups["cloudflare.sandbox.test"][0] == ["104.16.0.1"]
    assert seen["queries"] == 0
    assert seen["control"] == 1


def test_the_check_finds_a_route_off_loopback_and_a_foreign_hosts_file(tmp_path: Path) -> None:
    seen = inside(
        """
        subprocess.run(["ip", "route", "add", "8.8.8.0/24", "dev", "lo"], check=True)
        with open(os.path.join(os.environ["TMPDIR"], "hosts"), "w") as hosts:
            hosts.write("10.0.0.1 cloudflare.sandbox.test\\n")
        subprocess.run(["mount", "--bind", hosts.name, "/etc/hosts"], check=True)
        print(json.dumps(problems(described)))
        """,
        tmp_path,
    )
    assert any(problem.startswith("8.8.8.8 is reachable") for problem in seen), seen
    assert "/etc/hosts is not the sandbox's (it was not mounted over, or was changed)" in seen


def test_the_user_namespace_variant(tmp_path: Path) -> None:
    seen = inside(
        """
        with socket.socket() as listener:
            listener.bind((described.cloudflare_v4[0], 25))
        print(json.dumps({"problems": problems(described), "uid_map": open("/proc/self/uid_map").read().split()}))
        """,
        tmp_path,
        user_namespace=True,
    )
    assert seen["problems"] == []
    assert seen["uid_map"][0] == "0"


def test_outside_a_sandbox_the_check_says_so_and_enter_changes_nothing(tmp_path: Path) -> None:
    described = outer_description()
    assert problems(described) == [
        "this process is in the machine's net namespace, not in a sandbox of its own",
        "this process is in the machine's mnt namespace, not in a sandbox of its own",
    ]
    hosts = Path("/etc/hosts").read_text()
    links = subprocess.run(["ip", "-j", "addr"], capture_output=True, text=True, check=True).stdout
    done = subprocess.run(
        [sys.executable, "-m", "conformance.sandbox.enter", described.to_json(), "--", "echo", "ran"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=REPO,
        check=False,
    )
    assert done.returncode == 3
    assert "ran" not in done.stdout
    assert "refusing to change anything" in done.stderr
    assert Path("/etc/hosts").read_text() == hosts
    assert subprocess.run(["ip", "-j", "addr"], capture_output=True, text=True, check=True).stdout == links


def test_nothing_is_left_on_the_machine(tmp_path: Path) -> None:
    hosts = Path("/etc/hosts").read_text()
    resolv = Path("/etc/resolv.conf").read_text()
    mounts = Path("/proc/self/mountinfo").read_text()
    assert inside("print(json.dumps(os.listdir(os.environ['TMPDIR'])))", tmp_path) == []
    assert list((tmp_path / "tmp").iterdir()) == []
    assert Path("/etc/hosts").read_text() == hosts
    assert Path("/etc/resolv.conf").read_text() == resolv
    assert Path("/proc/self/mountinfo").read_text() == mounts


def test_run_sandbox_reexecutes_inside(tmp_path: Path) -> None:
    done = run_cli(
        "run", "--sandbox", "-k", "address.ipv6-bracketed-string-connects or nonexistent", report_dir=tmp_path
    )
    assert done.code == 0, done.stderr
    outcomes = done.outcomes()
    assert outcomes
    assert set(outcomes.values()) == {"pass"}


def test_run_sandbox_with_a_broken_description_is_an_infrastructure_error(tmp_path: Path) -> None:
    done = run_cli(
        "run", "--sandbox", "-k", "nonexistent", report_dir=tmp_path, env={"CONNECT_CONFORMANCE_SANDBOX": "{}"}
    )
    assert done.code == 3
    assert "invalid sandbox description" in done.stderr
    described = outer_description().to_json()
    done = run_cli(
        "run", "--sandbox", "-k", "nonexistent", report_dir=tmp_path, env={"CONNECT_CONFORMANCE_SANDBOX": described}
    )
    assert done.code == 3
    assert "the network sandbox failed its check: this process is in the machine's net namespace" in done.stderr
    assert not (tmp_path / "results.json").exists()


def test_run_sandbox_where_none_can_be_made_says_why(tmp_path: Path) -> None:
    empty = tmp_path / "bin"
    empty.mkdir()
    done = run_cli("run", "--sandbox", "-k", "nonexistent", report_dir=tmp_path, env={"PATH": str(empty)})
    assert done.code == 3
    assert "cannot create the network sandbox here: 'unshare' (util-linux) is not on PATH" in done.stderr
