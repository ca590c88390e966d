"""The container health check (`conformance_peer.health`) finds a process's own listening sockets
through /proc and connects to each."""

import os
import socket
import subprocess
import sys

from conformance_peer import health


def test_it_finds_exactly_this_process_listeners_v4_and_v6() -> None:
    with socket.socket() as v4, socket.socket(socket.AF_INET6) as v6, socket.socket() as bound_only:
        v4.bind(("127.0.0.1", 0))
        v4.listen()
        v6.bind(("::1", 0))
        v6.listen()
        bound_only.bind(("127.0.0.1", 0))  # not listening: not a server
        found = health.listeners(os.getpid())
        assert ("127.0.0.1", v4.getsockname()[1]) in found
        assert ("::1", v6.getsockname()[1]) in found
        assert all(port != bound_only.getsockname()[1] for _, port in found)
        assert health.check(os.getpid()) is None


def test_a_process_with_no_listener_is_unhealthy() -> None:
    with subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"]) as child:
        try:
            assert health.check(child.pid) == f"process {child.pid} listens on no TCP socket"
            assert health.main([str(child.pid)]) == 1
        finally:
            child.kill()
