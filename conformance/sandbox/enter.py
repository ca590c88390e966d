"""The inner stage: builds the sandbox inside fresh namespaces, checks it, then runs the command.

As root, ``enter_here()`` moves the calling process itself into new network and mount
namespaces (``unshare(2)``) and builds the sandbox there: the command goes on in the same
interpreter. Otherwise (a user namespace is needed, which a process with threads cannot
enter) ``create.command()`` starts ``python -m conformance.sandbox.enter DESCRIPTION_JSON -- CMD...``
under ``unshare --user --map-root-user --net --mount``. Either way the process is then the
first one in a network namespace that has only ``lo`` (down) and in a mount namespace of its
own. It:

1. makes every mount private, so nothing it mounts can reach the machine's namespace;
2. brings ``lo`` up and adds the Cloudflare addresses, the edges of every published range and
   the addresses beside them to it (``address add A/32 dev lo`` in one ``ip -batch``; IPv6 with
   ``nodad`` so they are usable at once);
3. writes ``hosts``, ``resolv.conf`` and ``nsswitch.conf`` into a tmpfs that exists only in
   this mount namespace and bind-mounts them read-only over ``/etc/...`` (and hides nscd's
   socket, through which glibc would otherwise ask the machine's cache daemon);
4. runs ``verify.problems()``: if anything is wrong it prints the problems and exits 3
   without running the command;
5. exports the description in ``CONNECT_CONFORMANCE_SANDBOX`` (for the processes it starts)
   and execs the command (``enter_here``: returns to it).

Nothing is left behind: the namespaces, their addresses and mounts vanish with their last
process.
"""

from __future__ import annotations

import ctypes
import os
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from ..errors import InfrastructureError
from .description import ENV_VAR, Description
from .verify import outside_problems, problems

EXIT_BROKEN = 3
"""The sandbox could not be built or failed its check (the CLI's 'infrastructure error')."""

MS_RDONLY = 0x1
MS_NOSUID = 0x2
MS_NODEV = 0x4
MS_NOEXEC = 0x8
MS_REMOUNT = 0x20
MS_BIND = 0x1000
MS_REC = 0x4000
MS_PRIVATE = 1 << 18
MNT_DETACH = 0x2
CLONE_NEWNS = 0x00020000
CLONE_NEWNET = 0x40000000

#: Files replaced inside (each must exist on the machine: a bind mount needs a target).
ETC_HOSTS = Path("/etc/hosts")
ETC_RESOLV = Path("/etc/resolv.conf")
ETC_NSSWITCH = Path("/etc/nsswitch.conf")
#: nscd's socket folders: glibc asks nscd before nsswitch when its socket exists.
NSCD_DIRS = (Path("/run/nscd"), Path("/var/run/nscd"))


class SandboxSetupError(InfrastructureError):
    pass


class SandboxRefused(InfrastructureError):
    """The kernel refused new namespaces (no CAP_SYS_ADMIN, a seccomp filter...): nothing changed."""


def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(None, use_errno=True)


def mount(source: str | None, target: str, fstype: str | None, flags: int, data: str | None = None) -> None:
    def encode(value: str | None) -> bytes | None:
        return None if value is None else os.fsencode(value)

    if _libc().mount(encode(source), encode(target), encode(fstype), ctypes.c_ulong(flags), encode(data)) != 0:
        code = ctypes.get_errno()
        raise SandboxSetupError(f"mount {source or fstype} on {target}: {os.strerror(code)}")


def umount(target: str, flags: int = 0) -> None:
    if _libc().umount2(os.fsencode(target), flags) != 0:
        code = ctypes.get_errno()
        raise SandboxSetupError(f"umount {target}: {os.strerror(code)}")


def _ip(*args: str) -> None:
    done = subprocess.run(["ip", *args], capture_output=True, text=True, timeout=10, check=False)
    if done.returncode != 0:
        raise SandboxSetupError(f"ip {' '.join(args)}: {done.stderr.strip() or f'exit {done.returncode}'}")


def address_commands(description: Description) -> list[str]:
    """``ip -batch`` lines that put every address of the description on ``lo``, each as a host route
    of its own (/32, /128) so that nothing else of its range becomes local."""
    lines = []
    for address in description.on_lo:
        if ":" in address:
            lines.append(f"address add {address}/128 dev lo nodad")
        else:
            lines.append(f"address add {address}/32 dev lo")
    return lines


