"""The drivers area's servers for real: each kind starts unprivileged on loopback, answers plain and
over TLS with the run's CA (stdlib clients, ``driver_probes``), authenticates with the password it
reports, refuses a wrong one, and leaves nothing behind when stopped, interrupted (SIGINT, SIGTERM)
or killed (SIGKILL: the servers die with the harness, the next run sweeps the folder)."""

from __future__ import annotations

import contextlib
import os
import signal
import smtplib
import socket
import ssl
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from conformance.core import tempdirs
from conformance.core.certificates import RunCertificates
from conformance.drivers import servers
from conformance.drivers.process import ProgramMissing, group_members
from conformance.drivers.servers import RunningServer, ServerInfo
from conformance.drivers.smtp_server import EVENTS_FILE, read_events
from tests.helpers import REPO, require_program

from . import driver_probes as probe

pytestmark = pytest.mark.slow

KINDS = ("postgres", "redis", "mariadb", "smtp", "mosquitto")
PROGRAMS = {
    "postgres": ("postgres", "initdb"),
    "redis": ("redis-server",),
    "mariadb": ("mariadbd", "mariadb-install-db"),
    "smtp": ("aiosmtpd",),
    "mosquitto": ("mosquitto", "mosquitto_passwd"),
}
#: How long a stopped server's processes may take to be gone (the grace is 10 s; this is generous).
GONE_S = 30.0


def require_kind(kind: str) -> None:
    """A skip naming the install command when the kind's programs are missing; a failure under CI=true."""
    try:
        servers.kinds()[kind].check()
    except ProgramMissing as missing:
        require_program(PROGRAMS[kind], missing.install)


@pytest.fixture(scope="module")
def certs() -> Iterator[RunCertificates]:
    with RunCertificates() as made:
        yield made


@contextlib.contextmanager
def started(kind: str, certs: RunCertificates, certificate: str = "good") -> Iterator[RunningServer]:
    require_kind(kind)
    server = servers.start(kind, certs, certificate)
    try:
        yield server
    finally:
        pids, folder = list(server.pids), server.folder.path
        server.stop()
        assert_nothing_left(pids, folder)


