"""The JavaScript adapter kit as modules: the ops it serves are the protocol's, the reference's too;
workerd is given every module the adapter Worker imports; the wheel ships them; the JSON-lines
reader of ``js/stdio.js`` works for any shell."""

from __future__ import annotations

import json
import re
import subprocess
import tomllib
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from conformance.adapters.node_socket import adapter_script
from conformance.adapters.reference.adapter import ReferenceAdapter
from conformance.adapters.workerd_config import INTERPRETER_MODULES, WORKER_MODULE
from conformance.core.jsvalues import b64
from conformance.engine.actions import ACTIONS, Kind
from conformance.protocol import messages
from tests.helpers import REPO, require_program

JS = Path(adapter_script()).parent
HERE = Path(__file__).resolve().parent
#: The ops of a case session rather than of a socket (docs/adapter-protocol.md, section 4).
SESSION_OPS = {"hello", "begin", "end", "shutdown"}
CLIENT_ACTIONS = {name for name, spec in ACTIONS.items() if spec.kind is Kind.CLIENT}
#: ``import ... from "./x.js"``, ``export ... from "./x.js"`` and ``import "./x.js"``.
RELATIVE_IMPORT = re.compile(r"""^\s*(?:import|export)\b[^;]*?["'](\./[^"']+)["']""", re.MULTILINE)


def node() -> str:
    return require_program(("node",), "Node.js 20: https://nodejs.org or apt-get install -y nodejs")