def configure_network(description: Description) -> None:
    _ip("link", "set", "lo", "up")
    # One process for all of them: the edges of every published range are some ninety addresses,
    # and an `ip` per address would cost most of the sandbox's start-up.
    commands = "\n".join(address_commands(description)) + "\n"
    done = subprocess.run(
        ["ip", "-batch", "-"], input=commands, capture_output=True, text=True, timeout=10, check=False
    )
    if done.returncode != 0:
        raise SandboxSetupError(
            f"ip -batch (adding addresses to lo): {done.stderr.strip() or f'exit {done.returncode}'}"
        )


def configure_files(description: Description) -> None:
    """Our hosts, resolv.conf and nsswitch.conf, read-only over the machine's (here only)."""
    mount(None, "/", None, MS_REC | MS_PRIVATE)
    for path in (ETC_HOSTS, ETC_RESOLV, ETC_NSSWITCH):
        if not path.exists():
            raise SandboxSetupError(f"{path} does not exist on this machine: there is nothing to mount ours over")
    contents = {
        ETC_HOSTS: description.hosts_file(),
        ETC_RESOLV: description.resolv_conf(),
        ETC_NSSWITCH: description.nsswitch_conf(ETC_NSSWITCH.read_text(encoding="utf-8")),
    }
    # A tmpfs seen only in this mount namespace holds our files; once they are bound over
    # /etc its mount point is detached and removed, so nothing of it stays on the disk.
    staging = tempfile.mkdtemp(prefix="connect-conformance-sandbox-")
    try:
        mount("tmpfs", staging, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=1m,mode=0755")
        try:
            for target, text in contents.items():
                source = Path(staging) / target.name
                source.write_text(text, encoding="utf-8")
                source.chmod(0o644)
                mount(str(source), str(target), None, MS_BIND)
                mount(None, str(target), None, MS_BIND | MS_REMOUNT | MS_RDONLY)
        finally:
            umount(staging, MNT_DETACH)
    finally:
        os.rmdir(staging)
    for folder in NSCD_DIRS:
        if folder.is_dir() and not folder.is_symlink():
            mount("tmpfs", str(folder), "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=16k,mode=0755")


def build(description: Description) -> list[str]:
    """Build the sandbox in the current (fresh) namespaces; the problems found after.

    Outside fresh namespaces it changes nothing: it would be the machine's ``lo`` and mounts.
    """
    outside = outside_problems(description)
    if outside:
        raise SandboxSetupError("; ".join(outside) + ": refusing to change anything (run it through create.command)")
    configure_network(description)
    configure_files(description)
    return problems(description)


def enter_here(description: Description) -> None:
    """Move this process into a new sandbox and build it (as root, before any thread starts).

    Raises ``SandboxRefused`` when the kernel refuses the namespaces (this process is unchanged),
    ``SandboxSetupError`` when the sandbox could not be built or fails its check: the process is
    then in half a sandbox and must end without running anything.
    """
    if _libc().unshare(CLONE_NEWNET | CLONE_NEWNS) != 0:
        raise SandboxRefused(f"unshare(CLONE_NEWNET | CLONE_NEWNS): {os.strerror(ctypes.get_errno())}")
    try:
        found = build(description)
    except (ValueError, OSError, subprocess.SubprocessError) as error:
        raise SandboxSetupError(f"cannot build the sandbox: {error}") from None
    if found:
        raise SandboxSetupError("the sandbox failed its check: " + "; ".join(found))
    os.environ[ENV_VAR] = description.to_json()


def main(argv: Sequence[str]) -> int:
    if len(argv) < 3 or argv[1] != "--":
        print("usage: python -m conformance.sandbox.enter DESCRIPTION_JSON -- COMMAND [ARGS...]", file=sys.stderr)
        return 2
    description_json, command = argv[0], list(argv[2:])
    try:
        description = Description.from_json(description_json)
        found = build(description)
    except (SandboxSetupError, ValueError, OSError, subprocess.SubprocessError) as error:
        print(f"sandbox: cannot build the sandbox: {error}", file=sys.stderr)
        return EXIT_BROKEN
    if found:
        print("sandbox: the sandbox failed its check; nothing was run:", file=sys.stderr)
        for problem in found:
            print(f"  - {problem}", file=sys.stderr)
        return EXIT_BROKEN
    os.environ[ENV_VAR] = description.to_json()
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        os.execvp(command[0], command)
    except OSError as error:
        print(f"sandbox: cannot run {command[0]}: {error}", file=sys.stderr)
        return 127
    return 127  # not reached: execvp does not return


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
