"""How each kind of server is found, configured, started, probed and described.

| kind | program (Debian) | TLS | account as root | readiness |
|---|---|---|---|---|
| ``postgres`` | ``postgres`` + ``initdb`` (``postgresql``) | SSLRequest on ``port`` | ``postgres`` | ``postmaster.pid`` says ready, SSLRequest answered |
| ``redis`` | ``redis-server`` (``redis-server``) | ``tls_port`` | ``redis`` | PING answered (``-NOAUTH``) |
| ``mariadb`` | ``mariadbd`` + ``mariadb-install-db`` (``mariadb-server``) | in the handshake on ``port`` | ``mysql`` | the greeting packet (protocol 10) |
| ``smtp`` | ``aiosmtpd`` (PyPI, extra ``drivers``) | STARTTLS on ``port`` | the harness's | the ``220`` greeting |
| ``mosquitto`` | ``mosquitto`` + ``mosquitto_passwd`` (``mosquitto``) | ``tls_port`` | ``mosquitto`` | both ports accept |

Each server requires a password (random per server) and has durability switched off: its data
lives only as long as the run.
"""

from __future__ import annotations

import importlib.util
import os
import re
import secrets
import shutil
import signal
import socket
import struct
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from ..certificates import RunCertificates
from .process import (
    Account,
    ProgramMissing,
    ServerExited,
    ServerFailed,
    ServerFolder,
    ServerProcess,
    account_for,
    free_port,
    run_tool,
    wait_ready,
)
from .servers import HOST, Kind, RunningServer, ServerInfo, elapsed

APT = "apt-get install -y --no-install-recommends"
SBIN = ("/usr/sbin", "/usr/local/sbin", "/sbin")
READY_TIMEOUT_S = 60.0
PORT_ATTEMPTS = 3
PROBE_TIMEOUT_S = 2.0
USER = "conformance"
DATABASE = "conformance"


def find(name: str, folders: Sequence[str] = SBIN) -> str | None:
    """``name`` on PATH, else in one of ``folders`` (daemons live in sbin, which a user's PATH may lack)."""
    found = shutil.which(name)
    if found:
        return found
    for folder in folders:
        candidate = Path(folder) / name
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    return None


def version_of(argv: Sequence[str]) -> str:
    try:
        done = subprocess.run(list(argv), capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired) as error:
        return f"unknown ({error})"
    lines = (done.stdout or done.stderr).strip().splitlines()
    return lines[0].strip() if lines else "unknown"


def _current_account() -> Account:
    import pwd

    return Account(pwd.getpwuid(os.geteuid()).pw_name, os.geteuid(), os.getegid(), switch=False)


def _certificate_files(folder: ServerFolder, certs: RunCertificates, certificate: str) -> tuple[Path, Path, Path]:
    """The server's copies, owned by its account: certificate chain, key (0600), the run's CA."""
    return (
        folder.write("server.crt", certs.chain_file(certificate).read_bytes(), 0o644),  # type: ignore[arg-type]
        folder.write("server.key", certs.key_file(certificate).read_bytes(), 0o600),  # type: ignore[arg-type]
        folder.write("ca.pem", certs.ca_pem, 0o644),
    )


def _connect(port: int) -> socket.socket:
    return socket.create_connection((HOST, port), timeout=PROBE_TIMEOUT_S)


def _serve(
    what: str,
    folder: ServerFolder,
    argv_for: Callable[[tuple[int, ...]], Sequence[str]],
    ports: int,
    probe: Callable[[tuple[int, ...]], object],
    stop_signal: int = signal.SIGTERM,
    env: dict[str, str] | None = None,
) -> tuple[ServerProcess, tuple[int, ...]]:
    """Starts the server on ``ports`` free ports and waits for ``probe``; a port taken meanwhile is retried."""
    for attempt in range(PORT_ATTEMPTS):
        chosen = tuple(free_port() for _ in range(ports))
        process = ServerProcess(argv_for(chosen), folder, f"{what.lower()}.log", stop_signal, env)
        try:
            wait_ready(process, lambda chosen=chosen: probe(chosen), what, READY_TIMEOUT_S)  # type: ignore[misc]
        except ServerExited as error:
            process.stop(1.0)
            if error.port_taken and attempt + 1 < PORT_ATTEMPTS:
                continue
            raise
        except BaseException:
            process.stop(1.0)
            raise
        return process, chosen
    raise AssertionError("unreachable")


