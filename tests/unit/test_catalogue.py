"""The behaviour catalogue: validation names file:line, look-ups and links, uncited and unknown sources, rendering."""

from __future__ import annotations

import textwrap
from dataclasses import dataclass

import pytest

from conformance.cases import catalogue, loader
from conformance.errors import SpecErrors
from tests.helpers import REPO

COMMIT = "0123456789abcdef0123456789abcdef01234567"
SMALL = f"""\
pins:
  workerd: {{commit: {COMMIT}, release: v1.20260822.1, date: 2026-08-22}}
  proposal: {{repository: WinterTC55/proposal-sockets-api, commit: {COMMIT}, date: 2025-06-11}}
  docs: {{repository: cloudflare/cloudflare-docs, commit: {COMMIT}}}
  checked: {{runtime: workerd, version: 1.20261117.1, date: 2026-11-30, how: a probe}}
documents:
  docs:tcp-sockets:
    url: https://developers.cloudflare.com/workers/runtime-apis/tcp-sockets/
    anchors: {{socketoptions: socketoptions}}
  spec:
    url: https://sockets-api.proposal.wintertc.org/
    anchors: {{opened: opened-attribute}}
repositories:
  workerd: cloudflare/workerd
behaviours:
  - id: B1
    title: The first behaviour
    area: address
    statement: Something precise happens, in this order.
    errors:
      - name: TypeError
        message: "Use `secureTransport` | exactly"
        match: "^Use "
    sources:
      - workerd: src/workerd/api/sockets.c++#L10-L20
        what: the code
      - ref: docs:tcp-sockets#socketoptions
        what: the docs
    corrections:
      - date: 2026-11-17
        note: It was wrong.
        evidence: [https://example.invalid/evidence, "live: a probe"]
  - id: B2
    title: The second behaviour
    area: scope
    statement: Something the suite cannot drive at all.
    sources:
      - ref: workerd#1305
        what: an issue
    scope: out
    reason: Needs a platform feature.
  - id: B3
    title: The third behaviour
    area: streams
    statement: Something nobody has written a case for yet.
    sources:
      - url: https://example.invalid/source
        what: a page
"""


@dataclass(frozen=True)
class FakeCase:
    id: str
    source: tuple[str, ...]
    location: str = "spec/x/cases.yaml:1"


def small() -> catalogue.Catalogue:
    return catalogue.parse(SMALL, "behaviours.yaml")


def problems(text: str) -> list[str]:
    with pytest.raises(SpecErrors) as raised:
        catalogue.parse(textwrap.dedent(text), "behaviours.yaml")
    return [str(error) for error in raised.value.errors]


def test_a_catalogue_loads_with_links_expanded() -> None:
    cat = small()
    assert cat.ids == ("B1", "B2", "B3")
    first = cat.get("B1")
    assert first is not None
    assert (
        first.sources[0].url
        == f"https://github.com/cloudflare/workerd/blob/{COMMIT}/src/workerd/api/sockets.c++#L10-L20"
    )
    assert first.sources[0].where == "workerd sockets.c++ L10-L20"
    assert first.sources[1].url == "https://developers.cloudflare.com/workers/runtime-apis/tcp-sockets/#socketoptions"
    assert first.corrections[0].date == "2026-11-17", "an unquoted YAML date is kept as ISO text"
    second = cat.get("B2")
    assert second is not None
    assert not second.in_scope
    assert cat.get("B4") is None
    assert "B3" in cat
    assert "B9" not in cat