@cache
def js_ops() -> list[str]:
    """``OPS`` of interpreter.js, as Node loads the module."""
    script = f"import {{ OPS }} from {json.dumps((JS / 'interpreter.js').as_uri())};\nconsole.log(JSON.stringify(OPS));"
    done = subprocess.run(
        [node(), "--input-type=module", "-e", script], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    ops: list[str] = json.loads(done.stdout)
    return ops


def both_ways(served: set[str], expected: set[str]) -> dict[str, set[str]]:
    return {"served, not expected": served - expected, "expected, not served": expected - served}


def test_the_js_interpreter_serves_every_op_of_the_protocol_and_no_other() -> None:
    ops = js_ops()
    assert len(ops) == len(set(ops))
    assert both_ways(set(ops), set(messages.ops())) == both_ways(set(), set())


def test_the_js_interpreters_client_ops_are_the_client_actions_of_the_table() -> None:
    assert both_ways(set(js_ops()) - SESSION_OPS, CLIENT_ACTIONS) == both_ways(set(), set())
    assert set(js_ops()) >= SESSION_OPS


def test_the_reference_serves_every_op_of_the_protocol_and_no_other() -> None:
    ops = ReferenceAdapter().ops
    assert both_ways(set(ops), set(messages.ops())) == both_ways(set(), set())
    assert both_ways(set(ops) - SESSION_OPS, CLIENT_ACTIONS) == both_ways(set(), set())


def relative_imports(path: Path) -> list[str]:
    return [spec.removeprefix("./") for spec in RELATIVE_IMPORT.findall(path.read_text(encoding="utf-8"))]


def test_workerd_is_given_every_module_the_adapter_worker_imports() -> None:
    """What ``worker.js`` (js/workerd-worker.js) reaches through its imports is what the config embeds."""
    reached: set[str] = set()
    todo = relative_imports(JS / "workerd-worker.js")
    while todo:
        name = todo.pop()
        if name not in reached:
            reached.add(name)
            todo.extend(relative_imports(JS / name))
    assert reached == set(INTERPRETER_MODULES)
    assert WORKER_MODULE not in INTERPRETER_MODULES


def test_the_import_pattern_sees_every_form_the_modules_use() -> None:
    assert relative_imports(JS / "interpreter.js") == ["errors.js", "messages.js", "ops.js", "session.js", "values.js"]
    assert "interpreter.js" in relative_imports(JS / "node-socket.mjs")


def test_the_package_data_ships_every_module_and_the_package_json() -> None:
    """A non-editable install has what the shells import: every file of js/ (not the drivers)."""
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    globs = pyproject["tool"]["setuptools"]["package-data"]["conformance"]
    root = REPO / "conformance"
    shipped = {path for pattern in globs for path in root.glob(pattern)}
    needed = {path for path in JS.iterdir() if path.is_file()}
    assert {path.name for path in needed - shipped} == set()
    assert JS / "package.json" in needed
    assert json.loads((JS / "package.json").read_text(encoding="utf-8"))["type"] == "module"


# -- the JSON-lines reader ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def stdio_run() -> dict[str, Any]:
    done = subprocess.run(
        [node(), str(HERE / "stdio_check.mjs"), str(JS / "stdio.js")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def test_each_line_is_one_request_however_the_input_is_cut(stdio_run: dict[str, Any]) -> None:
    first = stdio_run["requests"][0]
    assert first["request"] == {"seq": 1, "op": "echo", "value": "caf\u00e9"}
    # The adapter gets the line as it came (a relay forwards it untouched), without its newline.
    assert first["line"] == '{"seq": 1, "op": "echo", "value": "caf\u00e9"}'
    assert [r["request"]["seq"] for r in stdio_run["requests"]] == [1, 2, 3, 4]


def test_answers_are_one_line_each_in_order_and_never_lost(stdio_run: dict[str, Any]) -> None:
    written = stdio_run["written"]
    assert all(line.endswith("\n") and "\n" not in line[:-1] for line in written)
    answers = [json.loads(line) for line in written]
    assert [a["seq"] for a in answers] == [1, 0, 2, 3, 4]
    assert answers[0]["value"] == "caf\u00e9"
    # Blank lines are skipped; a line that is not JSON is answered with seq 0.
    assert answers[1]["status"] == "protocol_error"
    assert answers[1]["reason"].startswith("the request is not JSON: SyntaxError")
    # Text from the adapter is sent as it is; a response JSON cannot carry becomes a protocol_error.
    assert written[2] == '{"seq":2,"status":"returned","value":"as sent"}\n'
    assert answers[3]["status"] == "protocol_error"
    assert "BigInt" in answers[3]["reason"]


def test_the_reader_stops_after_shutdown_and_at_a_final_line_without_newline(stdio_run: dict[str, Any]) -> None:
    assert all(r["request"]["seq"] != 5 for r in stdio_run["requests"])
    assert stdio_run["unfinished"]["requests"] == [{"seq": 1, "op": "a"}]
    assert stdio_run["unfinished"]["written"] == ['{"seq":1,"status":"returned"}\n']


def test_a_failing_adapter_makes_the_reader_fail(stdio_run: dict[str, Any]) -> None:
    assert stdio_run["failure"] == "the runtime broke"


def bytes_value(data: bytes) -> dict[str, str]:
    return {"$type": "bytes", "b64": b64(data), "view": "Uint8Array"}


def test_the_guides_stdio_adapter_on_the_kit_works_as_written(tmp_path: Path) -> None:
    """docs/adapters.md, section 2: its few lines on the kit, beside the kit's files, serve the protocol."""
    guide = (REPO / "docs" / "adapters.md").read_text(encoding="utf-8")
    found = re.search(r'```js\n(import \{ createAdapter \} from "\./interpreter\.js";.*?)```', guide, re.S)
    assert found is not None
    for path in JS.iterdir():
        if path.is_file() and path.suffix in (".js", ".json"):
            (tmp_path / path.name).write_bytes(path.read_bytes())
    (tmp_path / "fake.mjs").write_bytes((HERE / "fake_socket.mjs").read_bytes())
    assert '"your-implementation"' in found.group(1)
    (tmp_path / "adapter.mjs").write_text(found.group(1).replace('"your-implementation"', '"./fake.mjs"'))
    requests = [
        {"seq": 1, "op": "hello", "protocol": 1},
        {"seq": 2, "op": "begin", "case": "guide"},
        {"seq": 3, "op": "connect", "address": "echo:1"},
        {"seq": 4, "op": "write", "socket": "s1", "data": bytes_value(b"hi"), "timeout_ms": 1000},
        {"seq": 5, "op": "read", "socket": "s1", "timeout_ms": 1000},
        {"seq": 6, "op": "end", "timeout_ms": 1000},
        {"seq": 7, "op": "shutdown"},
    ]
    done = subprocess.run(
        [node(), str(tmp_path / "adapter.mjs")],
        input="".join(json.dumps(request) + "\n" for request in requests),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    answers = [json.loads(line) for line in done.stdout.splitlines()]
    assert [a["seq"] for a in answers] == list(range(1, 8))
    assert all(messages.response_problem(r["op"], a) is None for r, a in zip(requests, answers, strict=True))
    assert answers[0]["value"]["name"] == "mine"
    assert answers[4]["value"] == {"done": False, "value": bytes_value(b"hi")}
    assert answers[5]["value"] == {"open_sockets": 1, "unhandled_rejections": []}
