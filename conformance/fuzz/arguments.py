"""The values generated steps pass: listeners, addresses, options, payloads (hypothesis strategies).

Every address is on loopback, or is rejected while a conforming
implementation parses it: the fuzzer never dials anything else, and never asks
a resolver for a name (``localhost`` is in every hosts file). The ``sandbox``
feature, drawn only inside the network sandbox (docs/sandbox.md), adds what
must not be dialled outside one: Cloudflare's addresses and names (on the
sandbox's ``lo``), fixed and privileged ports, ports 80 and 443, and host
spellings a lenient parser would hand to a resolver.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from hypothesis import strategies as st

from . import edges

#: ``connect`` without an ``address`` key: connect() gets no argument at all (B52).
MISSING = object()


def weighted(draw: st.DrawFn, weights: dict[str, int]) -> str:
    """A weighted choice through a random drawn from hypothesis (still replayed and shrunk by it):
    ``sampled_from`` clumps on a few values per run, and a few hundred examples then miss whole kinds."""
    # randrange, not choices: hypothesis's random floats lean towards 0 (the first entry).
    pick = draw(st.randoms(use_true_random=False)).randrange(sum(weights.values()))
    for value, weight in weights.items():
        pick -= weight
        if pick < 0:
            return value
    raise AssertionError("unreachable: pick < sum of the weights")


def one_of(draw: st.DrawFn, values: list[Any]) -> Any:
    """One of ``values``, evenly (``weighted`` over positions, for values that are not strings)."""
    return values[int(weighted(draw, {str(index): 1 for index in range(len(values))}))]


# -- listeners --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Listener:
    """The peer's listener as a case writes it (spec/README.md, Listeners)."""

    kind: str = "plain"
    host: str | None = None
    cert: str | None = None
    port: int | None = None
    #: Drawn by the ``edges`` feature (one of ``edges.TARGETS``): the first connect mostly dials
    #: ``edges.edge_addresses``.
    edge: str | None = None
    #: Drawn by the ``upgrade`` feature: the first connect uses the listener's own transport (and
    #: options a startTls() socket must inherit), and the scenario's theme is the handshake.
    handshake: bool = False

    def spec(self) -> str | dict[str, Any]:
        if self.host is None and self.cert is None and self.port is None:
            return self.kind
        found: dict[str, Any] = {"kind": self.kind}
        found.update({key: value for key, value in (("host", self.host), ("cert", self.cert)) if value is not None})
        if self.port is not None:
            found["port"] = self.port
        return found

    @property
    def listening(self) -> bool:
        return self.kind != "none"

    @property
    def tls(self) -> bool:
        return self.kind in ("tls", "starttls")


#: Fixed ports of a listener on a loopback address of its own (sandbox only): port 25 (B24), and
#: ports written only with octal digits, which a parser reading ``0${peer.port}`` as octal misses (B4).
FIXED_PORTS = {"25": 3, "4321": 2, "1234": 1, "7654": 1}
CLOUDFLARE_HOSTS = (
    "sandbox-cloudflare-v4",
    "sandbox-cloudflare-v4-b",
    "sandbox-cloudflare-v6",
    "sandbox-cloudflare-v6-b",
)
CERTS = {"good": 6, "wrong-host": 2, "untrusted": 2, "expired": 1}
#: The ``upgrade`` feature's: what a handshake decides shows best when it fails.
HANDSHAKE_CERTS = {"good": 3, "wrong-host": 2, "untrusted": 2, "expired": 1}
#: How often a listener is the one a feature aims at, when that feature is on.
AIMS = {"upgrade": 3, "edges": 3, "other": 2}