@pytest.mark.parametrize(
    ("source", "url"),
    [
        pytest.param("B3", "spec/behaviours.md#b3", id="behaviour"),
        pytest.param("B9", None, id="unknown-behaviour"),
        pytest.param("spec:opened", "https://sockets-api.proposal.wintertc.org/#opened-attribute", id="spec-alias"),
        pytest.param("spec:closed", None, id="unknown-spec-section"),
        pytest.param(
            "docs:tcp-sockets", "https://developers.cloudflare.com/workers/runtime-apis/tcp-sockets/", id="page"
        ),
        pytest.param("docs:tcp-sockets#nope", None, id="unknown-anchor"),
        pytest.param("docs:limits#x", None, id="unknown-page"),
        pytest.param("workerd#1305", "https://github.com/cloudflare/workerd/issues/1305", id="short-repo"),
        pytest.param("a/b#7", "https://github.com/a/b/issues/7", id="full-repo"),
        pytest.param("miniflare#7", None, id="unknown-repo"),
        pytest.param("https://example.invalid/x", "https://example.invalid/x", id="url"),
    ],
)
def test_link_of_every_source_form(source: str, url: str | None) -> None:
    assert small().link(source) == url


def test_uncited_lists_in_scope_ids_nobody_cites() -> None:
    cases = [FakeCase("address.a[v1]", ("B1", "docs:tcp-sockets#socketoptions")), FakeCase("address.a[v2]", ("B1",))]
    assert catalogue.uncited(small(), cases) == ["B3"], "B2 is out of scope, B1 is cited"
    assert catalogue.uncited(small(), []) == ["B1", "B3"]
    assert catalogue.cited_by(small(), cases)["B1"] == ["address.a"], "variants fold into their case"


def test_unknown_sources_names_the_case_and_the_problem() -> None:
    cases = [
        FakeCase("lifecycle.ok", ("B1", "spec:opened", "workerd#1", "https://x.invalid/"), "spec/l/a.yaml:3"),
        FakeCase("lifecycle.bad", ("B7", "docs:tcp-sockets#nope", "spec:closed", "miniflare#2", "docs:other#a")),
    ]
    found = catalogue.unknown_sources(small(), cases)
    assert [(u.case_id, u.source) for u in found] == [
        ("lifecycle.bad", "B7"),
        ("lifecycle.bad", "docs:tcp-sockets#nope"),
        ("lifecycle.bad", "spec:closed"),
        ("lifecycle.bad", "miniflare#2"),
        ("lifecycle.bad", "docs:other#a"),
    ]
    assert "no behaviour B7 in the catalogue" in found[0].problem
    assert 'has no anchor "nope" (known: socketoptions)' in found[1].problem
    assert 'unknown repository "miniflare"' in found[3].problem
    assert 'unknown document "docs:other"' in found[4].problem
    assert str(found[0]).startswith('spec/x/cases.yaml:1: lifecycle.bad: source "B7"')


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        pytest.param(
            "  - id: B2\n", "  - id: B4\n", "behaviours.yaml:33: behaviours.1.id: expected B2 here, got B4", id="gap"
        ),
        pytest.param(
            'match: "^Use "',
            'match: "^Do "',
            'behaviours.yaml:23: behaviours.0.errors.0.match: "^Do " does not match its own message',
            id="match-mismatch",
        ),
        pytest.param(
            'match: "^Use "',
            'match: "(("',
            'behaviours.yaml:23: behaviours.0.errors.0.match: "((" is not a valid regex',
            id="match-invalid",
        ),
        pytest.param(
            "ref: workerd#1305",
            "ref: miniflare#1305",
            'behaviours.yaml:38: behaviours.1.sources.0.ref: unknown repository "miniflare"',
            id="unknown-repo",
        ),
        pytest.param(
            "ref: docs:tcp-sockets#socketoptions",
            "ref: docs:tcp-sockets#sockets",
            'behaviours.yaml:27: behaviours.0.sources.1.ref: docs:tcp-sockets has no anchor "sockets"',
            id="unknown-anchor",
        ),
        pytest.param(
            "    reason: Needs a platform feature.\n",
            "",
            'behaviours.yaml:33: behaviours.1: "reason" is required',
            id="out-without-reason",
        ),
        pytest.param(
            "    scope: out\n",
            "",
            "behaviours.yaml:40: behaviours.1.reason: a reason is only for scope: out",
            id="reason-without-out",
        ),
        pytest.param(
            "L10-L20",
            "L20-L10",
            "behaviours.yaml:25: behaviours.0.sources.0.workerd: the line range ends before it starts",
            id="backwards-lines",
        ),
        pytest.param(
            "date: 2026-11-17",
            'date: "2026-13-40"',
            'behaviours.yaml:30: behaviours.0.corrections.0.date: "2026-13-40" is not a calendar date',
            id="bad-date",
        ),
        pytest.param(
            "    area: streams\n",
            "    area: streams\n    level: must\n",
            'behaviours.yaml:45: behaviours.2.level: unknown field "level"',
            id="unknown-field",
        ),
        pytest.param(
            "    area: streams\n",
            "    area: sockets\n",
            "behaviours.yaml:44: behaviours.2.area: expected one of",
            id="unknown-area",
        ),
        pytest.param(
            "    area: streams\n",
            "    area: streams\n    area: tls\n",
            "behaviours.yaml:45: area: duplicate key",
            id="duplicate-key",
        ),
        pytest.param("behaviours:\n", "behaviours: [\n", "behaviours.yaml:16: invalid YAML", id="not-yaml"),
    ],
)
def test_problems_name_file_line_and_field(old: str, new: str, expected: str) -> None:
    assert old in SMALL
    found = problems(SMALL.replace(old, new, 1))
    assert any(expected in problem for problem in found), found


