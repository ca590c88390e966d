"""What every server of the drivers area shares: its account, its private folder, its process.

- **Account.** Database servers refuse to run as root, and a root harness should not hand
  them root anyway: as root, a server runs as its Debian system user (``postgres``,
  ``mysql``, ``redis``, ``mosquitto``), else as ``nobody``; not as root, as the harness's own
  user. Inside a user namespace that maps only root (the sandbox of a non-root run) no other
  user exists: the server then runs as that root, and a kind that refuses root says so.
- **Folder.** ``tempdirs.make_private`` (``<prefix><harness pid>-<random>``, swept by the next
  run if this one is killed), owned by the harness, group-readable by the server's account
  (0750); the server's data and its copies of the certificate and key (0600) belong to the
  server's account.
- **Process.** Started directly (never through a daemonising wrapper), in a session of its
  own, with its output in a log file of the folder, and ``PR_SET_PDEATHSIG`` so it dies with
  the harness. Linux sends that signal when the *thread* that started the process ends:
  start servers from a thread that lives as long as the run (the main thread). Stopped by
  signalling its process group (the server's own children included), SIGKILL after a grace
  period, always reaped; at interpreter exit a server nobody stopped is killed and its folder
  removed.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import socket
import stat
import subprocess
import time
import weakref
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from ..adapters.processes import parent_death_signal
from ..core import tempdirs
from ..errors import InfrastructureError

#: Seconds between SIGTERM (or the kind's own stop signal) and SIGKILL.
STOP_GRACE_S = 10.0
LOG_TAIL_CHARS = 1500


class Unavailable(InfrastructureError):
    """A server cannot be started on this machine; the message says why and how to fix it."""


class ProgramMissing(Unavailable):
    """A program of the server is not installed; ``install`` is the command that installs it."""

    def __init__(self, what: str, install: str) -> None:
        self.install = install
        super().__init__(f"{what} is not installed ({install})")


class ServerFailed(Unavailable):
    """The server is installed but would not start; the message has the end of its log."""


@dataclass(frozen=True)
class Account:
    """The user a server runs as."""

    name: str
    uid: int
    gid: int
    switch: bool
    """Whether the harness switches to this user to start the server (it is root and this is not)."""

    @property
    def is_root(self) -> bool:
        return self.uid == 0


def uid_in_map(uid_map: str, uid: int) -> bool:
    """Whether ``uid`` is inside one of the ranges of a ``/proc/<pid>/uid_map`` (or ``gid_map``) text."""
    for line in uid_map.splitlines():
        fields = line.split()
        if len(fields) == 3 and all(field.isdigit() for field in fields):
            inside, _, count = (int(field) for field in fields)
            if inside <= uid < inside + count:
                return True
    return False


def _mapped(uid: int, gid: int) -> bool:
    """Whether ``uid`` and ``gid`` exist in this user namespace."""
    try:
        uids = Path("/proc/self/uid_map").read_text()
        gids = Path("/proc/self/gid_map").read_text()
    except OSError:
        return True  # no /proc: no user namespaces to worry about
    return uid_in_map(uids, uid) and uid_in_map(gids, gid)


def account_for(preferred: Sequence[str]) -> Account:
    """The account a server runs as: the first of ``preferred`` (then ``nobody``) when the harness is root."""
    uid = os.geteuid()
    if uid != 0:
        entry = pwd.getpwuid(uid)
        return Account(entry.pw_name, uid, os.getegid(), switch=False)
    for name in (*preferred, "nobody"):
        try:
            entry = pwd.getpwnam(name)
        except KeyError:
            continue
        if entry.pw_uid != 0 and _mapped(entry.pw_uid, entry.pw_gid):
            return Account(name, entry.pw_uid, entry.pw_gid, switch=True)
    return Account("root", 0, os.getegid(), switch=False)


def free_port(host: str = "127.0.0.1") -> int:
    """A port nothing listens on now. A server cannot take a bound socket from us, so another
    process may take the port before the server does: ``start`` retries on that."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


def closed_ancestor(path: Path, account: Account) -> Path | None:
    """The first folder above ``path`` that ``account`` may not enter (no search permission), or ``None``."""
    for folder in reversed(path.parents):
        try:
            status = folder.stat()
        except OSError:
            return folder
        if status.st_uid == account.uid:
            bit = stat.S_IXUSR
        elif status.st_gid == account.gid:
            bit = stat.S_IXGRP
        else:
            bit = stat.S_IXOTH
        if not status.st_mode & bit:
            return folder
    return None


class ServerFolder:
    """The private folder of one server: owned by the harness, entered by the server's account."""

    def __init__(self, prefix: str, account: Account) -> None:
        self.account = account
        self.path = tempdirs.make_private(prefix)
        self._finalizer = weakref.finalize(self, shutil.rmtree, self.path, True)
        if account.switch:
            closed = closed_ancestor(self.path, account)
            if closed is not None:
                self.remove()
                raise ServerFailed(
                    f"the server's user {account.name} cannot enter {closed} (mode {closed.stat().st_mode & 0o777:04o}),"
                    f" which holds its folder: set TMPDIR to a folder every user may enter, such as /tmp"
                )
            os.chown(self.path, -1, account.gid)
            os.chmod(self.path, 0o750)

    def subfolder(self, name: str) -> Path:
        """A folder of the server's account (0700), for what the server writes."""
        path = self.path / name
        path.mkdir(mode=0o700)
        self._own(path)
        return path

    def write(self, name: str, data: bytes | str, mode: int = 0o600) -> Path:
        """A file of the server's account."""
        path = self.path / name
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
        with os.fdopen(fd, "wb") as file:
            file.write(data.encode("utf-8") if isinstance(data, str) else data)
        os.chmod(path, mode)
        self._own(path)
        return path

    def _own(self, path: Path) -> None:
        if self.account.switch:
            os.chown(path, self.account.uid, self.account.gid)

    @property
    def removed(self) -> bool:
        return not self._finalizer.alive

    def remove(self) -> None:
        self._finalizer()


