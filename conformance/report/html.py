"""A single-file, offline HTML report of one or more runs: the richer sibling of ``matrix.py``.

The page is one file with everything inline: the style, a small vanilla script,
and the data as JSON in a ``<script type="application/json">`` block. The
script builds the page from that data with ``textContent`` and
``createElement`` only, so any string that came from a results file or an
adapter is shown as text and never parsed as HTML. In the JSON block ``<``,
``>``, ``&`` (and every non-ASCII character, U+2028/U+2029 included) are
written as ``\\uXXXX`` escapes, so no string can close the element. A
Content-Security-Policy allows only this page's own script and style (by
hash) and no network access at all.

It shows, after Autobahn's agents x cases index and Bowtie's report site: the
implementations (adapter name, version, runtime), the suite version and spec
revision, the run dates and durations (a run of another spec revision than the
current one is marked stale); per implementation the pass rate per level and a
per-case score, with the cases not run here (the run lacked what they need)
counted apart, with the reason, and left out of the rates; the matrix of
cases by implementations grouped by area, filterable by outcome, level, tag
and text; and for each case a view with its sources, its location in
``spec/`` and, per implementation, the outcome, the message and the
transcript as a step table. With timelines (``history``,
from ``report/timeline.py``), a timeline view per runtime: its versions in order,
each with its outcome counts and the cases that changed from the previous version.
Per implementation, "What to fix first": the divergence signatures of its cases
that did not pass (``signatures.py``), the one explaining most cases first, each
with the cases behind it (each opens the case's view).
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import math
import re
from collections import defaultdict
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any

from ..core.model import LEVELS
from ..core.outcomes import OUTCOMES
from ..core.transcript import as_dicts
from . import drivers, model, signatures
from .links import source_links
from .model import RunReport
from .numbers import percent
from .output import write_text
from .summary import not_run_here_reason

# Text symbols (not emoji) that common fonts have; the outcome's word is always shown beside them.
SYMBOLS = {"pass": "✓", "fail": "✗", "error": "⚠\ufe0e", "timeout": "◷", "skip": "⊘"}
DEFAULT_TITLE = "Compatibility report: connect() of cloudflare:sockets"

_VARIANT = re.compile(r"\[[^\]]*\]$")


def _asset(name: str) -> str:
    return resources.files(__package__).joinpath("html_assets", name).read_text(encoding="utf-8")


def _finite(value: Any) -> Any:
    """The document with NaN and infinities replaced by null, which JSON.parse cannot read."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(key): _finite(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(item) for item in value]
    return value