def test_render_gives_each_id_a_section_with_its_cases() -> None:
    text = catalogue.render(small(), [FakeCase("address.a", ("B1",)), FakeCase("address.b[x]", ("B1",))])
    assert text.startswith("<!-- Generated from spec/behaviours.yaml")
    assert "connect-conformance catalogue > spec/behaviours.md" in text.split("\n", 2)[1]
    assert "| [B1](#b1) | The first behaviour | address | 2 |" in text
    assert "| [B2](#b2) | The second behaviour | scope | out of scope |" in text
    section = text.split("\n## B1\n", 1)[1].split("\n## B2\n", 1)[0]
    assert "- TypeError ``Use `secureTransport` | exactly`` ; cases match `^Use `" not in section
    assert "- TypeError ``Use `secureTransport` | exactly``; cases match `^Use `" in section
    assert (
        f"[the code](https://github.com/cloudflare/workerd/blob/{COMMIT}/src/workerd/api/sockets.c++#L10-L20)"
        in section
    )
    assert "- 2026-11-17: It was wrong. Evidence: <https://example.invalid/evidence>; live: a probe" in section
    assert "Cited by: `address.a`, `address.b`." in section
    assert "**Out of scope:** Needs a platform feature." in text.split("\n## B2\n", 1)[1]
    assert text.split("\n## B3\n", 1)[1].rstrip().endswith("Cited by: no case yet.")


def test_the_loader_does_not_read_the_catalogue_as_cases() -> None:
    spec = REPO / "spec"
    assert (spec / catalogue.FILE_NAME).is_file()
    assert spec / catalogue.FILE_NAME not in loader.spec_files([spec])


# --- the project's own catalogue ----------------------------------------------------------------


def test_the_catalogue_knows_every_source_the_cases_cite() -> None:
    cat = catalogue.load()
    cases = loader.load_strict([REPO / "spec"])
    assert [str(u) for u in catalogue.unknown_sources(cat, cases)] == []


def test_behaviours_md_is_rendered_from_the_current_yaml_and_spec() -> None:
    expected = catalogue.render(catalogue.load(), loader.load_strict([REPO / "spec"]))
    actual = (REPO / "spec" / "behaviours.md").read_text(encoding="utf-8")
    assert actual == expected, f"spec/behaviours.md is stale: run `{catalogue.REGENERATE}`"


def test_every_in_scope_behaviour_is_cited_by_some_case() -> None:
    uncited = catalogue.uncited(catalogue.load(), loader.load_strict([REPO / "spec"]))
    assert uncited == [], "in-scope behaviours no case cites"