@st.composite
def listeners(draw: st.DrawFn, features: Collection[str], ipv6: bool) -> Listener:
    kinds = {"plain": 5, "none": 1} | ({"tls": 2, "starttls": 2} if "tls" in features else {})
    kind = weighted(draw, kinds)
    cert = weighted(draw, CERTS) if kind in ("tls", "starttls") else "good"
    listener = Listener(kind, cert=None if cert == "good" else cert)
    # The listener the ``upgrade`` or the ``edges`` feature aims at, mostly (each only shows with one).
    aim = weighted(draw, {name: weight for name, weight in AIMS.items() if name in features or name == "other"})
    if aim == "upgrade":
        kind = weighted(draw, {"starttls": 1, "tls": 1})
        cert = weighted(draw, HANDSHAKE_CERTS)
        return Listener(kind, cert=None if cert == "good" else cert, handshake=True)
    if aim == "edges":
        return _edge_listener(draw, Listener("plain") if kind == "none" else listener)
    if kind == "none":
        return listener
    if "sandbox" in features and weighted(draw, {"loopback": 2, "sandbox": 1}) == "sandbox":
        if draw(st.booleans()):
            return Listener(kind, host=one_of(draw, list(CLOUDFLARE_HOSTS)), cert=listener.cert)
        return Listener(kind, host="sandbox-loopback", cert=listener.cert, port=int(weighted(draw, FIXED_PORTS)))
    if ipv6 and "odd_addresses" in features and weighted(draw, {"v4": 5, "v6": 1}) == "v6":
        return Listener(kind, host="::1", cert=listener.cert)
    return listener


def _edge_listener(draw: st.DrawFn, listener: Listener) -> Listener:
    target = weighted(draw, edges.TARGETS)
    if target == "range":
        # Plain: the beside addresses are dialled, and no certificate names them.
        return Listener("plain", host=one_of(draw, list(edges.range_hosts())), edge=target)
    if target in ("spelling", "names"):
        hosts = edges.SPELLED_HOSTS if target == "spelling" else tuple(edges.MIXED_NAMES)
        hosts = (hosts[0], *hosts)  # the IPv4 address has the most spellings and names
        return Listener(listener.kind, host=one_of(draw, list(hosts)), cert=listener.cert, edge=target)
    if target == "port25":
        return Listener("plain", host="sandbox-loopback", port=25, edge=target)
    if target == "octal":
        port = one_of(draw, list(edges.OCTAL_PORTS))
        return Listener(listener.kind, host="sandbox-loopback", cert=listener.cert, port=port, edge=target)
    return Listener(listener.kind, cert=listener.cert, edge=target)


# -- addresses ----------------------------------------------------------------------------------------

#: Ports only of this case's own peer, or that no one can listen on: a broken implementation that
#: dials an address it should have rejected must not reach a server of another test.
_PORTS = ["${peer.port}", "${peer.port}", "${peer.port}", "${peer.refused_port}", 0, 65536, -1, "${peer.refused_port}x"]
#: Ports of the object form that conversion must reject or read in a way of its own (B10).
_ODD_PORTS = [
    {"$type": "number", "value": "Infinity"},
    {"$type": "number", "value": "-Infinity"},
    {"$type": "number", "value": "NaN"},
    {"$type": "number", "value": "-0"},
    {"$type": "bigint", "value": "1"},
    70000,
    "${peer.port_hex}",
    "abc",
    1.5,
    "",
]
#: Ports a conforming implementation dials on loopback, where nothing of ours listens (sandbox only):
#: the HTTP ports get a hint in the connect error (B18), 65535 is the largest valid port (B10).
_SANDBOX_PORTS = [80, 443, 65535, "80"]

#: Address spellings the parser must reject (never dialled by a conforming implementation, and
#: on loopback when a broken one dials them anyway).
INVALID_ADDRESSES = (
    "127.0.0.1",
    "127.0.0.1:",
    "127.0.0.1:99999",
    "127.0.0.1:-1",
    "127.0.0.1:1.1",
    "127.0.0.1:0x1",
    "localhost:65536",
    ":1",
    "::1:1",
    "[::1",
    "[::1]",
    "local host:1",
    "local%host:1",
    "",
    " 127.0.0.1:1",
)

_LISTENING = ["${peer.address}", "${peer.address}", "localhost:${peer.port}", "127.0.0.1:${peer.port}"]
_NOT_LISTENING = ["${peer.refused_address}", "127.0.0.1:0", "localhost:${peer.refused_port}"]


def _object(hostname: str, port: Any = "${peer.port}") -> dict[str, Any]:
    return {"hostname": hostname, "port": port}