class _Kind:
    name = ""
    install = ""
    label = ""
    programs: tuple[str, ...] = ()

    def paths(self) -> dict[str, str]:
        found = {program: find(program) for program in self.programs}
        missing = [program for program, path in found.items() if path is None]
        if missing:
            raise ProgramMissing(f"{self.label} ({', '.join(missing)})", self.install)
        return {program: path for program, path in found.items() if path is not None}

    def check(self) -> None:
        self.paths()

    def start(self, certs: RunCertificates, certificate: str) -> RunningServer:
        paths = self.paths()
        account = self.account()
        folder = ServerFolder(f"connect-conformance-{self.name}-", account)
        try:
            began = time.perf_counter()
            steps: dict[str, float] = {}
            processes, info = self._start(paths, folder, certs, certificate, steps)
            info = ServerInfo(**{**info.__dict__, "startup_s": elapsed(began), "steps_s": steps})
            return RunningServer(info, processes, folder)
        except BaseException:
            folder.remove()
            raise

    def account(self) -> Account:
        raise NotImplementedError

    def _start(
        self,
        paths: dict[str, str],
        folder: ServerFolder,
        certs: RunCertificates,
        certificate: str,
        steps: dict[str, float],
    ) -> tuple[list[ServerProcess], ServerInfo]:
        raise NotImplementedError


def _refuse_root(account: Account, label: str) -> Account:
    if account.is_root:
        raise ServerFailed(
            f"{label} refuses to run as root, and no other user exists here (a user namespace that maps only"
            " root, such as the sandbox of a run by a non-root user): run the harness as root or outside the sandbox"
        )
    return account


# -- PostgreSQL ---------------------------------------------------------------------------------------------


def postgres_bin() -> Path | None:
    """The folder of ``postgres`` and ``initdb``: PATH, else Debian's newest ``/usr/lib/postgresql/N/bin``."""
    on_path = shutil.which("postgres")
    if on_path and shutil.which("initdb"):
        return Path(on_path).resolve().parent
    versions = sorted(
        (folder for folder in Path("/usr/lib/postgresql").glob("*/bin") if folder.parent.name.isdigit()),
        key=lambda folder: int(folder.parent.name),
    )
    for folder in reversed(versions):
        if (folder / "postgres").is_file() and (folder / "initdb").is_file():
            return folder
    return None


SSL_REQUEST = struct.pack("!II", 8, 80877103)


