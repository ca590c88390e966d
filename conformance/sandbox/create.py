"""Creating a sandbox: whether it can be done here, and the command line that does it.

A sandbox is a fresh network namespace and mount namespace made by util-linux ``unshare``;
as root that is all, otherwise also a user namespace in which the caller is root
(``--user --map-root-user``), which needs unprivileged user namespaces. Inside,
``python -m conformance.sandbox.enter`` builds and checks it, then runs the command.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from .description import Description, nameservers
from .verify import namespace_inode

PROBE_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class Availability:
    ok: bool
    reason: str
    """Why not (empty when ``ok``)."""
    user_namespace: bool
    """Whether a user namespace is needed (not root)."""


def _read_int(path: str) -> int | None:
    try:
        return int(Path(path).read_text().strip())
    except (OSError, ValueError):
        return None


def explain(
    platform: str,
    which: Callable[[str], str | None],
    euid: int,
    sysctls: Mapping[str, int | None],
) -> Availability:
    """The reasons a sandbox cannot be made, from facts about the machine (pure)."""
    user_namespace = euid != 0
    if not platform.startswith("linux"):
        return Availability(False, f"network namespaces exist only on Linux (this is {platform})", user_namespace)
    for tool, package in (("unshare", "util-linux"), ("ip", "iproute2")):
        if which(tool) is None:
            return Availability(False, f"'{tool}' ({package}) is not on PATH", user_namespace)
    if user_namespace:
        if sysctls.get("kernel.unprivileged_userns_clone") == 0:
            return Availability(
                False,
                "not root, and unprivileged user namespaces are disabled (kernel.unprivileged_userns_clone = 0)",
                True,
            )
        if sysctls.get("user.max_user_namespaces") == 0:
            return Availability(
                False, "not root, and user namespaces are disabled (user.max_user_namespaces = 0)", True
            )
    return Availability(True, "", user_namespace)


def unshare_prefix(user_namespace: bool) -> list[str]:
    prefix = ["unshare", "--net", "--mount", "--propagation", "private"]
    if user_namespace:
        prefix[1:1] = ["--user", "--map-root-user"]
    return prefix


def availability(probe: bool = True) -> Availability:
    """Whether a sandbox can be created here; with ``probe``, by actually creating an empty one."""
    found = explain(
        sys.platform,
        shutil.which,
        os.geteuid(),
        {
            "kernel.unprivileged_userns_clone": _read_int("/proc/sys/kernel/unprivileged_userns_clone"),
            "user.max_user_namespaces": _read_int("/proc/sys/user/max_user_namespaces"),
        },
    )
    if not found.ok or not probe:
        return found
    # The facts above are not the whole story (seccomp, AppArmor's userns restriction,
    # a container without CAP_SYS_ADMIN): try it, with the one privileged thing we need.
    command = [*unshare_prefix(found.user_namespace), "ip", "link", "set", "lo", "up"]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=PROBE_TIMEOUT_S, check=False)
    except (OSError, subprocess.TimeoutExpired) as error:
        return Availability(False, f"'{' '.join(command)}' failed: {error}", found.user_namespace)
    if done.returncode != 0:
        detail = done.stderr.strip() or f"exit {done.returncode}"
        return Availability(False, f"'{' '.join(command)}' failed: {detail}", found.user_namespace)
    return found


def outer_description(base: Description | None = None) -> Description:
    """``base`` (default: the standard layout) plus what the inside checks against: this
    network namespace, this machine's resolvers and host name."""
    try:
        resolvers = nameservers(Path("/etc/resolv.conf").read_text(encoding="utf-8"))
    except OSError:
        resolvers = ()
    return (base or Description()).with_outer(
        netns=namespace_inode("net"), mntns=namespace_inode("mnt"), nameservers=resolvers, hostname=socket.gethostname()
    )


def command(
    argv: Sequence[str], description: Description | None = None, user_namespace: bool | None = None
) -> list[str]:
    """The command line that runs ``argv`` inside a new sandbox."""
    if user_namespace is None:
        user_namespace = os.geteuid() != 0
    inner = [sys.executable, "-m", "conformance.sandbox.enter", outer_description(description).to_json(), "--"]
    return [*unshare_prefix(user_namespace), "--", *inner, *argv]


def reexec(argv: Sequence[str], description: Description | None = None) -> None:
    """Replace this process with ``argv`` run inside a new sandbox (does not return)."""
    line = command(argv, description)
    sys.stdout.flush()
    sys.stderr.flush()
    os.execvp(line[0], line)
