"""The SQL servers: PostgreSQL (``postgres`` + ``initdb``) and MariaDB (``mariadbd`` + ``mariadb-install-db``).

Both negotiate TLS inside their protocol on the one port (PostgreSQL's SSLRequest, the MySQL
handshake's SSL flag), authenticate with a password (SCRAM-SHA-256; mysql_native_password) and
run with durability off: their data lives only as long as the run.
"""

from __future__ import annotations

import re
import secrets
import shutil
import signal
import socket
import struct
import time
from pathlib import Path

from ..core.certificates import RunCertificates
from .kinds import (
    APT,
    DATABASE,
    PORT_ATTEMPTS,
    USER,
    BaseKind,
    certificate_files,
    find,
    probe_connection,
    refuse_root,
    serve,
    server_path,
    version_of,
)
from .model import HOST, ServerInfo, elapsed
from .process import Account, ProgramMissing, ServerFolder, ServerProcess, account_for, run_tool

# -- PostgreSQL ---------------------------------------------------------------------------------------------


DEBIAN_POSTGRESQL = Path("/usr/lib/postgresql")


def postgres_bin(debian: Path = DEBIAN_POSTGRESQL) -> Path | None:
    """The folder of ``postgres`` and ``initdb``: PATH, else Debian's newest ``/usr/lib/postgresql/N/bin``
    (Debian keeps them off PATH); only ``CONNECT_CONFORMANCE_SERVER_PATH`` when that is set."""
    if server_path() is not None:
        postgres = find("postgres")
        return Path(postgres).resolve().parent if postgres and find("initdb") else None
    on_path = shutil.which("postgres")
    if on_path and shutil.which("initdb"):
        return Path(on_path).resolve().parent
    versions = sorted(
        (folder for folder in debian.glob("*/bin") if folder.parent.name.isdigit()),
        key=lambda folder: int(folder.parent.name),
    )
    for folder in reversed(versions):
        if (folder / "postgres").is_file() and (folder / "initdb").is_file():
            return folder
    return None


SSL_REQUEST = struct.pack("!II", 8, 80877103)


class Postgres(BaseKind):
    name = "postgres"
    label = "PostgreSQL"
    install = f"{APT} postgresql"

    def paths(self) -> dict[str, str]:
        folder = postgres_bin()
        if folder is None:
            raise ProgramMissing(f"{self.label} (postgres, initdb)", self.install)
        return {"postgres": str(folder / "postgres"), "initdb": str(folder / "initdb")}

    def account(self) -> Account:
        return refuse_root(account_for(["postgres"]), self.label)

    def _start(
        self,
        paths: dict[str, str],
        folder: ServerFolder,
        certs: RunCertificates,
        certificate: str,
        steps: dict[str, float],
    ) -> tuple[list[ServerProcess], ServerInfo]:
        password = secrets.token_hex(16)
        cert, key, _ = certificate_files(folder, certs, certificate)
        pwfile = folder.write("password", password + "\n")
        hba = folder.write(
            "pg_hba.conf", "host all all 127.0.0.1/32 scram-sha-256\nhost all all ::1/128 scram-sha-256\n", 0o644
        )
        data = folder.subfolder("data") / "cluster"
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
            "unix_socket_directories": "",  # TCP only: a socket path inside a long TMPDIR would be too long
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
            with probe_connection(ports[0]) as connection:
                connection.sendall(SSL_REQUEST)
                if connection.recv(1) != b"S":
                    raise ValueError("the SSLRequest was not accepted")

        began = time.perf_counter()
        process, ports = serve(self.label, folder, argv, 1, probe, signal.SIGINT)  # SIGINT: fast shutdown
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


class MariaDB(BaseKind):
    name = "mariadb"
    label = "MariaDB"
    install = f"{APT} mariadb-server"
    programs = ("mariadbd", "mariadb-install-db")

    def account(self) -> Account:
        return account_for(["mysql"])

    def _start(
        self,
        paths: dict[str, str],
        folder: ServerFolder,
        certs: RunCertificates,
        certificate: str,
        steps: dict[str, float],
    ) -> tuple[list[ServerProcess], ServerInfo]:
        password = secrets.token_hex(16)
        cert, key, ca = certificate_files(folder, certs, certificate)
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
                    f"socket=@{folder.path.name}",  # abstract (Linux): no path, so no path-length limit
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
            with probe_connection(ports[0]) as connection:
                mysql_greeting(connection)

        began = time.perf_counter()
        process, ports = serve(self.label, folder, argv, 1, probe)
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
            version=re.sub(r"^\S*/", "", version_of([paths["mariadbd"], "--version"])),
            startup_s=0.0,
        )
        return [process], info