def listening_addresses(listener: Listener) -> list[Any]:
    """Spellings that reach this listener (or, for a listener on an address of its own, try to)."""
    if listener.host is None:
        return [*_LISTENING, _object("127.0.0.1"), _object("localhost")]
    if listener.host == "::1":
        return ["${peer.address}", "[::1]:${peer.port}", _object("[::1]"), "localhost:${peer.port}"]
    if listener.host not in _BY_HOST and listener.host != "sandbox-loopback":
        return ["${peer.address}", _object("${peer.host}")]  # an address of a range's edge (``edges``)
    if listener.host == "sandbox-loopback":
        port = listener.port
        return [
            "${peer.address}",
            "${peer.address}",
            "${peer.host}:0${peer.port}",
            _object("${peer.host}", port),
            _object("${peer.host}", str(port)),
            f"localhost:{port}",
        ]
    return ["${peer.address}", "${peer.address}", *_BY_HOST[listener.host]]


#: What reaches (or tries to) a listener on a Cloudflare address, beside ``${peer.address}``.
_BY_HOST: dict[str, list[Any]] = {
    "sandbox-cloudflare-v4": [
        _object("${peer.hostname}"),
        "[${sandbox.cloudflare_v4_mapped}]:${peer.port}",
        "[::ffff:6810:1]:${peer.port}",
        "${sandbox.name.cloudflare}:${peer.port}",
        "${sandbox.name.mixed}:${peer.port}",
    ],
    "sandbox-cloudflare-v4-b": ["${sandbox.name.cloudflare_dual}:${peer.port}"],
    "sandbox-cloudflare-v6": [_object("[${peer.hostname}]"), "${sandbox.name.cloudflare6}:${peer.port}"],
    "sandbox-cloudflare-v6-b": ["${sandbox.name.cloudflare_dual}:${peer.port}"],
}


#: Addresses a lenient implementation might hand to a resolver or dial past loopback (a bare number
#: becomes 0.0.0.42), or that dial loopback ports anyone could serve: in the sandbox only.
_SANDBOX_ADDRESSES: list[Any] = [
    "127.0.0.1:80",
    "127.0.0.1:443",
    "localhost:80",
    "${sandbox.name.unresolvable}:${peer.port}",
    "${sandbox.name.loopback}:${peer.port}",
    "user@127.0.0.1:${peer.port}",
    "127.0.0.1/x:${peer.port}",
    "lo\u0441alhost:${peer.port}",
    "loc_alhost:${peer.port}",
    42,
    8080,
]


def long_host(total: int) -> str:
    """``a...a.localhost:1`` of ``total`` characters: isValidHost counts the ":port" too (B7)."""
    return "a" * (total - len(".localhost:1")) + ".localhost:1"


#: Kinds of address, by weight. ``odd`` and ``sandbox`` only with their features.
ADDRESS_KINDS = {"listening": 10, "not_listening": 1, "object": 2, "invalid": 2, "odd": 4, "sandbox": 4}


@st.composite
def addresses(draw: st.DrawFn, listener: Listener, features: Collection[str] = (), head: bool = False) -> Any:
    """An address; the ``head`` connect of a scenario mostly reaches its peer, so that what follows has
    a connection to act on."""
    address = _address(draw, listener, features, head)
    return address if listener.listening else _refused(address)


