"""Deliberately broken variants of the reference implementation.

A conformance suite is only as good as the bugs it catches. Each mutant is
the reference with exactly ONE plausible bug, the kind a real implementation
of ``connect()`` could ship; the suite must catch every one of them
(``connect-conformance run --adapter reference+<name>`` must fail).

Each bug is one boolean field of ``Quirks``, consulted at the single place
where the bug lives (grep for the field name). Adding a mutant is: one field,
one row in ``_TABLE``, one ``if`` at the bug's place.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace


@dataclass(frozen=True)
class Quirks:
    """Which bugs are switched on; all off is the faithful reference."""

    allow_half_open_ignored: bool = False
    default_allow_half_open_true: bool = False
    missing_port_defaults_443: bool = False
    secure_transport_not_validated: bool = False
    close_without_flush: bool = False
    opened_before_connection: bool = False
    remote_address_as_ip: bool = False
    writes_after_close_accepted: bool = False
    peer_eof_never_done: bool = False
    invalid_port_accepted: bool = False
    opened_not_marked_handled: bool = False
    close_rejects_on_failure: bool = False
    reset_as_eof: bool = False
    writer_close_no_fin: bool = False
    validation_order_swapped: bool = False
    host_check_skipped: bool = False
    connect_error_is_type_error: bool = False
    closed_resolves_on_failure: bool = False
    opened_has_local_address: bool = False
    http_port_hint_missing: bool = False
    eof_closes_without_read: bool = False
    string_chunks_rejected: bool = False
    reads_after_close_done: bool = False
    reader_lock_not_enforced: bool = False
    start_tls_checks_reordered: bool = False
    read_chunks_not_uint8array: bool = False
    start_tls_no_verify: bool = False
    opened_before_handshake: bool = False
    start_tls_twice_allowed: bool = False
    start_tls_on_off_allowed: bool = False
    sni_not_sent: bool = False
    tls_hostname_not_checked: bool = False
    old_socket_not_upgraded: bool = False
    start_tls_error_is_proxy_error: bool = False
    expected_server_hostname_ignored: bool = False
    high_water_mark_ignored: bool = False
    high_water_mark_range_inclusive: bool = False
    ready_waits_for_opened: bool = False
    missing_address_stringified: bool = False
    infinite_port_out_of_range: bool = False
    url_object_stringified: bool = False
    close_closes_all_sockets: bool = False
    http_hint_string_form_only: bool = False
    port_65535_rejected: bool = False
    host_length_excludes_port: bool = False
    new_socket_upgraded_true: bool = False
    start_tls_options_not_inherited: bool = False
    start_tls_before_opened_throws: bool = False
    upgraded_set_after_handshake: bool = False
    cancel_reader_closes_socket: bool = False
    read_after_done_rejects: bool = False
    flush_drops_queued_writes: bool = False
    large_write_truncated: bool = False
    close_after_eof_rejects_closed: bool = False
    remote_address_lowercased: bool = False
    cloudflare_v6_not_blocked: bool = False
    mapped_ipv6_not_blocked: bool = False
    cloudflare_names_not_blocked: bool = False
    block_after_dial: bool = False
    port_25_allowed_with_tls: bool = False
    connection_limit_off_by_one: bool = False
    connection_limit_rejects: bool = False
    failed_connection_keeps_slot: bool = False
    leading_zero_port_octal: bool = False
    global_scope_connect_allowed: bool = False
    global_scope_checked_after_arguments: bool = False
    cross_request_write_allowed: bool = False
    cross_request_read_allowed: bool = False
    cross_request_close_allowed: bool = False
    connection_limit_shared_across_requests: bool = False
    outbound_worker_bypassed: bool = False
    cloudflare_ranges_as_16: bool = False
    cloudflare_first_block_only: bool = False
    cloudflare_range_end_inclusive: bool = False
    legacy_ipv4_spellings_not_blocked: bool = False
    ipv6_spellings_not_normalised: bool = False
    first_resolved_address_only: bool = False
    connecting_sockets_not_counted: bool = False
    reset_keeps_slot: bool = False
    connection_limit_last_in_first_out: bool = False
    abort_leaves_queued_writes_pending: bool = False
    early_writes_beyond_eight_dropped: bool = False


#: mutant name -> (Quirks field, one-line description of the bug).
_TABLE: dict[str, tuple[str, str]] = {
    "global-scope-connect-allowed": (
        "global_scope_connect_allowed",
        "connect() at module evaluation works like inside a handler instead of throwing (B1)",
    ),
    "global-scope-checked-after-arguments": (
        "global_scope_checked_after_arguments",
        "connect() at module evaluation validates its arguments first: a bad address throws a TypeError (B1)",
    ),
    "cross-request-write-allowed": (
        "cross_request_write_allowed",
        "a socket's writable works from another request's handler: the bytes are sent (B2)",
    ),
    "cross-request-read-allowed": (
        "cross_request_read_allowed",
        "a socket's readable works from another request's handler: the read gets the bytes (B2)",
    ),
    "cross-request-close-allowed": (
        "cross_request_close_allowed",
        "close() from another request's handler closes the socket normally: closed resolves (B2)",
    ),
    "connection-limit-shared-across-requests": (
        "connection_limit_shared_across_requests",
        "the six connection slots are shared by every request instead of each request having six (B48)",
    ),
    "outbound-worker-bypassed": (
        "outbound_worker_bypassed",
        "with an Outbound Worker as the global outbound, connect() still dials the address directly (B53)",
    ),
    "leading-zero-port-octal": (
        "leading_zero_port_octal",
        "a port written with a leading zero is read as octal (04321 dials 2257), as workerd 1.20260730.1 does (B4)",
    ),
    "cloudflare-v6-not-blocked": (
        "cloudflare_v6_not_blocked",
        "only the IPv4 Cloudflare ranges are blocked: an IPv6 Cloudflare address is dialled (B23)",
    ),
    "mapped-ipv6-not-blocked": (
        "mapped_ipv6_not_blocked",
        "an IPv4-mapped IPv6 spelling ([::ffff:104.16.0.1]) of a Cloudflare address is dialled (B23)",
    ),
    "cloudflare-names-not-blocked": (
        "cloudflare_names_not_blocked",
        "only address literals are checked: a name that resolves to a Cloudflare address is dialled (B23)",
    ),
    "block-after-dial": (
        "block_after_dial",
        "a Cloudflare address is refused only after the connection was made: the peer sees it (B23)",
    ),
    "port-25-allowed-with-tls": (
        "port_25_allowed_with_tls",
        "port 25 is refused only with secureTransport 'off'; with 'on' or 'starttls' it is dialled (B24)",
    ),
    "cloudflare-ranges-as-16": (
        "cloudflare_ranges_as_16",
        "every published IPv4 range is read as a /16: 104.16.0.0/13 stops at 104.16.255.255, 173.245.48.0/20 "
        "swallows 173.245.47.255 (B23)",
    ),
    "cloudflare-first-block-only": (
        "cloudflare_first_block_only",
        "only the first /24 (IPv4) or /48 (IPv6) of each published range is blocked: its last address is dialled (B23)",
    ),
    "cloudflare-range-end-inclusive": (
        "cloudflare_range_end_inclusive",
        "an off-by-one at the end of each range: the address just after it (104.28.0.0, 172.72.0.0) is refused too (B23)",
    ),
    "legacy-ipv4-spellings-not-blocked": (
        "legacy_ipv4_spellings_not_blocked",
        "the block check knows dotted quads only: 1745879041, 0x68.16.0.1, 0150.020.0.01 or 104.16.1 reach 104.16.0.1 (B23)",
    ),
    "ipv6-spellings-not-normalised": (
        "ipv6_spellings_not_normalised",
        "an IPv6 literal is checked as written: an expanded or upper-case spelling of a Cloudflare address is dialled (B23)",
    ),
    "first-resolved-address-only": (
        "first_resolved_address_only",
        "the block check looks at a name's first address only: when that one is allowed, a Cloudflare address after it "
        "is dialled too (B23)",
    ),
    "connecting-sockets-not-counted": (
        "connecting_sockets_not_counted",
        "a socket takes a connection slot only once connected (and through its TLS handshake), so seven "
        "connect() calls made at once are all dialled (B48)",
    ),
    "reset-keeps-slot": (
        "reset_keeps_slot",
        "a connection lost to a reset keeps its slot: a socket waiting for one is never dialled (B48)",
    ),
    "connection-limit-last-in-first-out": (
        "connection_limit_last_in_first_out",
        "a freed slot goes to the socket that started waiting last, not first (B48)",
    ),
    "abort-leaves-queued-writes-pending": (
        "abort_leaves_queued_writes_pending",
        "writer.abort() forgets the writes still queued: their promises never settle (B56)",
    ),
    "early-writes-beyond-eight-dropped": (
        "early_writes_beyond_eight_dropped",
        "while the connection is not usable yet only eight writes are kept; later ones resolve and are never sent (B16)",
    ),
    "connection-limit-off-by-one": (
        "connection_limit_off_by_one",
        "seven connections may be open at once instead of six (B48)",
    ),
    "connection-limit-rejects": (
        "connection_limit_rejects",
        "a seventh connection fails at once instead of waiting for a slot (B48)",
    ),
    "failed-connection-keeps-slot": (
        "failed_connection_keeps_slot",
        "a connection that failed keeps its slot: after six failures nothing connects again (B48)",
    ),
    "allow-half-open-ignored": (
        "allow_half_open_ignored",
        "allowHalfOpen: true is ignored (treated as false): peer EOF read to done closes the writable (B33)",
    ),
    "default-allow-half-open-true": (
        "default_allow_half_open_true",
        "allowHalfOpen defaults to true, as in the Node package: peer EOF never auto-closes (B14, B31)",
    ),
    "missing-port-defaults-443": (
        "missing_port_defaults_443",
        "a string address without a port connects to port 443 instead of throwing (B6)",
    ),
    "secure-transport-not-validated": (
        "secure_transport_not_validated",
        "unknown secureTransport values are treated as 'off' instead of throwing (B13)",
    ),
    "close-without-flush": (
        "close_without_flush",
        "close() drops queued writes and discards buffered data instead of flushing them (B35)",
    ),
    "opened-before-connection": (
        "opened_before_connection",
        "opened resolves at once, before (and even without) a connection (B17, B18)",
    ),
    "remote-address-as-ip": (
        "remote_address_as_ip",
        "opened reports the peer's IP (no port) as remoteAddress instead of the address given (B17)",
    ),
    "writes-after-close-accepted": (
        "writes_after_close_accepted",
        "write() after close() resolves (data dropped) instead of rejecting with 'closing' (B30)",
    ),
    "peer-eof-never-done": (
        "peer_eof_never_done",
        "the peer's FIN is ignored: read() never returns done (B29, B31)",
    ),
    "invalid-port-accepted": (
        "invalid_port_accepted",
        "an object-form port above 65535 wraps around (uint16 cast) instead of throwing (B10)",
    ),
    "opened-not-marked-handled": (
        "opened_not_marked_handled",
        "opened is not marked handled: a failed, un-awaited socket raises an unhandled rejection (B22)",
    ),
    "close-rejects-on-failure": (
        "close_rejects_on_failure",
        "close() rejects with the connect error when the connection failed (B37)",
    ),
    "reset-as-eof": (
        "reset_as_eof",
        "a peer reset (RST) reads as a clean done instead of 'Network connection lost.' (B21)",
    ),
    "writer-close-no-fin": (
        "writer_close_no_fin",
        "writer.close() resolves without sending FIN: the peer never sees EOF (B29)",
    ),
    "validation-order-swapped": (
        "validation_order_swapped",
        "secureTransport is validated before the address (B11)",
    ),
    "host-check-skipped": (
        "host_check_skipped",
        "isValidHost is skipped: paths, credentials and non-ASCII hosts are accepted (B7, B9)",
    ),
    "connect-error-is-type-error": (
        "connect_error_is_type_error",
        "a connection failure rejects with a TypeError instead of an Error (B18)",
    ),
    "closed-resolves-on-failure": (
        "closed_resolves_on_failure",
        "closed resolves instead of rejecting when the connection fails (B18)",
    ),
    "opened-has-local-address": (
        "opened_has_local_address",
        "opened's SocketInfo carries a localAddress (B17: it is absent)",
    ),
    "http-port-hint-missing": (
        "http_port_hint_missing",
        "the '...consider using fetch instead' suffix is missing for ports 80 and 443 (B18)",
    ),
    "eof-closes-without-read": (
        "eof_closes_without_read",
        "with allowHalfOpen false the peer's FIN closes the writable before the app reads to done (B31)",
    ),
    "string-chunks-rejected": (
        "string_chunks_rejected",
        "string chunks are rejected with the pre-2026 TypeError instead of being UTF-8 encoded (B28)",
    ),
    "reads-after-close-done": (
        "reads_after_close_done",
        "read() after close() resolves done instead of rejecting with 'closing' (B30)",
    ),
    "reader-lock-not-enforced": (
        "reader_lock_not_enforced",
        "getReader() on a locked readable returns a second reader instead of throwing (B30)",
    ),
    "start-tls-checks-reordered": (
        "start_tls_checks_reordered",
        "startTls checks the secureTransport option before the closed connection (B39 order)",
    ),
    "read-chunks-not-uint8array": (
        "read_chunks_not_uint8array",
        "read() chunks are Node Buffers instead of Uint8Array (B27)",
    ),
    "start-tls-no-verify": (
        "start_tls_no_verify",
        "startTls upgrades without verifying the certificate or the hostname (B40, B45)",
    ),
    "opened-before-handshake": (
        "opened_before_handshake",
        "with secureTransport 'on', opened resolves once TCP connects, before (and even without) the TLS handshake (B17, B18)",
    ),
    "start-tls-twice-allowed": (
        "start_tls_twice_allowed",
        "a second startTls while the first upgrade is pending returns another socket instead of throwing (B39)",
    ),
    "start-tls-on-off-allowed": (
        "start_tls_on_off_allowed",
        "startTls works on a socket opened with secureTransport 'off' instead of throwing (B39)",
    ),
    "sni-not-sent": (
        "sni_not_sent",
        "the TLS ClientHello carries no SNI, even for a DNS name (B45)",
    ),
    "tls-hostname-not-checked": (
        "tls_hostname_not_checked",
        "with secureTransport 'on', the certificate chain is verified but not the hostname (B18, B45)",
    ),
    "old-socket-not-upgraded": (
        "old_socket_not_upgraded",
        "after startTls the old socket keeps upgraded false and its closed never resolves (B40)",
    ),
    "start-tls-error-is-proxy-error": (
        "start_tls_error_is_proxy_error",
        "a failed startTls handshake rejects with the 'proxy request failed' message instead of a generic Error (B40)",
    ),
    "expected-server-hostname-ignored": (
        "expected_server_hostname_ignored",
        "startTls ignores expectedServerHostname and verifies the address's hostname (B42)",
    ),
    "high-water-mark-ignored": (
        "high_water_mark_ignored",
        "highWaterMark is accepted but ignored: desiredSize stays 1 and writer.ready never waits (B15)",
    ),
    "high-water-mark-range-inclusive": (
        "high_water_mark_range_inclusive",
        "a highWaterMark number of exactly 2^64 is accepted (compared with UINT64_MAX, which as a double is 2^64), "
        "as workerd did up to 1.20261117.1 (B15)",
    ),
    "ready-waits-for-opened": (
        "ready_waits_for_opened",
        "writer.ready stays pending until opened resolves, so code awaiting it right after connect() stalls (B50)",
    ),
    "missing-address-stringified": (
        "missing_address_stringified",
        "connect(), connect(undefined) and connect(null) take the address as the string 'undefined' or 'null' (B52)",
    ),
    "infinite-port-out-of-range": (
        "infinite_port_out_of_range",
        "an object-form port of Infinity is reported as out of range instead of not an integer (B10)",
    ),
    "url-object-stringified": (
        "url_object_stringified",
        "a URL object address is converted to its href string instead of read through hostname and port (B52)",
    ),
    "close-closes-all-sockets": (
        "close_closes_all_sockets",
        "close() on one socket closes every socket of the request (B51)",
    ),
    "http-hint-string-form-only": (
        "http_hint_string_form_only",
        "the '...consider using fetch instead' suffix is added for string addresses only, not for {hostname, port: 80} (B18)",
    ),
    "port-65535-rejected": (
        "port_65535_rejected",
        "an off-by-one range check rejects the object-form port 65535 as out of range (B10)",
    ),
    "host-length-excludes-port": (
        "host_length_excludes_port",
        "the 255-character limit is applied to the host without its ':port', so 256 characters in all pass (B7)",
    ),
    "new-socket-upgraded-true": (
        "new_socket_upgraded_true",
        "the socket startTls() returns reports upgraded true instead of false (B40)",
    ),
    "start-tls-options-not-inherited": (
        "start_tls_options_not_inherited",
        "the socket startTls() returns drops the old socket's allowHalfOpen and highWaterMark (B40)",
    ),
    "start-tls-before-opened-throws": (
        "start_tls_before_opened_throws",
        "startTls() before opened settled throws 'closed before startTls could be started' instead of waiting (B40)",
    ),
    "upgraded-set-after-handshake": (
        "upgraded_set_after_handshake",
        "the old socket's upgraded becomes true only when the new handshake completes, after its closed resolved (B40)",
    ),
    "cancel-reader-closes-socket": (
        "cancel_reader_closes_socket",
        "reader.cancel() closes the whole socket, so closed resolves and writes fail (B56)",
    ),
    "read-after-done-rejects": (
        "read_after_done_rejects",
        "a read after the one that returned done rejects instead of giving done again (B27)",
    ),
    "flush-drops-queued-writes": (
        "flush_drops_queued_writes",
        "close() and startTls() flush only the write in flight and reject the writes queued behind it (B35, B40)",
    ),
    "large-write-truncated": (
        "large_write_truncated",
        "a single write larger than 16 MiB sends only its first 16 MiB, and still resolves (B28)",
    ),
    "close-after-eof-rejects-closed": (
        "close_after_eof_rejects_closed",
        "close() called after the peer's EOF was read rejects closed with 'This socket has been closed.' (workerd#6479)",
    ),
    "remote-address-lowercased": (
        "remote_address_lowercased",
        "opened's remoteAddress is lower-cased instead of kept as written (B17)",
    ),
}

#: mutant name -> one-line description (the public registry).
MUTANTS: dict[str, str] = {name: description for name, (_, description) in _TABLE.items()}

FAITHFUL = Quirks()


def quirks_for(mutant: str | None) -> Quirks:
    """The Quirks of a mutant by name (None: the faithful reference); KeyError if unknown."""
    if mutant is None:
        return FAITHFUL
    field_name, _ = _TABLE[mutant]
    return replace(FAITHFUL, **{field_name: True})


def _check_table() -> None:
    # Keep the table and the dataclass in step: every field is exactly one mutant.
    names = {field.name for field in fields(Quirks)}
    used = [field_name for field_name, _ in _TABLE.values()]
    assert sorted(used) == sorted(names), "mutants._TABLE and Quirks disagree"


_check_table()