class Postgres(_Kind):
    name = "postgres"
    label = "PostgreSQL"
    install = f"{APT} postgresql"

    def paths(self) -> dict[str, str]:
        folder = postgres_bin()
        if folder is None:
            raise ProgramMissing(f"{self.label} (postgres, initdb)", self.install)
        return {"postgres": str(folder / "postgres"), "initdb": str(folder / "initdb")}

    def account(self) -> Account:
        return _refuse_root(account_for(["postgres"]), self.label)

    def _start(self, paths, folder, certs, certificate, steps):  # type: ignore[no-untyped-def]
        password = secrets.token_hex(16)
        cert, key, _ = _certificate_files(folder, certs, certificate)
        pwfile = folder.write("password", password + "\n")
        hba = folder.write(
            "pg_hba.conf", "host all all 127.0.0.1/32 scram-sha-256\nhost all all ::1/128 scram-sha-256\n", 0o644
        )
        data = folder.subfolder("data") / "cluster"
        sockets = folder.subfolder("run")
        began = time.perf_counter()
        run_tool(
            [
                paths["initdb"],
                "-D",
                str(data),
                "-U",
                USER,
                "--auth=scram-sha-256",
                f"--pwfile={pwfile}",
                "-E",
                "UTF8",
                "--locale=C.UTF-8",
                "--no-sync",
            ],
            folder,
            "initdb",
        )
        steps["initdb"] = elapsed(began)
        settings = {
            "listen_addresses": HOST,
            "unix_socket_directories": str(sockets),
            "hba_file": str(hba),
            "ssl": "on",
            "ssl_cert_file": str(cert),
            "ssl_key_file": str(key),
            "password_encryption": "scram-sha-256",
            "fsync": "off",
            "synchronous_commit": "off",
            "full_page_writes": "off",
            "max_connections": "200",
            "logging_collector": "off",
        }

        def argv(ports: tuple[int, ...]) -> list[str]:
            options = [f"-c{name}={value}" for name, value in {**settings, "port": str(ports[0])}.items()]
            return [paths["postgres"], "-D", str(data), *options]

        def probe(ports: tuple[int, ...]) -> None:
            lines = (data / "postmaster.pid").read_text().splitlines()
            if len(lines) < 8 or lines[7].strip() != "ready":
                raise ValueError("postmaster.pid does not say ready yet")
            with _connect(ports[0]) as connection:
                connection.sendall(SSL_REQUEST)
                if connection.recv(1) != b"S":
                    raise ValueError("the SSLRequest was not accepted")

        began = time.perf_counter()
        process, ports = _serve(self.label, folder, argv, 1, probe, signal.SIGINT)  # SIGINT: fast shutdown
        steps["start"] = elapsed(began)
        info = ServerInfo(
            kind=self.name,
            certificate=certificate,
            host=HOST,
            port=ports[0],
            tls_port=None,
            user=USER,
            password=password,
            database="postgres",
            ca_pem=certs.ca_pem,
            version=version_of([paths["postgres"], "--version"]),
            startup_s=0.0,
        )
        return [process], info


# -- Redis --------------------------------------------------------------------------------------------------


class Redis(_Kind):
    name = "redis"
    label = "Redis"
    install = f"{APT} redis-server"
    programs = ("redis-server",)

    def account(self) -> Account:
        return account_for(["redis"])

    def _start(self, paths, folder, certs, certificate, steps):  # type: ignore[no-untyped-def]
        password = secrets.token_hex(16)
        cert, key, ca = _certificate_files(folder, certs, certificate)
        data = folder.subfolder("data")
        # The password in a config file, not on the command line where any user's `ps` shows it.
        config = folder.write("redis.conf", f"requirepass {password}\n", 0o600)

        def argv(ports: tuple[int, ...]) -> list[str]:
            plain, tls = ports
            return [
                paths["redis-server"],
                str(config),
                *("--bind", HOST, "--port", str(plain), "--tls-port", str(tls)),
                *("--tls-cert-file", str(cert), "--tls-key-file", str(key), "--tls-ca-cert-file", str(ca)),
                *("--tls-auth-clients", "no", "--save", "", "--appendonly", "no", "--dir", str(data)),
                *("--daemonize", "no", "--logfile", "", "--databases", "16"),
            ]

        def probe(ports: tuple[int, ...]) -> None:
            with _connect(ports[0]) as connection:
                connection.sendall(b"PING\r\n")
                answer = connection.recv(64)
            if not (answer.startswith(b"-NOAUTH") or answer.startswith(b"+PONG")):
                raise ValueError(f"PING answered {answer!r}")
            _connect(ports[1]).close()

        began = time.perf_counter()
        process, ports = _serve(self.label, folder, argv, 2, probe)
        steps["start"] = elapsed(began)
        info = ServerInfo(
            kind=self.name,
            certificate=certificate,
            host=HOST,
            port=ports[0],
            tls_port=ports[1],
            user="default",
            password=password,
            database=None,
            ca_pem=certs.ca_pem,
            version=version_of([paths["redis-server"], "--version"]),
            startup_s=0.0,
        )
        return [process], info


# -- MariaDB ------------------------------------------------------------------------------------------------


