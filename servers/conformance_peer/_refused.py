"""A loopback port that refuses connections for as long as a session holds it."""

import socket


def reserve_refused_port() -> socket.socket:
    """A TCP socket bound to 127.0.0.1 on a free port but not listening.

    Connecting to its port is refused (the kernel answers RST), and while the
    socket stays open no other program can take the port.
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.bind(("127.0.0.1", 0))
    except OSError:
        sock.close()
        raise
    return sock