def embed_json(data: Any) -> str:
    """JSON safe inside a ``<script>`` element: ``<``, ``>`` and ``&`` escaped, ASCII only.

    ``ensure_ascii`` also writes U+2028 and U+2029 (and lone surrogates) as escapes.
    """
    text = json.dumps(_finite(data), ensure_ascii=True, allow_nan=False, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _base_id(case_id: str) -> str:
    """A parametrised case's id without its ``[variant]`` suffix."""
    return _VARIANT.sub("", case_id)


def _scores(cases: list[dict[str, Any]]) -> dict[str, Any]:
    """Pass rates per level and overall, plus the per-case score.

    As in ``matrix.py`` only ``pass`` counts as passed (a skip for a capability
    the implementation lacks is a gap too), and a case not run here is left out
    of every rate and counted apart. The per-case score weighs each case once:
    the variants of a parametrised case share one weight, scored by the fraction
    of them that pass (as Interop scores a test by the fraction of its subtests).
    The drivers area is left out, as in ``matrix.py``: its table scores each driver.
    """
    cases = [case for case in cases if not drivers.is_driver_case(case["id"])]  # scored per driver instead
    scored = [case for case in cases if not case["not_run_here"]]
    scores: dict[str, Any] = {"not_run_here": len(cases) - len(scored)}
    for level in LEVELS:
        chosen = [case for case in scored if case["level"] == level]
        scores[level] = [sum(case["outcome"] == "pass" for case in chosen), len(chosen)]
    scores["all"] = [sum(case["outcome"] == "pass" for case in scored), len(scored)]
    groups: dict[str, list[bool]] = defaultdict(list)
    for case in scored:
        groups[_base_id(case["id"])].append(case["outcome"] == "pass")
    fractions = [sum(passed) / len(passed) for passed in groups.values()]
    scores["per_case"] = sum(fractions) / len(fractions) if fractions else None
    scores["case_groups"] = len(fractions)
    # The page shows these texts: a share below 1 never reads as 100% (numbers.percent).
    scores["text"] = {key: percent(*scores[key]) if scores[key][1] else None for key in (*LEVELS, "all")}
    scores["per_case_text"] = percent(sum(fractions), len(fractions), 1) if fractions else None
    return scores


def _implementation(name: str, report: RunReport) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    run, gate = report.header, report.gate
    unexpected = {entry.id for entry in gate.unexpected} if gate else set()
    expected = report.expected or frozenset()
    cases: dict[str, dict[str, Any]] = {}
    for result in report.cases:
        cases[result.id] = {
            "id": result.id,
            "title": result.title,
            "level": result.level,
            "tags": list(result.tags),
            "source": list(result.source),
            "location": f"{result.file}:{result.line}",
            "outcome": result.outcome.value,
            "message": result.message,
            "duration_ms": result.duration_ms,
            "transcript": as_dicts(result.transcript),
            # An outcome the expectations file records: only known when the run had a gate.
            "known": result.id in expected,
            "unexpected": result.id in unexpected,
            "not_run_here": result.not_run_here,
        }
    info = {
        "name": name,
        "run": {
            "adapter": run.adapter,
            "adapter_spec": run.adapter_spec,
            "suite_version": run.suite_version,
            "spec_revision": run.spec_revision,
            "started": run.started,
            "duration_s": run.duration_s,
            "workers": run.workers,
            "selection": run.selection,
            "interrupted": run.interrupted,
            "sandboxed": run.sandboxed,
            "error": run.error,
            "spec_errors": run.spec_errors,
            "host": run.host,
            "servers": run.servers,
        },
        "summary": report.summary,
        "gate": None
        if gate is None
        else {
            "ok": gate.ok,
            "unexpected": len(unexpected),
            "expected_non_pass": gate.expected_non_pass,
            "flaky": gate.flaky,
        },
        "scores": _scores(list(cases.values())),
        # What to fix first: the divergence signatures, most cases first (report/signatures.py).
        "signatures": [group.as_dict() for group in signatures.grouped(report.cases)],
        "not_run_here": _not_run_here(list(cases.values())),
    }
    return info, cases


def _not_run_here(cases: list[dict[str, Any]]) -> list[str]:
    """Why cases were not run here: one sentence per distinct reason (``summary.not_run_here_reason``)."""
    by_reason: dict[str, int] = defaultdict(int)
    for case in cases:
        if case["not_run_here"]:
            by_reason[case["message"].split("\n", 1)[0]] += 1
    return [not_run_here_reason(reason, count) for reason, count in by_reason.items()]


def report_data(
    results: list[tuple[str, RunReport]],
    title: str = DEFAULT_TITLE,
    links: Mapping[str, str] | None = None,
    history: list[dict[str, Any]] | None = None,
    current_revision: str | None = None,
) -> dict[str, Any]:
    """What the page's script renders: implementations, the union of their cases, where sources link
    to, and timelines.

    ``history`` holds ``timeline.html_data`` of each runtime whose versions were run
    (``connect-conformance history``): the page draws them as its timeline view.
    ``current_revision`` is the spec's revision now (``results.current_spec_revision``): the
    page marks a run made with another as stale.
    """
    implementations = []
    per_impl: list[dict[str, dict[str, Any]]] = []
    for name, report in results:
        info, cases = _implementation(name, report)
        info["stale"] = bool(current_revision) and info["run"]["spec_revision"] != current_revision
        implementations.append(info)
        per_impl.append(cases)
    all_ids = sorted({case_id for cases in per_impl for case_id in cases})
    rows = []
    for case_id in all_ids:
        first = next(cases[case_id] for cases in per_impl if case_id in cases)
        cells = []
        for cases in per_impl:
            case = cases.get(case_id)
            cells.append(
                None
                if case is None
                else {
                    key: case[key]
                    for key in (
                        "outcome",
                        "message",
                        "duration_ms",
                        "transcript",
                        "known",
                        "unexpected",
                        "not_run_here",
                    )
                }
            )
        rows.append(
            {
                "id": case_id,
                "area": case_id.split(".", 1)[0],
                **{key: first[key] for key in ("title", "level", "tags", "source", "location")},
                "results": cells,
            }
        )
    revisions = sorted({impl["run"]["spec_revision"] for impl in implementations})
    columns = [
        drivers.Column(
            info["name"],
            {case_id: case["outcome"] for case_id, case in cases.items()},
            frozenset(case_id for case_id, case in cases.items() if case["not_run_here"]),
            frozenset(case_id for case_id, case in cases.items() if case["known"]),
            info["run"],
        )
        for info, cases in zip(implementations, per_impl, strict=True)
    ]
    return {
        "format": 1,
        "title": title,
        "levels": list(LEVELS),
        "outcomes": list(OUTCOMES),
        "symbols": SYMBOLS,
        "spec_revisions": revisions,
        "current_spec_revision": current_revision or None,
        "implementations": implementations,
        "cases": rows,
        "links": dict(links or {}),
        "history": _finite(history or []),
        "drivers": drivers.html_data(columns),
    }


def _csp_hash(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode() + "'"


def render(
    results: list[tuple[str, RunReport]],
    title: str = DEFAULT_TITLE,
    *,
    content_security_policy: bool = True,
    links: Mapping[str, str] | None = None,
    history: list[dict[str, Any]] | None = None,
    current_revision: str | None = None,
) -> str:
    """The whole page for (name, run) pairs, one per implementation.

    ``links`` maps a case source to where it points (``links.source_links``);
    a source without one is shown as text.

    ``content_security_policy=False`` leaves the policy out; only tests use it,
    to check that the escaping alone keeps hostile strings inert.
    """
    script = _asset("report.js")
    style = _asset("report.css")
    if "</script" in script.lower() or "</style" in style.lower():
        raise RuntimeError("an html_assets file contains a closing tag")
    data = embed_json(report_data(results, title, links, history, current_revision))
    policy = ""
    if content_security_policy:
        rules = (
            "default-src 'none'",
            f"script-src {_csp_hash(script)}",
            f"style-src {_csp_hash(style)}",
            "img-src data:",
            "base-uri 'none'",
            "form-action 'none'",
        )
        policy = f'<meta http-equiv="Content-Security-Policy" content="{html.escape("; ".join(rules))}">\n'
    page_title = html.escape(title.encode("utf-8", "replace").decode("utf-8"))
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n' + policy + '<meta name="referrer" content="no-referrer">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        '<link rel="icon" href="data:,">\n'
        f"<title>{page_title}</title>\n"
        f"<style>{style}</style>\n"
        "</head>\n<body>\n"
        '<noscript><p class="noscript">This report is drawn by its inline script: '
        "enable JavaScript to read it, or read the results.json files it was made from.</p></noscript>\n"
        '<div id="app" aria-busy="true"></div>\n'
        f'<script type="application/json" id="report-data">{data}</script>\n'
        f"<script>{script}</script>\n"
        "</body>\n</html>\n"
    )


def _default_names(reports: list[RunReport]) -> list[str]:
    """Each run's adapter as it named itself in ``hello`` (name and version); duplicates get a suffix."""
    names: list[str] = []
    for report in reports:
        base = " ".join(text.strip() for text in (report.header.adapter_name, report.header.adapter_version)).strip()
        name, number = base, 2
        while name in names:
            name, number = f"{base} ({number})", number + 1
        names.append(name)
    return names


def write(
    paths: list[Path],
    output: Path,
    names: list[str] | None = None,
    title: str = DEFAULT_TITLE,
    history: list[dict[str, Any]] | None = None,
    current_revision: str | None = None,
) -> Path:
    """Write the report of these results.json files (or folders holding one) to ``output``;
    with ``current_revision``, a run of another spec revision is marked stale."""
    if names is not None and len(names) != len(paths):
        raise ValueError(f"{len(paths)} results files but {len(names)} names")
    reports = [model.load(path) for path in paths]
    if names is None:
        names = _default_names(reports)
    return write_reports(list(zip(names, reports, strict=True)), output, title, history, current_revision)


def write_reports(
    reports: list[tuple[str, RunReport]],
    output: Path,
    title: str = DEFAULT_TITLE,
    history: list[dict[str, Any]] | None = None,
    current_revision: str | None = None,
) -> Path:
    """Write the report of these (name, run) pairs to ``output``."""
    sources = {source for _, report in reports for case in report.cases for source in case.source}
    page = render(
        reports,
        title,
        links=source_links(sources, output.parent),
        history=history,
        current_revision=current_revision,
    )
    write_text(output, page)
    return output