def assert_nothing_left(pids: list[int], folder: Path) -> None:
    deadline = time.monotonic() + GONE_S
    while any(group_members(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert [pid for pid in pids if group_members(pid)] == []
    assert not folder.exists()


def connection(port: int) -> socket.socket:
    return socket.create_connection(("127.0.0.1", port), timeout=probe.TIMEOUT_S)


def test_postgresql_answers_plain_and_over_tls_with_scram(certs: RunCertificates) -> None:
    with started("postgres", certs) as server:
        info = server.info
        assert info.version.startswith("postgres (PostgreSQL) ")
        assert info.steps_s.keys() == {"initdb", "start"}
        with connection(info.port) as plain:
            assert probe.pg_login(plain, info.user or "", info.password or "", info.database or "") == ["SCRAM-SHA-256"]
            assert probe.pg_query(plain, "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()") == [["f"]]
            assert probe.pg_query(plain, "SELECT current_user") == [[info.user]]
        with connection(info.port) as raw:
            assert probe.pg_ssl_request(raw) == b"S"
            with probe.tls_context(str(certs.ca_file)).wrap_socket(raw, server_hostname="localhost") as tls:
                probe.pg_login(tls, info.user or "", info.password or "", info.database or "")
                rows = probe.pg_query(tls, "SELECT ssl, version FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
                assert rows == [["t", tls.version()]]
        with connection(info.port) as plain, pytest.raises(probe.PostgresError) as refused:
            probe.pg_login(plain, info.user or "", "wrong", info.database or "")
        assert refused.value.code == "28P01"  # invalid_password


def test_redis_answers_on_both_ports_and_requires_its_password(certs: RunCertificates) -> None:
    with started("redis", certs) as server:
        info = server.info
        assert info.tls_port is not None
        assert info.tls_port != info.port
        with connection(info.port) as plain:
            assert probe.redis_command(plain, "PING").startswith(b"-NOAUTH")
            assert probe.redis_command(plain, "AUTH", "wrong").startswith(b"-WRONGPASS")
            assert probe.redis_command(plain, "AUTH", info.password or "") == b"+OK"
            assert probe.redis_command(plain, "PING") == b"+PONG"
        context = probe.tls_context(str(certs.ca_file))
        with context.wrap_socket(connection(info.tls_port), server_hostname="localhost") as tls:
            assert probe.redis_command(tls, "AUTH", info.password or "") == b"+OK"
            assert probe.redis_command(tls, "PING") == b"+PONG"


def test_mariadb_answers_plain_and_over_tls_with_a_password(certs: RunCertificates) -> None:
    with started("mariadb", certs) as server:
        info = server.info
        assert "MariaDB" in info.version
        assert info.database == "conformance"
        user, password, database = info.user or "", info.password or "", info.database or ""
        with connection(info.port) as plain:
            probe.mysql_login(plain, user, password, database)
        context = probe.tls_context(str(certs.ca_file))
        with probe.mysql_login(connection(info.port), user, password, database, tls=context) as tls:
            assert isinstance(tls, ssl.SSLSocket)
            assert tls.version() in ("TLSv1.2", "TLSv1.3")
        with connection(info.port) as plain, pytest.raises(probe.MysqlError) as refused:
            probe.mysql_login(plain, user, "wrong", database)
        assert refused.value.errno == 1045  # access denied


def test_the_smtp_server_requires_starttls_and_records_each_session(certs: RunCertificates) -> None:
    with started("smtp", certs) as server:
        info = server.info
        with smtplib.SMTP("127.0.0.1", info.port, timeout=probe.TIMEOUT_S) as plain:
            plain.ehlo()
            assert plain.has_extn("starttls")
            assert not plain.has_extn("auth")
            code, text = plain.docmd("MAIL FROM:<a@example.test>")
            assert (code, text) == (530, b"Must issue a STARTTLS command first")
        content = b"Subject: hello\r\n\r\nbody \xf0\x9f\x98\x80\r\n.starts with a dot\r\n"
        with smtplib.SMTP("127.0.0.1", info.port, timeout=probe.TIMEOUT_S) as client:
            client.starttls(context=probe.tls_context(str(certs.ca_file)))
            with pytest.raises(smtplib.SMTPAuthenticationError):
                client.login(info.user or "", "wrong")
            client.login(info.user or "", info.password or "")
            client.sendmail("from@example.test", ["box-1@example.test"], content)
        # A session is recorded when the server sees it end, a moment after the client left.
        path = server.folder.path / EVENTS_FILE
        wait_for(lambda: sum(e["event"] == "session" for e in read_events(path)) >= 3, 10, "the sessions' records")
        events = read_events(path)
        (message,) = [event for event in events if event["event"] == "message"]
        assert message["tls"] in ("TLSv1.2", "TLSv1.3")
        assert message["login"] == info.user
        assert message["rcpt_tos"] == ["box-1@example.test"]
        assert message["bytes"] == len(content)
        sessions = [
            (event["tls"] is not None, event["login"], event["messages"])
            for event in events[1:]
            if event["event"] == "session"
        ]
        assert sorted(sessions, key=str) == [(False, None, 0), (True, info.user, 1)]  # after the readiness probe


def test_mosquitto_answers_on_both_ports_and_requires_its_password(certs: RunCertificates) -> None:
    with started("mosquitto", certs) as server:
        info = server.info
        assert info.tls_port is not None
        with connection(info.port) as plain:
            assert probe.mqtt_connect(plain, "probe-plain", info.user or "", info.password or "") == 0
        with connection(info.port) as plain:
            assert probe.mqtt_connect(plain, "probe-wrong", info.user or "", "wrong") in (4, 5)
        context = probe.tls_context(str(certs.ca_file))
        with context.wrap_socket(connection(info.tls_port), server_hostname="localhost") as tls:
            assert probe.mqtt_connect(tls, "probe-tls", info.user or "", info.password or "") == 0


def test_a_server_presents_the_certificate_it_was_asked_for(certs: RunCertificates) -> None:
    """The runtime trusts only the run's CA; a case about a failing handshake gets a server whose certificate fails."""
    context = probe.tls_context(str(certs.ca_file))
    for certificate, reason in (("untrusted", "unable to get local issuer"), ("wrong-host", "Hostname mismatch")):
        with started("redis", certs, certificate) as server:
            assert server.info.certificate == certificate
            port = server.info.tls_port or 0
            with connection(port) as raw, pytest.raises(ssl.SSLCertVerificationError, match=reason):
                context.wrap_socket(raw, server_hostname="localhost")


def test_a_pool_shares_a_server_and_stops_them_all(certs: RunCertificates) -> None:
    require_kind("redis")
    require_kind("mosquitto")
    with servers.ServerPool(certs) as pool:
        first: ServerInfo = pool.get("redis")
        assert pool.get("redis") is first
        pool.get("mosquitto")
        running = [pool.running("redis"), pool.running("mosquitto")]
    for server in running:
        assert_nothing_left(server.pids, server.folder.path)


# -- interrupted runs ------------------------------------------------------------------------------------

CHILD = textwrap.dedent(
    """
    import sys, time
    from conformance import interrupts
    interrupts.hold()
    interrupts.deliver()  # as the command does: SIGINT and SIGTERM raise KeyboardInterrupt
    from conformance.core.certificates import RunCertificates
    from conformance.drivers.servers import ServerPool
    with RunCertificates() as certs, ServerPool(certs) as pool:
        for kind in sys.argv[1:]:
            pool.get(kind)
        print("started", flush=True)
        time.sleep(120)
    """
)


def processes_in(folder: Path) -> list[str]:
    """Live processes working inside ``folder`` (every server runs in its own folder; Redis renames
    itself, so its command line would not tell) or naming it on their command line."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            state = (entry / "stat").read_text().rpartition(")")[2].split()[0]
            cwd = os.readlink(entry / "cwd")
        except OSError:
            continue
        if state not in ("Z", "X") and (cwd.startswith(str(folder)) or str(folder) in command):
            found.append(f"{entry.name}: {command.strip()} (in {cwd})")
    return found


@pytest.fixture
def short_tmp() -> Iterator[Path]:
    """A TMPDIR of the test's own (0755: the servers' users enter it), removed after."""
    folder = Path(tempfile.mkdtemp(prefix="ccd-"))
    folder.chmod(0o755)
    try:
        yield folder
    finally:
        subprocess.run(["rm", "-rf", str(folder)], check=False)


def spawn_child(kinds: tuple[str, ...], tmp: Path) -> subprocess.Popen[str]:
    env = {**os.environ, "TMPDIR": str(tmp), "PYTHONPATH": str(REPO)}
    return subprocess.Popen(
        [sys.executable, "-c", CHILD, *kinds],
        env=env,
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for(condition: object, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.01)


@pytest.mark.parametrize(
    ("kind", "sig"),
    [("postgres", signal.SIGINT), ("mariadb", signal.SIGTERM), ("redis", signal.SIGINT)],
)
def test_an_interrupt_while_a_server_sets_up_leaves_nothing(kind: str, sig: signal.Signals, short_tmp: Path) -> None:
    """PostgreSQL and MariaDB are interrupted in their set-up tool (initdb, install-db); Redis
    starts in 50 ms, so it is usually interrupted once running: both paths must clean up."""
    require_kind(kind)
    child = spawn_child((kind,), short_tmp)
    try:
        prefix = f"connect-conformance-{kind}-{child.pid}-"
        wait_for(lambda: any(short_tmp.glob(f"{prefix}*")), 30, f"the {kind} folder")
        folder = next(short_tmp.glob(f"{prefix}*"))
        wait_for(lambda: processes_in(folder), 30, f"a {kind} process")
        child.send_signal(sig)
        out, _ = child.communicate(timeout=60)
        if kind != "redis":  # its set-up tool was running: the signal came before the server was up
            assert "started" not in out
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert processes_in(short_tmp) == []
    assert list(short_tmp.iterdir()) == []


def test_a_tmpdir_the_servers_user_cannot_enter_is_a_clear_error(certs: RunCertificates, short_tmp: Path) -> None:
    require_kind("redis")
    if os.geteuid() != 0:
        pytest.skip("only a root harness runs servers as another user")
    private = short_tmp / "private"
    private.mkdir(mode=0o700)
    previous = tempfile.tempdir
    tempfile.tempdir = str(private)
    try:
        with pytest.raises(servers.ServerFailed, match=rf"cannot enter {private} \(mode 0700\).*set TMPDIR"):
            servers.start("redis", certs)
    finally:
        tempfile.tempdir = previous
    assert list(private.iterdir()) == []


def test_servers_die_with_a_killed_harness_and_the_next_run_sweeps_their_folders(short_tmp: Path) -> None:
    for kind in ("postgres", "redis"):
        require_kind(kind)
    child = spawn_child(("postgres", "redis"), short_tmp)
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "started", child.stderr.read() if child.stderr else ""
        assert processes_in(short_tmp) != []
        child.kill()
        child.wait()
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    wait_for(lambda: not processes_in(short_tmp), GONE_S, "the servers to die (PR_SET_PDEATHSIG)")
    left = sorted(path.name.rsplit("-", 1)[0] for path in short_tmp.iterdir())
    assert left == [f"connect-conformance-{name}-{child.pid}" for name in ("ca", "postgres", "redis")]
    previous = tempfile.tempdir
    tempfile.tempdir = str(short_tmp)
    try:
        for name in ("ca", "postgres", "redis"):
            tempdirs.sweep_stale(f"connect-conformance-{name}-")
    finally:
        tempfile.tempdir = previous
    assert list(short_tmp.iterdir()) == []