def mysql_greeting(connection: socket.socket) -> bytes:
    """The server's first packet (the handshake); an error packet is a ``ValueError`` with its text."""
    header = b""
    while len(header) < 4:
        chunk = connection.recv(4 - len(header))
        if not chunk:
            raise ValueError("the server closed the connection before its greeting")
        header += chunk
    length = int.from_bytes(header[:3], "little")
    payload = b""
    while len(payload) < length:
        chunk = connection.recv(length - len(payload))
        if not chunk:
            raise ValueError("the server closed the connection in its greeting")
        payload += chunk
    if payload[:1] == b"\xff":
        raise ValueError(f"the server greeted with an error: {payload[9:].decode('utf-8', 'replace')}")
    if payload[:1] != b"\x0a":
        raise ValueError(f"unexpected greeting (protocol {payload[:1]!r})")
    return payload


class MariaDB(_Kind):
    name = "mariadb"
    label = "MariaDB"
    install = f"{APT} mariadb-server"
    programs = ("mariadbd", "mariadb-install-db")

    def account(self) -> Account:
        return account_for(["mysql"])

    def _start(self, paths, folder, certs, certificate, steps):  # type: ignore[no-untyped-def]
        password = secrets.token_hex(16)
        cert, key, ca = _certificate_files(folder, certs, certificate)
        data = folder.subfolder("data")
        run = folder.subfolder("run")
        as_root = ["--user=root"] if folder.account.is_root else []
        init = folder.write(
            "init.sql",
            f"CREATE DATABASE IF NOT EXISTS {DATABASE} CHARACTER SET utf8mb4 COLLATE utf8mb4_bin;\n"
            f"CREATE USER IF NOT EXISTS '{USER}'@'%' IDENTIFIED BY '{password}';\n"
            f"GRANT ALL PRIVILEGES ON *.* TO '{USER}'@'%';\n",
        )

        def config(port: int) -> str:
            return "\n".join(
                [
                    "[mysqld]",
                    f"datadir={data / 'db'}",
                    f"socket={run / 'mysqld.sock'}",
                    f"pid-file={run / 'mysqld.pid'}",
                    f"tmpdir={run}",
                    f"port={port}",
                    f"bind-address={HOST}",
                    "skip-name-resolve",
                    "skip-log-bin",
                    f"init-file={init}",
                    f"ssl-cert={cert}",
                    f"ssl-key={key}",
                    f"ssl-ca={ca}",
                    "character-set-server=utf8mb4",
                    "collation-server=utf8mb4_bin",
                    "max-allowed-packet=64M",
                    "max-connections=200",
                    "performance-schema=OFF",
                    "innodb-buffer-pool-size=32M",
                    "innodb-log-file-size=16M",
                    "innodb-flush-log-at-trx-commit=0",
                    "innodb-doublewrite=0",
                    "",
                ]
            )

        began = time.perf_counter()
        setup = folder.write("setup.cnf", config(0), 0o644)
        run_tool(
            [
                paths["mariadb-install-db"],
                f"--defaults-file={setup}",
                "--skip-test-db",
                "--auth-root-authentication-method=socket",
                *as_root,
            ],
            folder,
            "mariadb-install-db",
        )
        steps["install-db"] = elapsed(began)
        attempts = iter(range(PORT_ATTEMPTS))

        def argv(ports: tuple[int, ...]) -> list[str]:
            cnf = folder.write(f"my-{next(attempts)}.cnf", config(ports[0]), 0o644)
            return [paths["mariadbd"], f"--defaults-file={cnf}", *as_root]

        def probe(ports: tuple[int, ...]) -> None:
            with _connect(ports[0]) as connection:
                mysql_greeting(connection)

        began = time.perf_counter()
        process, ports = _serve(self.label, folder, argv, 1, probe)
        steps["start"] = elapsed(began)
        info = ServerInfo(
            kind=self.name,
            certificate=certificate,
            host=HOST,
            port=ports[0],
            tls_port=None,
            user=USER,
            password=password,
            database=DATABASE,
            ca_pem=certs.ca_pem,
            version=version_of([paths["mariadbd"], "--version"]),
            startup_s=0.0,
        )
        return [process], info


# -- SMTP ---------------------------------------------------------------------------------------------------


