"""The server side of the drivers area, without starting anything: errors, the registry, the pool's
memory, the description a scenario gets, accounts and the pure protocol helpers."""

from __future__ import annotations

import os
import pwd
import re
import shutil
import stat
from pathlib import Path
from typing import Any, cast

import pytest

from conformance.core.certificates import RunCertificates
from conformance.drivers import bundle, kinds, message_servers, process, servers, sql_servers
from conformance.drivers.process import Account, ProgramMissing, ServerExited, ServerFailed, ServerFolder
from conformance.drivers.servers import RunningServer, ServerInfo, ServerPool
from conformance.drivers.smtp_server import read_events

APT = "apt-get install -y --no-install-recommends"
NO_CERTS = cast(RunCertificates, object())


def info(**overrides: Any) -> ServerInfo:
    fields: dict[str, Any] = {
        "kind": "fake",
        "certificate": "good",
        "host": "127.0.0.1",
        "port": 1,
        "tls_port": None,
        "user": "u",
        "password": "p",
        "database": None,
        "ca_pem": "PEM",
        "version": "fake 1",
        "startup_s": 0.0,
    }
    return ServerInfo(**{**fields, **overrides})


def test_the_registry_has_the_five_kinds() -> None:
    assert sorted(servers.kinds()) == ["mariadb", "mosquitto", "postgres", "redis", "smtp"]


def test_an_unknown_kind_or_certificate_is_a_clear_error() -> None:
    with pytest.raises(
        ValueError, match=r'unknown server kind "oracle" \(known: mariadb, mosquitto, postgres, redis, smtp\)'
    ):
        servers.start("oracle", NO_CERTS)
    with pytest.raises(ValueError, match='unknown certificate "self-signed"'):
        servers.start("redis", NO_CERTS, "self-signed")


