"""The HTML report as text: self-contained, offline, hostile strings only as escaped JSON, the scores."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from conformance.core.outcomes import CaseResult, Outcome
from conformance.core.transcript import ClientStepEntry, SessionEndEntry, VariablesEntry
from conformance.errors import UsageError
from conformance.report import html
from conformance.report.model import Gate, GateEntry, ResultsFileError, RunReport
from tests.helpers import REPO, run_report, save_report

HOSTILE = (
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    '"><svg onload=alert(1)>',
    "</script><script>alert(1)</script>",
    "<!--",
    "a & b \u2028 c \u2029 d",
)
MARK = " ".join(HOSTILE)


def _document(cases: list[CaseResult], adapter_name: str = "reference", gate: Gate | None = None) -> RunReport:
    adapter = {"name": adapter_name, "version": "1.0", "runtime": "CPython"}
    return run_report(cases, gate, adapter=adapter, adapter_spec=adapter_name)


def _case(case_id: str, outcome: Outcome = Outcome.PASS, level: str = "must", **fields: Any) -> CaseResult:
    return CaseResult(
        id=case_id,
        outcome=outcome,
        level=level,
        title=fields.pop("title", "a title"),
        file="spec/x.yaml",
        line=3,
        **fields,
    )


def _hostile_document() -> RunReport:
    transcript = [
        VariablesEntry({"peer.host": MARK}),
        ClientStepEntry(1, 2, MARK, observed={"value": MARK}, expected={"bytes": MARK}, problem=MARK, note=MARK),
        SessionEndEntry(None, {"value": MARK}, judged=False),
    ]
    case = _case(
        "area.hostile",
        Outcome.FAIL,
        title=MARK,
        message=MARK,
        tags=(MARK,),
        source=(MARK, "https://example.invalid/" + HOSTILE[2]),
        transcript=transcript,
    )
    return _document([case], adapter_name=MARK)


class _Elements(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.scripts: list[tuple[dict[str, str | None], str]] = []
        self._in_script: dict[str, str | None] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        if tag == "script":
            self._in_script = dict(attrs)
            self.scripts.append((self._in_script, ""))

    def handle_data(self, data: str) -> None:
        if self._in_script is not None:
            attrs, text = self.scripts[-1]
            self.scripts[-1] = (attrs, text + data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_script = None


def _parse(page: str) -> _Elements:
    parser = _Elements()
    parser.feed(page)
    parser.close()
    return parser


def _data_block(page: str) -> str:
    match = re.search(r'<script type="application/json" id="report-data">(.*?)</script>', page, re.S)
    assert match is not None
    return match.group(1)


def test_the_page_is_one_file_with_two_scripts_and_the_data_as_json() -> None:
    results = [
        ("reference", _document([_case("a.one"), _case("b.two", Outcome.FAIL)])),
        ("other", _document([_case("a.one", Outcome.SKIP)])),
    ]
    page = html.render(results, title="My report")
    parsed = _parse(page)
    assert [attrs for attrs, _ in parsed.scripts] == [{"type": "application/json", "id": "report-data"}, {}]
    assert json.loads(parsed.scripts[0][1]) == json.loads(json.dumps(html.report_data(results, "My report")))
    assert "<title>My report</title>" in page
    for tag, attrs in parsed.tags:
        assert tag not in ("link", "img", "iframe") or attrs.get("href") == "data:,", (tag, attrs)
        assert "src" not in attrs, (tag, attrs)


def test_no_external_reference_outside_the_data() -> None:
    page = html.render([("reference", _hostile_document())])
    data = _data_block(page)
    rest = page.replace(data, "")
    assert "http://" not in rest
    assert "https://" not in rest
    assert "//" not in re.sub(r"<script>.*?</script>", "", rest, flags=re.S)  # the shell and the style
    assert "@import" not in rest
    assert "url(" not in rest
    # The link from the case's source stays in the data, for the script to draw as an <a>.
    assert "https://example.invalid/" in data


def test_hostile_strings_appear_only_escaped_inside_the_json_block() -> None:
    page = html.render([("name " + MARK, _hostile_document())], title="report")
    data = _data_block(page)
    for hostile in HOSTILE:
        assert hostile not in page
    for raw in ("<", ">", "&", "\u2028", "\u2029"):
        assert raw not in data
    assert "\\u003cscript\\u003ealert(1)\\u003c/script\\u003e" in data
    assert data.count("\\u003cscript\\u003e") >= 10
    assert "\\u2028" in data
    # Outside the block the page has no trace of them.
    assert "alert(1)" not in page.replace(data, "")
    # And they come back exactly.
    loaded = json.loads(data)
    (case,) = loaded["cases"]
    assert case["title"] == MARK
    assert case["results"][0]["message"] == MARK
    assert case["results"][0]["transcript"][1]["problem"] == MARK
    assert loaded["implementations"][0]["name"] == "name " + MARK
    assert loaded["implementations"][0]["run"]["adapter"]["name"] == MARK


def test_the_title_is_escaped() -> None:
    page = html.render([("reference", _document([_case("a.one")]))], title="<b>&</b>")
    assert "<title>&lt;b&gt;&amp;&lt;/b&gt;</title>" in page


def test_the_policy_allows_only_the_page_own_script_and_style() -> None:
    page = html.render([("reference", _document([_case("a.one")]))])
    policy = re.search(r'<meta http-equiv="Content-Security-Policy" content="([^"]+)">', page)
    assert policy is not None
    script = re.search(r"<script>(.*?)</script>", page, re.S)
    style = re.search(r"<style>(.*?)</style>", page, re.S)
    assert script is not None
    assert style is not None

    def digest(text: str) -> str:
        return base64.b64encode(hashlib.sha256(text.encode()).digest()).decode()

    rules = dict(rule.strip().split(" ", 1) for rule in policy.group(1).replace("&#x27;", "'").split(";"))
    assert rules["default-src"] == "'none'"
    assert rules["script-src"] == f"'sha256-{digest(script.group(1))}'"
    assert rules["style-src"] == f"'sha256-{digest(style.group(1))}'"
    assert "Content-Security-Policy" not in html.render([("r", _document([]))], content_security_policy=False)


def test_the_script_builds_the_page_without_parsing_markup() -> None:
    script = html._asset("report.js")
    for sink in (
        "innerHTML",
        "outerHTML",
        "insertAdjacentHTML",
        "document.write",
        "eval(",
        "new Function",
        'setAttribute("on',
        "srcdoc",
    ):
        assert sink not in script, sink
    for asset in ("report.js", "report.css"):
        text = html._asset(asset).lower()
        assert "</script" not in text
        assert "</style" not in text
        assert "http://" not in text
        assert "https://" not in text


def test_scores_per_level_overall_and_per_case() -> None:
    cases = [
        _case("a.x[1]"),
        _case("a.x[2]", Outcome.FAIL),
        _case("a.y", level="should"),
        _case("b.z", Outcome.SKIP, level="info"),
    ]
    (impl,) = html.report_data([("r", _document(cases))])["implementations"]
    scores = impl["scores"]
    assert scores["must"] == [1, 2]
    assert scores["should"] == [1, 1]
    assert scores["info"] == [0, 1]
    assert scores["all"] == [2, 4]
    # a.x counts once (half its variants pass), a.y once, b.z once.
    assert scores["case_groups"] == 3
    assert scores["per_case"] == pytest.approx((0.5 + 1 + 0) / 3)


def test_cases_are_the_union_and_a_missing_result_is_null() -> None:
    data = html.report_data(
        [
            ("one", _document([_case("a.one"), _case("b.two")])),
            ("two", _document([_case("b.two", Outcome.FAIL), _case("c.three")])),
        ]
    )
    rows = {row["id"]: row for row in data["cases"]}
    assert list(rows) == ["a.one", "b.two", "c.three"]
    assert [row["area"] for row in data["cases"]] == ["a", "b", "c"]
    assert rows["a.one"]["results"][1] is None
    assert rows["c.three"]["results"][0] is None
    assert [cell["outcome"] for cell in rows["b.two"]["results"]] == ["pass", "fail"]
    assert rows["b.two"]["location"] == "spec/x.yaml:3"


def test_known_and_unexpected_outcomes_follow_the_gate() -> None:
    cases = [_case("a.known", Outcome.FAIL), _case("a.new", Outcome.FAIL), _case("a.fixed")]
    gate = Gate(
        ok=False,
        unexpected=(GateEntry("a.new", "fail", "pass"), GateEntry("a.fixed", "pass", "fail")),
        xfail=("a.known",),
    )
    rows = {row["id"]: row["results"][0] for row in html.report_data([("r", _document(cases, gate=gate))])["cases"]}
    assert (rows["a.known"]["known"], rows["a.known"]["unexpected"]) == (True, False)
    assert (rows["a.new"]["known"], rows["a.new"]["unexpected"]) == (False, True)
    assert (rows["a.fixed"]["known"], rows["a.fixed"]["unexpected"]) == (False, True)
    without_gate = html.report_data([("r", _document(cases))])["cases"]
    assert not any(row["results"][0]["known"] for row in without_gate)


def test_non_finite_numbers_do_not_break_the_data() -> None:
    report = _document([_case("a.one", duration_ms=float("nan"))])
    report.header.duration_s = float("inf")
    data = json.loads(_data_block(html.render([("r", report)])))
    rows = {row["id"]: row for row in data["cases"]}
    assert rows["a.one"]["results"][0]["duration_ms"] is None
    assert data["implementations"][0]["run"]["duration_s"] is None


def test_write_names_implementations_after_their_adapters_not_their_folders(tmp_path: Path) -> None:
    # Two runs from folders both called "latest" used to show as "latest" and "latest (2)".
    paths = [
        save_report(tmp_path / folder, _document([_case("a.one")], adapter_name=adapter))
        for folder, adapter in (("a/latest", "reference"), ("b/latest", "workerd"), ("c/latest", "workerd"))
    ]
    target = html.write([*paths[:2], paths[2].parent], tmp_path / "out" / "index.html")
    assert target == tmp_path / "out" / "index.html"
    assert list(target.parent.iterdir()) == [target]
    data = json.loads(_data_block(target.read_text(encoding="utf-8")))
    assert [impl["name"] for impl in data["implementations"]] == [
        "reference 1.0",
        "workerd 1.0",
        "workerd 1.0 (2)",
    ]
    named = html.write(paths[:1], tmp_path / "named.html", names=["mine"])
    assert json.loads(_data_block(named.read_text(encoding="utf-8")))["implementations"][0]["name"] == "mine"


def test_write_refuses_what_is_not_a_results_file(tmp_path: Path) -> None:
    good = save_report(tmp_path, _document([]))
    bad = tmp_path / "bad.json"
    bad.write_text('{"cases": 3}', encoding="utf-8")
    broken = tmp_path / "broken.json"
    broken.write_text("{", encoding="utf-8")
    with pytest.raises(ValueError, match="names"):
        html.write([good], tmp_path / "x.html", names=["a", "b"])
    with pytest.raises(ResultsFileError, match=r"bad\.json: cases: 3 is not of type 'array'") as raised:
        html.write([bad], tmp_path / "x.html")
    assert isinstance(raised.value, UsageError), "a usage error: exit 2, never a traceback"
    with pytest.raises(ResultsFileError, match=r"broken\.json:1: not JSON"):
        html.write([broken], tmp_path / "x.html")
    assert not (tmp_path / "x.html").exists()


def test_write_links_each_cited_source_relative_to_the_page(tmp_path: Path) -> None:
    cited = _case("a.one", source=("B15", "docs:tcp-sockets#connect", "javascript:alert(1)", "B999"))
    path = save_report(tmp_path / "run", _document([cited]))
    target = html.write([path], tmp_path / "out" / "index.html")
    links = json.loads(_data_block(target.read_text(encoding="utf-8")))["links"]
    behaviours = Path(os.path.relpath(REPO / "spec" / "behaviours.md", target.parent)).as_posix()
    assert links == {
        "B15": behaviours + "#b15",
        "docs:tcp-sockets#connect": "https://developers.cloudflare.com/workers/runtime-apis/tcp-sockets/#connect",
    }


def test_the_drivers_table_and_the_run_header_carry_driver_and_server_versions() -> None:
    report = _document([_case("drivers.pg.connect-plain"), _case("drivers.pg.tls-select", Outcome.FAIL), _case("a.x")])
    report.header.adapter["drivers"] = {"pg": "pg@8.23.1 pg-cloudflare@1.4.1"}
    report.header.servers = {"postgres": "postgres (PostgreSQL) 15.18"}
    data = html.report_data([("workerd", report)])
    assert data["implementations"][0]["run"]["servers"] == {"postgres": "postgres (PostgreSQL) 15.18"}
    (row,) = data["drivers"]
    assert (row["driver"], row["packages"], row["server"]) == (
        "pg",
        "pg@8.23.1 pg-cloudflare@1.4.1",
        "postgres (PostgreSQL) 15.18",
    )
    assert row["cells"][0]["text"] == "❌ 1/2"
    assert html.report_data([("r", _document([_case("a.x")]))])["drivers"] == []


def test_each_implementation_lists_what_to_fix_first_most_cases_first() -> None:
    def failed(case_id: str, port: int) -> CaseResult:
        return _case(case_id, Outcome.FAIL, message=f"step 2 (read, line 9): saw a reset from 127.0.0.1:{port}")

    cases = [failed("a.one", 4001), _case("a.two"), failed("b.three", 4002), _case("c.four", Outcome.TIMEOUT)]
    (impl,) = html.report_data([("r", _document(cases))])["implementations"]
    assert impl["signatures"] == [
        {"signature": "read: saw a reset from ADDRESS", "cases": ["a.one", "b.three"]},
        {"signature": "timeout: the case exceeded its deadline", "cases": ["c.four"]},
    ]
    (clean,) = html.report_data([("r", _document([_case("a.two")]))])["implementations"]
    assert clean["signatures"] == []
