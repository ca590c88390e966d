"""The results' as_dict(): JSON-ready, with short previews of bytes."""

import json

import pytest
from conformance_peer import Accepted, Echoed, EndSeen, NoConnection, Received, Sent, TlsInfo
from conformance_peer._results import PREVIEW_LIMIT


@pytest.mark.parametrize(
    "result",
    [
        Accepted("conn", "127.0.0.1:5000"),
        Accepted("conn", "127.0.0.1:5000", TlsInfo(True, "TLSv1.3", None, "TLS_AES_128_GCM_SHA256")),
        TlsInfo(False, error="[SSL: TLSV1_ALERT_UNKNOWN_CA] tlsv1 alert unknown ca"),
        NoConnection("conn", 0.3),
        Sent(10, 2, False, False),
        Received(b"\xff\x00", "ab", 2, "reset", False),
        Received(None, "ab", 2, None, True),
        EndSeen("silence"),
        EndSeen("data", b"x" * 5000),
        Echoed(3, "eof", False),
    ],
)
def test_as_dict_is_json_ready(result: object) -> None:
    as_dict = result.as_dict()  # type: ignore[attr-defined]
    assert json.loads(json.dumps(as_dict)) == as_dict


def test_received_previews_text_and_hex_and_omits_digested_data() -> None:
    assert Received(b"hi", "h", 2, "eof", False).as_dict()["data"] == "hi"
    assert Received(b"\xff", "h", 1, "eof", False).as_dict()["data"] == {"hex": "ff"}
    assert "data" not in Received(None, "h", 2, "eof", False).as_dict()


def test_long_bytes_are_cut_in_the_transcript() -> None:
    as_dict = EndSeen("data", b"a" * (PREVIEW_LIMIT + 1)).as_dict()
    assert as_dict["data"] == {"hex": "61" * 64, "truncated": True}
    assert as_dict["length"] == PREVIEW_LIMIT + 1


def test_accepted_shows_tls_only_when_there_was_a_handshake() -> None:
    assert Accepted("c", "127.0.0.1:1").as_dict() == {
        "accepted": True,
        "name": "c",
        "remote_address": "127.0.0.1:1",
    }
    failed = TlsInfo(False, sni="localhost", error="the TLS handshake did not finish within 2 s")
    assert Accepted("c", "127.0.0.1:1", failed).as_dict()["tls"] == {
        "ok": False,
        "version": None,
        "sni": "localhost",
        "cipher": None,
        "error": "the TLS handshake did not finish within 2 s",
    }
