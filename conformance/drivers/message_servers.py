"""The message servers: Redis (``redis-server``), SMTP (aiosmtpd, ``smtp_server``) and Mosquitto.

Redis and Mosquitto listen twice, plain and TLS from the first byte (``tls_port``); the SMTP
server offers STARTTLS on its one port and requires it before AUTH. Mosquitto's TLS listener has
the mount point ``tls/`` (``MQTT_TLS_MOUNT_POINT``): the broker files what a client of that listener
publishes under it, which a client of the plain listener sees, the broker's own proof that a
connection came in over TLS (``adapters/js/drivers/mqtt.js``).
"""

from __future__ import annotations

import importlib.util
import os
import re
import secrets
import sys
import time

from ..core.certificates import RunCertificates
from .kinds import (
    APT,
    PORT_ATTEMPTS,
    USER,
    BaseKind,
    certificate_files,
    current_account,
    probe_connection,
    serve,
    version_of,
)
from .model import HOST, ServerInfo, elapsed
from .process import Account, ProgramMissing, ServerFolder, ServerProcess, account_for, run_tool

# -- Redis --------------------------------------------------------------------------------------------------


class Redis(BaseKind):
    name = "redis"
    label = "Redis"
    install = f"{APT} redis-server"
    programs = ("redis-server",)

    def account(self) -> Account:
        return account_for(["redis"])

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
            with probe_connection(ports[0]) as connection:
                connection.sendall(b"PING\r\n")
                answer = connection.recv(64)
            if not (answer.startswith(b"-NOAUTH") or answer.startswith(b"+PONG")):
                raise ValueError(f"PING answered {answer!r}")
            probe_connection(ports[1]).close()

        began = time.perf_counter()
        process, ports = serve(self.label, folder, argv, 2, probe)
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
            # "Redis server v=7.0.15 sha=00000000:0 malloc=... build=...": the version is what matters.
            version=re.sub(r" sha=.*", "", version_of([paths["redis-server"], "--version"])),
            startup_s=0.0,
        )
        return [process], info


# -- SMTP ---------------------------------------------------------------------------------------------------


def aiosmtpd_installed() -> bool:
    return importlib.util.find_spec("aiosmtpd") is not None


class Smtp(BaseKind):
    name = "smtp"
    label = "the SMTP server aiosmtpd"
    install = "pip install 'connect-conformance[drivers]'"

    def paths(self) -> dict[str, str]:
        if not aiosmtpd_installed():
            raise ProgramMissing(self.label, self.install)
        return {"python": sys.executable}

    def account(self) -> Account:
        # Our own Python program: nothing in it refuses root, and another user may not read the
        # harness's installation.
        return current_account()

    def _start(
        self,
        paths: dict[str, str],
        folder: ServerFolder,
        certs: RunCertificates,
        certificate: str,
        steps: dict[str, float],
    ) -> tuple[list[ServerProcess], ServerInfo]:
        from . import smtp_server

        password = secrets.token_hex(16)
        cert, key, _ = certificate_files(folder, certs, certificate)
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
            with probe_connection(ports[0]) as connection:
                greeting = connection.recv(512)
            if not greeting.startswith(b"220 "):
                raise ValueError(f"the greeting was {greeting!r}")

        began = time.perf_counter()
        process, ports = serve("SMTP", folder, argv, 1, probe, env=dict(os.environ))
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

#: The prefix under which Mosquitto files the topics of its TLS listener's clients (``mount_point``).
MQTT_TLS_MOUNT_POINT = "tls/"


class Mosquitto(BaseKind):
    name = "mosquitto"
    label = "Mosquitto"
    install = f"{APT} mosquitto"
    programs = ("mosquitto", "mosquitto_passwd")

    def account(self) -> Account:
        return account_for(["mosquitto"])

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
        passwords = data / "passwd"
        began = time.perf_counter()
        run_tool([paths["mosquitto_passwd"], "-b", "-c", str(passwords), USER, password], folder, "mosquitto_passwd")
        steps["passwd"] = elapsed(began)
        attempts = iter(range(PORT_ATTEMPTS))

        def argv(ports: tuple[int, ...]) -> list[str]:
            plain, tls = ports
            # Per-listener settings, so that the TLS listener can have a mount point of its own; each
            # listener then needs its own authentication lines.
            authenticated = ["allow_anonymous false", f"password_file {passwords}"]
            text = "\n".join(
                [
                    "per_listener_settings true",
                    "persistence false",
                    f"user {folder.account.name}",
                    "log_dest stderr",
                    "log_type error",
                    "log_type warning",
                    "log_type notice",
                    f"listener {plain} {HOST}",
                    *authenticated,
                    f"listener {tls} {HOST}",
                    *authenticated,
                    f"mount_point {MQTT_TLS_MOUNT_POINT}",
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
                probe_connection(port).close()

        began = time.perf_counter()
        process, ports = serve(self.label, folder, argv, 2, probe)
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