class Smtp(_Kind):
    name = "smtp"
    label = "the SMTP server aiosmtpd"
    install = "pip install 'connect-conformance[drivers]'"

    def paths(self) -> dict[str, str]:
        if importlib.util.find_spec("aiosmtpd") is None:
            raise ProgramMissing(self.label, self.install)
        return {"python": sys.executable}

    def account(self) -> Account:
        # Our own Python program: nothing in it refuses root, and another user may not read the
        # harness's installation.
        return _current_account()

    def _start(self, paths, folder, certs, certificate, steps):  # type: ignore[no-untyped-def]
        from . import smtp_server

        password = secrets.token_hex(16)
        cert, key, _ = _certificate_files(folder, certs, certificate)
        secret = folder.write("password", password)
        events = folder.path / smtp_server.EVENTS_FILE

        def argv(ports: tuple[int, ...]) -> list[str]:
            return [
                paths["python"],
                "-m",
                smtp_server.__name__,
                *("--host", HOST, "--port", str(ports[0]), "--cert", str(cert), "--key", str(key)),
                *("--user", USER, "--password-file", str(secret), "--events", str(events)),
            ]

        def probe(ports: tuple[int, ...]) -> None:
            with _connect(ports[0]) as connection:
                greeting = connection.recv(512)
            if not greeting.startswith(b"220 "):
                raise ValueError(f"the greeting was {greeting!r}")

        began = time.perf_counter()
        process, ports = _serve("SMTP", folder, argv, 1, probe, env=dict(os.environ))
        steps["start"] = elapsed(began)
        info = ServerInfo(
            kind=self.name,
            certificate=certificate,
            host=HOST,
            port=ports[0],
            tls_port=None,
            user=USER,
            password=password,
            database=None,
            ca_pem=certs.ca_pem,
            version=smtp_server.version(),
            startup_s=0.0,
        )
        return [process], info


# -- Mosquitto ----------------------------------------------------------------------------------------------


class Mosquitto(_Kind):
    name = "mosquitto"
    label = "Mosquitto"
    install = f"{APT} mosquitto"
    programs = ("mosquitto", "mosquitto_passwd")

    def account(self) -> Account:
        return account_for(["mosquitto"])

    def _start(self, paths, folder, certs, certificate, steps):  # type: ignore[no-untyped-def]
        password = secrets.token_hex(16)
        cert, key, ca = _certificate_files(folder, certs, certificate)
        data = folder.subfolder("data")
        passwords = data / "passwd"
        began = time.perf_counter()
        run_tool([paths["mosquitto_passwd"], "-b", "-c", str(passwords), USER, password], folder, "mosquitto_passwd")
        steps["passwd"] = elapsed(began)
        attempts = iter(range(PORT_ATTEMPTS))

        def argv(ports: tuple[int, ...]) -> list[str]:
            plain, tls = ports
            text = "\n".join(
                [
                    "per_listener_settings false",
                    "allow_anonymous false",
                    f"password_file {passwords}",
                    "persistence false",
                    f"user {folder.account.name}",
                    "log_dest stderr",
                    "log_type error",
                    "log_type warning",
                    "log_type notice",
                    f"listener {plain} {HOST}",
                    f"listener {tls} {HOST}",
                    f"certfile {cert}",
                    f"keyfile {key}",
                    f"cafile {ca}",
                    "",
                ]
            )
            conf = folder.write(f"mosquitto-{next(attempts)}.conf", text, 0o644)
            return [paths["mosquitto"], "-c", str(conf)]

        def probe(ports: tuple[int, ...]) -> None:
            for port in ports:
                _connect(port).close()

        began = time.perf_counter()
        process, ports = _serve(self.label, folder, argv, 2, probe)
        steps["start"] = elapsed(began)
        info = ServerInfo(
            kind=self.name,
            certificate=certificate,
            host=HOST,
            port=ports[0],
            tls_port=ports[1],
            user=USER,
            password=password,
            database=None,
            ca_pem=certs.ca_pem,
            version=re.sub(r"\s+", " ", version_of([paths["mosquitto"], "-h"])),
            startup_s=0.0,
        )
        return [process], info


KINDS: dict[str, Kind] = {kind.name: kind for kind in (Postgres(), Redis(), MariaDB(), Smtp(), Mosquitto())}