@pytest.mark.parametrize(
    ("kind", "install"),
    [
        ("postgres", f"{APT} postgresql"),
        ("redis", f"{APT} redis-server"),
        ("mariadb", f"{APT} mariadb-server"),
        ("mosquitto", f"{APT} mosquitto"),
        ("smtp", "pip install 'connect-conformance[drivers]'"),
    ],
)
def test_a_missing_program_names_its_install_command(kind: str, install: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(kinds, "find", lambda name, folders=(): None)
    monkeypatch.setattr(sql_servers, "postgres_bin", lambda: None)
    monkeypatch.setattr(message_servers, "aiosmtpd_installed", lambda: False)
    with pytest.raises(ProgramMissing) as raised:
        servers.start(kind, NO_CERTS)
    assert raised.value.install == install
    assert f"({install})" in str(raised.value)


class FakeKind:
    name = "fake"
    install = "apt-get install fake"

    def __init__(self, missing: bool = False, stop_error: bool = False) -> None:
        self.missing = missing
        self.stop_error = stop_error
        self.checks = 0
        self.starts = 0
        self.folders: list[ServerFolder] = []

    def check(self) -> None:
        self.checks += 1
        if self.missing:
            raise ProgramMissing("fake", self.install)

    def start(self, certs: RunCertificates, certificate: str) -> RunningServer:
        self.starts += 1
        folder = ServerFolder("connect-conformance-test-fake-", process.account_for([]))
        self.folders.append(folder)
        server = RunningServer(info(certificate=certificate), [], folder)
        if self.stop_error:

            def broken() -> None:
                folder.remove()
                raise RuntimeError("stop failed")

            server.stop = broken  # type: ignore[method-assign]
        return server


def test_the_pool_starts_each_kind_and_certificate_once_and_stops_them_all(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FakeKind()
    monkeypatch.setattr(servers, "kinds", lambda: {"fake": fake})
    with ServerPool(NO_CERTS) as pool:
        first = pool.get("fake")
        assert pool.get("fake") is first
        assert pool.get("fake", "untrusted").certificate == "untrusted"
        assert fake.starts == 2
        assert all(folder.path.is_dir() for folder in fake.folders)
    assert all(not folder.path.exists() for folder in fake.folders)
    pool.close()  # a second close does nothing


def test_the_pool_remembers_a_kind_that_cannot_start(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FakeKind(missing=True)
    monkeypatch.setattr(servers, "kinds", lambda: {"fake": fake})
    pool = ServerPool(NO_CERTS)
    with pytest.raises(ProgramMissing) as first:
        pool.get("fake")
    with pytest.raises(ProgramMissing) as second:
        pool.get("fake")
    assert second.value is first.value
    assert fake.checks == 1


def test_one_server_failing_to_stop_leaves_none_of_the_others_running(monkeypatch: pytest.MonkeyPatch) -> None:
    broken, fine = FakeKind(stop_error=True), FakeKind()
    monkeypatch.setattr(servers, "kinds", lambda: {"broken": broken, "fine": fine})
    pool = ServerPool(NO_CERTS)
    pool.get("fine")
    pool.get("broken")
    with pytest.raises(RuntimeError, match="stop failed"):
        pool.close()
    assert not fine.folders[0].path.exists()
    assert not broken.folders[0].path.exists()


def test_the_scenario_readme_documents_every_field_a_scenario_gets() -> None:
    readme = (bundle.scenario_folder() / "README.md").read_text(encoding="utf-8")
    table = readme.split("`server` is what the harness started", 1)[1].split("`options`", 1)[0]
    documented = set(
        re.findall(r"`([a-z_]+)`", "".join(line.split("|")[1] for line in table.splitlines() if line.startswith("| `")))
    )
    assert documented == set(info().variables())
    assert info(tls_port=7).variables()["tls_port"] == 7


@pytest.mark.parametrize(
    ("text", "uid", "inside"),
    [
        ("         0          0 4294967295\n", 101, True),
        ("         0       1000          1\n", 0, True),
        ("         0       1000          1\n", 101, False),
        ("         0       1000          1\n", 1, False),
        ("         0       1000          1\n       100     100000      65536\n", 101, True),
        ("", 0, False),
    ],
)
def test_uid_maps_are_read_range_by_range(text: str, uid: int, inside: bool) -> None:
    assert process.uid_in_map(text, uid) is inside


def entry(name: str, uid: int) -> pwd.struct_passwd:
    return pwd.struct_passwd((name, "x", uid, uid, "", "/nonexistent", "/usr/sbin/nologin"))


def test_as_root_a_server_runs_as_its_own_user(monkeypatch: pytest.MonkeyPatch) -> None:
    users = {"postgres": entry("postgres", 101), "nobody": entry("nobody", 65534)}

    def getpwnam(name: str) -> pwd.struct_passwd:
        return users[name]

    monkeypatch.setattr(os, "geteuid", lambda: 0)
    monkeypatch.setattr(pwd, "getpwnam", getpwnam)
    monkeypatch.setattr(process, "_mapped", lambda uid, gid: True)
    assert process.account_for(["postgres"]) == Account("postgres", 101, 101, switch=True)
    assert process.account_for(["mysql"]) == Account("nobody", 65534, 65534, switch=True)  # no such user: nobody

    monkeypatch.setattr(process, "_mapped", lambda uid, gid: False)  # a user namespace that maps only root
    root = process.account_for(["postgres"])
    assert (root.name, root.is_root, root.switch) == ("root", True, False)
    with pytest.raises(ServerFailed, match="refuses to run as root"):
        sql_servers.Postgres().account()


def test_not_root_a_server_runs_as_the_harness(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    monkeypatch.setattr(os, "getegid", lambda: 1000)
    monkeypatch.setattr(pwd, "getpwuid", lambda uid: entry("dev", uid))
    assert process.account_for(["postgres"]) == Account("dev", 1000, 1000, switch=False)


def executable(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#!/bin/sh\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


def test_postgres_is_found_in_debians_newest_version_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shutil, "which", lambda name: None)
    for version in ("9", "15"):
        executable(tmp_path / version / "bin" / "postgres")
        executable(tmp_path / version / "bin" / "initdb")
    executable(tmp_path / "16" / "bin" / "postgres")  # no initdb: not usable
    (tmp_path / "common" / "bin").mkdir(parents=True)
    assert sql_servers.postgres_bin(tmp_path) == tmp_path / "15" / "bin"
    assert sql_servers.postgres_bin(tmp_path / "missing") is None


def test_daemons_are_found_in_sbin_when_path_lacks_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shutil, "which", lambda name: None)
    daemon = executable(tmp_path / "mariadbd")
    assert kinds.find("mariadbd", [str(tmp_path / "none"), str(tmp_path)]) == str(daemon)
    assert kinds.find("mosquitto", [str(tmp_path)]) is None


class Chunks:
    """What ``recv`` returns, a few bytes at a time."""

    def __init__(self, data: bytes, size: int = 3) -> None:
        self.data = data
        self.size = size

    def recv(self, limit: int) -> bytes:
        piece, self.data = self.data[: min(limit, self.size)], self.data[min(limit, self.size) :]
        return piece


def packet(payload: bytes) -> bytes:
    return len(payload).to_bytes(3, "little") + b"\x00" + payload


def test_the_mysql_greeting_is_read_whole_and_checked() -> None:
    greeting = b"\x0a10.11.19-MariaDB\x00" + bytes(40)
    assert sql_servers.mysql_greeting(Chunks(packet(greeting))) == greeting  # type: ignore[arg-type]
    refused = b"\xff\x6a\x04#HY000Host '10.0.0.1' is not allowed"
    with pytest.raises(ValueError, match=r"greeted with an error: Host '10\.0\.0\.1' is not allowed"):
        sql_servers.mysql_greeting(Chunks(packet(refused)))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="unexpected greeting"):
        sql_servers.mysql_greeting(Chunks(packet(b"\x09old")))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="closed the connection in its greeting"):
        sql_servers.mysql_greeting(Chunks(packet(greeting)[:10]))  # type: ignore[arg-type]


def test_a_port_taken_meanwhile_is_recognised_in_the_servers_own_words() -> None:
    assert ServerExited(
        "Redis exited with code 1: Could not create server TCP listening socket *:6379: bind: Address already in use"
    ).port_taken
    assert ServerExited(
        'PostgreSQL exited with code 1: could not bind IPv4 address "127.0.0.1": Address already in use'
    ).port_taken
    assert not ServerExited("MariaDB exited with code 1: [ERROR] Aborting").port_taken


def test_smtp_events_are_read_line_by_line_and_a_partial_line_is_left_out(tmp_path: Path) -> None:
    events = tmp_path / "events.jsonl"
    assert read_events(events) == []
    events.write_text('{"event": "message", "tls": "TLSv1.3", "bytes": 5}\n[1, 2]\n{"event": "sess')
    assert read_events(events) == [{"event": "message", "tls": "TLSv1.3", "bytes": 5}]