def _refused(value: Any) -> Any:
    """The listener's variables turned into the refused port's (``peer: none`` defines only those)."""
    if isinstance(value, str):
        for listening, refused in (
            ("${peer.address}", "${peer.refused_address}"),
            ("${peer.port_hex}", "${peer.refused_port}"),
            ("${peer.port}", "${peer.refused_port}"),
        ):
            value = value.replace(listening, refused)
        return value
    if isinstance(value, dict):
        return {key: _refused(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_refused(item) for item in value]
    return value


def _address(draw: st.DrawFn, listener: Listener, features: Collection[str], head: bool) -> Any:
    kinds = {
        kind: weight * (4 if head and kind == "listening" else 1)
        for kind, weight in ADDRESS_KINDS.items()
        if (kind != "odd" or "odd_addresses" in features) and (kind != "sandbox" or "sandbox" in features)
    }
    if head and listener.handshake:
        # A name: the SNI and the certificate's check have one to use (B45); a literal: they have not.
        return one_of(draw, ["localhost:${peer.port}", "localhost:${peer.port}", "127.0.0.1:${peer.port}"])
    if head and listener.edge and weighted(draw, {"edge": 5, "other": 1}) == "edge":
        return one_of(draw, list(edges.edge_addresses(listener.edge, listener.host, listener.port)))
    kind = weighted(draw, kinds)
    if kind == "listening" and listener.listening:
        return one_of(draw, listening_addresses(listener))
    if kind in ("listening", "not_listening"):
        return one_of(draw, [*_NOT_LISTENING, _object("127.0.0.1", "${peer.refused_port}")])
    if kind == "invalid":
        return one_of(draw, list(INVALID_ADDRESSES))
    if kind == "odd":
        return _odd_address(draw)
    if kind == "sandbox":
        choice = weighted(draw, {"address": 4, "port": 2, "long": 2})
        if choice == "address":
            return one_of(draw, _SANDBOX_ADDRESSES)
        if choice == "port":
            return _object(one_of(draw, ["127.0.0.1", "localhost"]), one_of(draw, _SANDBOX_PORTS))
        total = one_of(draw, [255, 256, 257])
        return long_host(total) if draw(st.booleans()) else _object(long_host(total).rpartition(":")[0], 1)
    hostname = one_of(draw, ["127.0.0.1", "localhost", "", None])
    ports = _PORTS + (_ODD_PORTS if "odd_addresses" in features else [])
    port = one_of(draw, [*ports, None])
    address: dict[str, Any] = {}
    if hostname is not None:
        address["hostname"] = hostname
    if port is not None:
        address["port"] = port
    return address


def _odd_address(draw: st.DrawFn) -> Any:
    port = "${peer.port}"
    return one_of(
        draw,
        [
            MISSING,
            {"$type": "undefined"},
            None,
            {"$type": "url", "href": f"http://127.0.0.1:{port}/"},
            {"$type": "url", "href": f"http://localhost:{port}/path?q"},
            f"LOCALHOST:{port}",
            f"LocalHost:{port}",
            _object("LOCALHOST", port),
            _object("127.0.0.1", {"$type": "number", "value": "Infinity"}),
            ["127.0.0.1", port],
        ],
    )


# -- options ------------------------------------------------------------------------------------------

#: highWaterMark values at and around its bounds (B15): 2^64 is out of range, the largest double
#: below it is not; a string is converted.
HIGH_WATER_MARKS: list[Any] = [
    0,
    1,
    16,
    1024,
    65536,
    1048576,
    -1,
    "16",
    2**64,
    2**64 - 2048,
    {"$type": "number", "value": "Infinity"},
    {"$type": "number", "value": "NaN"},
]


@st.composite
def options(draw: st.DrawFn, listener: Listener, features: Collection[str] = ()) -> Any:
    """The second argument of connect(): None for no argument at all."""
    odd = "odd_options" in features
    if listener.handshake:
        return _inherited(draw, listener)
    if listener.edge and edges.tls_for(listener.port):
        return {"secureTransport": one_of(draw, ["on", "starttls"])}
    present = {"yes": 1, "no": 1} | ({"yes": 3} if "half_open" in features or odd else {})
    if weighted(draw, present) == "no":
        return None
    if odd and weighted(draw, {"object": 7, "other": 1}) == "other":
        return one_of(draw, [5, "x", None, {"$type": "undefined"}, []])
    found: dict[str, Any] = {}
    natural = {"tls": "on", "starttls": "starttls"}.get(listener.kind, "off")
    transports = {natural: 6} | ({"off": 1, "on": 1, "starttls": 1} if "tls" in features else {})
    if odd:
        transports |= {"bogus": 2, "null": 1, "empty": 1, "ON": 1}
    if draw(st.booleans()) or (odd and draw(st.booleans())):
        value = weighted(draw, transports)
        found["secureTransport"] = {"null": None, "empty": ""}.get(value, value)
    if "half_open" in features:
        choice = weighted(draw, {"true": 4, "false": 1, "absent": 1})
        if choice != "absent":
            found["allowHalfOpen"] = choice == "true"
    elif draw(st.booleans()):
        found["allowHalfOpen"] = draw(st.booleans())
    if odd and draw(st.booleans()):
        found["allowHalfOpen"] = one_of(draw, ["yes", 0, 1, None])
    if (("large" in features or odd) and draw(st.booleans())) or weighted(draw, {"no": 3, "yes": 1}) == "yes":
        found["highWaterMark"] = one_of(draw, HIGH_WATER_MARKS)
    return found


def _inherited(draw: st.DrawFn, listener: Listener) -> dict[str, Any]:
    """The listener's own transport, and now and then what a startTls() socket inherits (B40)."""
    found: dict[str, Any] = {"secureTransport": "on" if listener.kind == "tls" else "starttls"}
    if weighted(draw, {"yes": 2, "no": 1}) == "yes":
        # Not 1 (a startTls() socket that drops it has that desiredSize too).
        found["highWaterMark"] = one_of(draw, [16, 1024])
    if draw(st.booleans()):
        found["allowHalfOpen"] = True
    return found


@st.composite
def start_tls_arguments(draw: st.DrawFn) -> dict[str, Any]:
    """startTls's options: expectedServerHostname decides which name the certificate must carry (B42)."""
    if weighted(draw, {"none": 2, "options": 1}) == "none":
        return {}
    hostname = one_of(draw, ["localhost", "127.0.0.1", "wrong-host.invalid", ""])
    return {"options": {"expectedServerHostname": hostname}}


# -- payloads -----------------------------------------------------------------------------------------

_SIZES = [0, 1, 5, 100, 65535, 65536, 65537, 1048576]
#: Writes of several MiB: past the socket's buffers (a flush has work to do), and one past 16 MiB.
LARGE_SIZES = {"2MiB": 2, "4MiB": 2, "8MiB": 1, "17MiB": 2}


@st.composite
def payloads(draw: st.DrawFn, features: Collection[str] = ()) -> Any:
    kinds = {"text": 3, "pattern": 2, "view": 1, "string": 2, "raw": 1} | ({"large": 4} if "large" in features else {})
    kind = weighted(draw, kinds)
    if kind == "text":
        return draw(st.text(alphabet="abcxyz\n", min_size=0, max_size=8))
    if kind == "pattern":
        return {"pattern": one_of(draw, ["a", "xyz", "0123456789"]), "size": one_of(draw, _SIZES)}
    if kind == "large":
        return {"pattern": "xyz", "size": weighted(draw, LARGE_SIZES)}
    if kind == "view":
        return {"text": "abcd", "view": one_of(draw, ["ArrayBuffer", "DataView", "Uint16Array", "Int32Array"])}
    if kind == "string":
        # A JS string chunk (UTF-8 encoded by the implementation), not bytes.
        return {"raw": one_of(draw, ["str", "h\u00e9\n", ""])}
    return {"raw": one_of(draw, [42, None, {"$type": "undefined"}])}


@st.composite
def peer_payloads(draw: st.DrawFn, features: Collection[str] = ()) -> Any:
    if draw(st.booleans()):
        return draw(st.text(alphabet="pqr\n", min_size=1, max_size=6))
    sizes = [1, 100, 65536, 65537, 1048576] + (["4MiB", "8MiB"] if "large" in features else [])
    data = {"pattern": "qrs", "size": one_of(draw, sizes)}
    chunks = one_of(draw, [None, {"min": 1, "max": 7, "seed": 1}, {"min": 1000, "max": 70000, "seed": 2}])
    return {"data": data, "chunks": chunks} if chunks else data


def needs_sandbox(address: Any) -> bool:
    """Whether an address holds something only the sandbox may dial or resolve (``_SANDBOX_*``,
    long hosts, ``${sandbox.*}``)."""
    if address in edges.SANDBOX_ONLY:  # a whole address: "localhost" as a hostname is fine
        return True
    return _needs_sandbox(address)


def _needs_sandbox(address: Any) -> bool:
    if isinstance(address, str):
        spelled = (*_SANDBOX_ADDRESSES, *map(_refused, _SANDBOX_ADDRESSES))  # with peer: none too
        return address in spelled or "${sandbox." in address or len(address) > 200
    if isinstance(address, dict):
        if "hostname" in address and address.get("port") in _SANDBOX_PORTS:
            return True
        return any(_needs_sandbox(item) for item in address.values())
    return isinstance(address, int) and not isinstance(address, bool) and address in _SANDBOX_ADDRESSES
