"""The pure helpers of the driver scenarios under Node: the runner's outcomes, errors as data,
the payloads whose digests cases check, SMTP dot-stuffing and the server's receipt."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from conformance.drivers.bundle import scenario_folder
from tests.helpers import require_program

HERE = Path(__file__).resolve().parent
HELPERS = ("_common.js", "_runner.js", "_smtp_wire.js")


@pytest.fixture(scope="module")
def out(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    node = require_program(("node",), "install Node.js 18 or newer")
    folder = tmp_path_factory.mktemp("driver-helpers")
    for name in HELPERS:
        shutil.copyfile(scenario_folder() / name, folder / name)
    shutil.copyfile(HERE / "driver_helpers_check.mjs", folder / "check.mjs")
    (folder / "package.json").write_text('{"type": "module"}\n')
    done = subprocess.run([node, str(folder / "check.mjs")], capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def test_a_resolved_scenario_is_its_value_as_plain_json(out: dict[str, Any]) -> None:
    assert out["runs"]["value"] == {
        "status": "resolved",
        "value": {"host": "127.0.0.1", "text": "caf\u00e9 \U0001f600"},
        "elapsed_ms": "number",
    }
    assert out["runs"]["nothing"] == {"status": "resolved", "value": None, "elapsed_ms": "number"}


def test_a_rejection_keeps_the_drivers_own_fields(out: dict[str, Any]) -> None:
    assert out["runs"]["coded"]["error"] == {
        "name": "Error",
        "message": "duplicate key",
        "code": "23505",
        "severity": "ERROR",
    }
    assert out["runs"]["caused"]["error"] == {
        "name": "Error",
        "message": "Connection is closed.",
        "cause": {"name": "TypeError", "message": "handshake failed"},
    }
    assert out["runs"]["aggregate"]["error"]["errors"] == [
        {"name": "Error", "message": "a"},
        {"name": "Error", "message": "b"},
    ]


def test_a_rejection_that_is_not_an_error_is_written_as_javascript_shows_it(out: dict[str, Any]) -> None:
    assert out["runs"]["notAnError"]["error"] == {"name": None, "message": None, "value": "undefined"}
    assert out["runs"]["aString"]["error"] == {"name": None, "message": None, "value": '"text"'}
    assert out["described"] == {"name": None, "message": None, "value": "null"}


def test_timeouts_values_json_cannot_hold_and_unknown_scenarios_are_outcomes(out: dict[str, Any]) -> None:
    assert out["runs"]["hangs"] == {
        "status": "timeout",
        "reason": "the scenario did not settle within 50 ms",
        "elapsed_ms": "number",
    }
    for name in ("circular", "big"):
        assert out["runs"][name]["status"] == "invalid"
        assert out["runs"][name]["reason"].startswith("the scenario resolved with a value JSON cannot hold")
    names = ["aString", "aggregate", "big", "caused", "circular", "coded", "hangs", "notAnError", "nothing", "value"]
    assert out["names"] == names
    for name in ("missing", "NOT_A_FUNCTION"):
        assert out["runs"][name]["status"] == "unknown"
        assert out["runs"][name]["scenarios"] == names


def test_payload_digests_match_what_a_case_expects(out: dict[str, Any]) -> None:
    unit = b"0123456789abcdef"
    assert out["pattern"]["mib"] == {"bytes": 1 << 20, "sha256": hashlib.sha256(unit * (1 << 16)).hexdigest()}
    ten = unit * (10 << 16)
    assert out["pattern"]["tenMibText"] == {"bytes": len(ten), "sha256": hashlib.sha256(ten).hexdigest()}
    assert out["pattern"]["odd"] == {"bytes": 21, "sha256": hashlib.sha256((unit * 2)[:21]).hexdigest()}


def test_smtp_lines_starting_with_a_dot_get_one_more(out: dict[str, Any]) -> None:
    assert bytes(out["stuffed"]) == b"..start\r\nmiddle\r\n...two\r\nend."


def test_the_servers_receipt_is_read_from_its_data_reply(out: dict[str, Any]) -> None:
    assert out["receipt"] == {"code": 250, "tls": "TLSv1.3", "bytes": 1048576, "sha256": "abc123"}
    assert out["receiptWithout"] == {"code": 250, "tls": None, "bytes": None, "sha256": None}


def test_unique_names_are_safe_in_sql_keys_and_topics(out: dict[str, Any]) -> None:
    given, random = out["unique"]
    assert given.startswith("cc_lane_3_case_x_y_")
    for name in (given, random):
        assert all(c.isalnum() or c == "_" for c in name)
        assert name == name.lower()
    assert out["settles"] == [
        {"settled": True, "outcome": "fulfilled"},
        {"settled": True, "outcome": "rejected", "error": {"name": "Error", "message": "no"}},
        {"settled": False, "outcome": None},
    ]