def _kill_group(pgid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def group_members(pgid: int) -> list[int]:
    """The live processes of group ``pgid`` (zombies left out: an orphan's zombie is its reaper's to
    collect, and the reaper of a container may be a PID 1 that never does)."""
    proc = Path("/proc")
    if not (proc / "self" / "stat").exists():
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return []
        except PermissionError:
            pass
        return [pgid]
    members: list[int] = []
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rpartition(")")[2].split()
        except OSError:
            continue
        if len(fields) > 2 and fields[2] == str(pgid) and fields[0] not in ("Z", "X"):
            members.append(int(entry.name))
    return members


def group_alive(pgid: int) -> bool:
    """Whether any process of group ``pgid`` still runs."""
    return bool(group_members(pgid))


def _last_resort(pgid: int) -> None:
    _kill_group(pgid, signal.SIGKILL)


class ServerProcess:
    """One server process (and the group it leads), its output in ``log``."""

    def __init__(
        self,
        argv: Sequence[str],
        folder: ServerFolder,
        log_name: str,
        stop_signal: int = signal.SIGTERM,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.argv = list(argv)
        self.log = folder.path / log_name
        self.stop_signal = stop_signal
        account = folder.account
        with open(self.log, "ab") as log:
            self._popen: subprocess.Popen[bytes] = subprocess.Popen(
                self.argv,
                cwd=folder.path,
                env=dict(env) if env is not None else _plain_environment(account),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=parent_death_signal(),
                user=account.uid if account.switch else None,
                group=account.gid if account.switch else None,
                extra_groups=[] if account.switch else None,
            )
        self.pid = self._popen.pid
        """Also the process group's id (the server leads a session of its own)."""
        self._finalizer = weakref.finalize(self, _last_resort, self.pid)

    def exit_code(self) -> int | None:
        return self._popen.poll()

    def log_tail(self) -> str:
        try:
            with open(self.log, "rb") as file:
                file.seek(0, os.SEEK_END)
                file.seek(max(0, file.tell() - LOG_TAIL_CHARS))
                return file.read().decode("utf-8", "replace").strip()
        except OSError:
            return ""

    def stop(self, grace_s: float = STOP_GRACE_S) -> None:
        """The stop signal to the group, SIGKILL to what is left after ``grace_s``; reaped."""
        try:
            if self._popen.poll() is None:
                _kill_group(self.pid, self.stop_signal)
                with contextlib.suppress(subprocess.TimeoutExpired):
                    self._popen.wait(grace_s)
        finally:
            # The leader may be gone while its children (a database's backends) are not.
            if self._popen.poll() is None or group_alive(self.pid):
                _kill_group(self.pid, signal.SIGKILL)
            self._popen.wait()
            deadline = time.monotonic() + grace_s
            while group_alive(self.pid) and time.monotonic() < deadline:
                time.sleep(0.01)  # other members are reaped by init once the leader is gone
            self._finalizer.detach()


def _plain_environment(account: Account) -> dict[str, str]:
    """A small environment: the harness's (npm, CI, proxies) is none of a server's business."""
    home = "/"
    with contextlib.suppress(KeyError):
        home = pwd.getpwuid(account.uid).pw_dir
    return {
        "PATH": os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin"),
        "HOME": home,
        "USER": account.name,
        "LOGNAME": account.name,
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "TZ": "UTC",
    }


def run_tool(argv: Sequence[str], folder: ServerFolder, what: str, timeout_s: float = 120.0) -> None:
    """A set-up program (``initdb``, ``mariadb-install-db``) as the server's account; its output on failure."""
    process = ServerProcess(argv, folder, f"{Path(argv[0]).name}.log")
    try:
        code = process._popen.wait(timeout_s)
    except subprocess.TimeoutExpired:
        process.stop(0.5)
        raise ServerFailed(f"{what} took longer than {timeout_s:g} s: {process.log_tail()}") from None
    except BaseException:
        process.stop(0.5)
        raise
    process.stop(0.5)
    if code != 0:
        raise ServerFailed(f"{what} failed (exit {code}): {process.log_tail()}")


def wait_ready(
    process: ServerProcess,
    probe: Callable[[], object],
    what: str,
    timeout_s: float,
) -> None:
    """Poll ``probe`` until it returns; an early exit or the deadline is ``Unavailable`` with the log's tail."""
    deadline = time.monotonic() + timeout_s
    last = "no answer yet"
    while True:
        code = process.exit_code()
        if code is not None:
            raise ServerExited(f"{what} exited with code {code} while starting: {process.log_tail()}")
        try:
            probe()
            return
        except (OSError, ValueError) as error:
            last = f"{type(error).__name__}: {error}"
        if time.monotonic() > deadline:
            raise ServerFailed(f"{what} did not answer within {timeout_s:g} s ({last}): {process.log_tail()}")
        time.sleep(0.02)


class ServerExited(ServerFailed):
    """The server exited while starting (a port taken meanwhile is retried)."""

    @property
    def port_taken(self) -> bool:
        text = str(self).lower()
        return "address already in use" in text or "could not bind" in text or "eaddrinuse" in text
