"""The HTML report in a real headless browser: Debian's chromium driven over the DevTools protocol.

Chromium starts with ``--remote-debugging-port=0`` and a fresh profile; the
test reads the port from the profile's ``DevToolsActivePort`` file and talks
to the browser over one WebSocket (``websockets``' sync client), attaching to
each page with flattened sessions. Every page records its console calls,
uncaught exceptions, log entries and network requests from before it loads.
Nothing is downloaded: the browser is the system's (``apt-get install -y
chromium``). A missing browser skips the tests with that reason on a
developer's machine and fails them in CI (``CI=true``, which ``.ci/run`` sets).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from websockets.sync.client import ClientConnection, connect

from conformance.core.outcomes import CaseResult, Outcome, SkipCause
from conformance.core.transcript import ClientStepEntry, PeerStepEntry, SessionEndEntry, VariablesEntry
from conformance.report import html
from conformance.report.model import Gate, GateEntry, RunHeader, RunReport
from tests.helpers import REPO, require_program, run_report
from tests.integration.cli import Completed, run_cli

pytestmark = pytest.mark.slow

CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--no-first-run",
    "--no-default-browser-check",
    "--remote-debugging-port=0",
)
START_TIMEOUT = 30.0
CALL_TIMEOUT = 15.0

HOSTILE = (
    "<script>window.__pwned=1</script>",
    '<img src=x onerror="window.__pwned=1">',
    '"><svg onload="window.__pwned=1">',
    "</script><script>window.__pwned=1</script>",
    "<!-- <script>window.__pwned=1</script> -->",
    "&lt;b&gt; stays &amp; literal \u2028 and \u2029",
)


def _chromium() -> str:
    return require_program(("chromium", "chromium-browser"), "apt-get install -y chromium")


class Browser:
    """One headless chromium and its DevTools WebSocket; ``close`` ends its process group."""

    def __init__(self) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="html-report-browser-"))
        profile = self.folder / "profile"
        self.log = self.folder / "chromium.log"
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(
                [_chromium(), *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "about:blank"],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.connection: ClientConnection | None = None
        self._stack = contextlib.ExitStack()
        self.events: list[dict[str, Any]] = []
        self._next_id = 0
        try:
            self.connection = self._stack.enter_context(
                connect(self._websocket_url(profile / "DevToolsActivePort"), open_timeout=10, max_size=None)
            )
        except BaseException:
            self.close()
            raise

    def _websocket_url(self, port_file: Path) -> str:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"chromium exited with {self.process.returncode}: {self._log_tail()}")
            with contextlib.suppress(OSError):
                lines = port_file.read_text().split()
                if len(lines) == 2:
                    return f"ws://127.0.0.1:{lines[0]}{lines[1]}"
            time.sleep(0.05)
        raise AssertionError(f"chromium did not open its DevTools port within {START_TIMEOUT} s: {self._log_tail()}")

    def _log_tail(self) -> str:
        with contextlib.suppress(OSError):
            return self.log.read_text(errors="replace")[-2000:]
        return ""

    def call(
        self,
        method: str,
        params: dict[str, Any] | None = None,
        session: str | None = None,
        timeout: float = CALL_TIMEOUT,
    ) -> dict[str, Any]:
        assert self.connection is not None
        self._next_id += 1
        message: dict[str, Any] = {"id": self._next_id, "method": method, "params": params or {}}
        if session is not None:
            message["sessionId"] = session
        self.connection.send(json.dumps(message))
        deadline = time.monotonic() + timeout
        while True:
            reply = self._receive(deadline, method)
            if reply is not None and reply.get("id") == self._next_id:
                if "error" in reply:
                    raise AssertionError(f"{method} failed: {reply['error']}")
                result: dict[str, Any] = reply.get("result", {})
                return result

    def _receive(self, deadline: float, waiting_for: str) -> dict[str, Any] | None:
        assert self.connection is not None
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise AssertionError(f"chromium did not answer {waiting_for} in time")
        try:
            message: dict[str, Any] = json.loads(self.connection.recv(timeout=remaining))
        except TimeoutError:
            raise AssertionError(f"chromium did not answer {waiting_for} in time") from None
        if "method" in message:
            self.events.append(message)
            return None
        return message

    def drain(self, seconds: float) -> None:
        """Collect the events that arrive within ``seconds``."""
        assert self.connection is not None
        deadline = time.monotonic() + seconds
        while (remaining := deadline - time.monotonic()) > 0:
            try:
                self.events.append(json.loads(self.connection.recv(timeout=remaining)))
            except TimeoutError:
                return

    def open(self, path: Path) -> Page:
        return Page(self, path)

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._stack.close()
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
        shutil.rmtree(self.folder, ignore_errors=True)


class Page:
    """A tab showing one report, with everything it logged since before it loaded."""

    def __init__(self, browser: Browser, path: Path) -> None:
        self.browser = browser
        self.target = browser.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        self.session = browser.call("Target.attachToTarget", {"targetId": self.target, "flatten": True})["sessionId"]
        for domain in ("Runtime", "Log", "Page", "Network"):
            browser.call(f"{domain}.enable", session=self.session)
        self.url = path.resolve().as_uri()
        browser.call("Page.navigate", {"url": self.url}, session=self.session)
        self.wait_for(
            "document.readyState === 'complete' && document.documentElement.dataset.ready === 'true'",
            what="the report to finish drawing",
        )

    def evaluate(self, expression: str) -> Any:
        reply = self.browser.call(
            "Runtime.evaluate",
            {"expression": expression, "returnByValue": True, "awaitPromise": True},
            session=self.session,
        )
        if "exceptionDetails" in reply:
            raise AssertionError(f"{expression!r} threw: {reply['exceptionDetails']}")
        return reply["result"].get("value")

    def wait_for(self, expression: str, what: str, timeout: float = 15.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.evaluate(f"Boolean({expression})"):
                return
            self.browser.drain(0.05)
        problems = self.problems()
        raise AssertionError(f"timed out waiting for {what}; {len(problems)} page problems, the first: {problems[:3]}")

    def _events(self, *methods: str) -> list[dict[str, Any]]:
        return [
            event["params"]
            for event in self.browser.events
            if event.get("sessionId") == self.session and event.get("method") in methods
        ]

    def problems(self) -> list[str]:
        """Console errors and warnings, uncaught exceptions, error log entries (CSP violations among them)."""
        found = []
        for params in self._events("Runtime.consoleAPICalled"):
            if params.get("type") in ("error", "assert", "warning"):
                found.append(
                    f"console.{params['type']}: {[a.get('value', a.get('description')) for a in params.get('args', [])]}"
                )
        for params in self._events("Runtime.exceptionThrown"):
            details = params.get("exceptionDetails", {})
            found.append(f"exception: {details.get('exception', {}).get('description') or details.get('text')}")
        for params in self._events("Log.entryAdded"):
            entry = params.get("entry", {})
            if entry.get("level") in ("error", "warning"):
                found.append(f"log {entry.get('level')}: {entry.get('text')} ({entry.get('url', '')})")
        return found

    def requests(self) -> list[str]:
        return [params["request"]["url"] for params in self._events("Network.requestWillBeSent")]

    def visible_case_ids(self) -> list[str]:
        result: list[str] = self.evaluate(
            "[...document.querySelectorAll('#matrix tr.case')].filter(r => r.checkVisibility())"
            ".map(r => r.dataset.caseId)"
        )
        return result

    def click(self, selector: str) -> None:
        self.evaluate(f"document.querySelector({json.dumps(selector)}).click()")

    def close(self) -> None:
        with contextlib.suppress(AssertionError):
            self.browser.call("Target.closeTarget", {"targetId": self.target})


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    started = Browser()
    try:
        yield started
    finally:
        started.close()


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Completed]:
    """Real runs of the half-open cases (five areas): the reference, and a mutant that fails some. Not the
    two that wait 40 s each for the mutant's FIN (what the report shows of a failure, the others show)."""
    folder = tmp_path_factory.mktemp("html-runs")
    adapters = {"reference": "reference", "no-fin": "reference+writer-close-no-fin"}
    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = {
            name: pool.submit(
                run_cli,
                "run",
                "--tag",
                "half-open",
                "-k",
                "not queued-writes-flushed",
                "-n",
                "4",
                "--adapter",
                adapter,
                report_dir=folder / name,
                timeout=180,
            )
            for name, adapter in adapters.items()
        }
        done = {name: future.result() for name, future in futures.items()}
    for name, completed in done.items():
        assert (completed.report_dir / "results.json").is_file(), f"{name}: {completed.stdout}{completed.stderr}"
    assert "fail" in done["no-fin"].outcomes().values(), "the mutant was expected to fail some cases"
    return done


@contextlib.contextmanager
def opened(browser: Browser, path: Path) -> Iterator[Page]:
    page = browser.open(path)
    try:
        yield page
    finally:
        page.close()


def test_two_implementations_matrix_filters_and_case_view(
    browser: Browser, runs: dict[str, Completed], tmp_path: Path
) -> None:
    names = ["reference", "no-fin"]
    output = html.write([runs[name].report_dir / "results.json" for name in names], tmp_path / "report.html", names)
    outcomes = {name: runs[name].outcomes() for name in names}
    documents = {name: runs[name].results() for name in names}
    ids = sorted(set(outcomes["reference"]) | set(outcomes["no-fin"]))
    with opened(browser, output) as page:
        # One row per case, one column per implementation, every cell the outcome of its results file.
        assert page.evaluate("document.querySelectorAll('#matrix tr.case').length") == len(ids)
        assert sorted(page.visible_case_ids()) == ids
        headers = page.evaluate(
            "[...document.querySelectorAll('#matrix table.matrix')]"
            ".map(t => [...t.tHead.rows[0].cells].slice(2).map(c => c.textContent))"
        )
        assert headers == [names] * len({case.split(".", 1)[0] for case in ids})
        cells = page.evaluate(
            "Object.fromEntries([...document.querySelectorAll('#matrix tr.case')]"
            ".map(r => [r.dataset.caseId, [...r.querySelectorAll('td.cell')].map(c => c.dataset.outcome)]))"
        )
        assert cells == {case: [outcomes[name][case] for name in names] for case in ids}
        assert (
            page.evaluate("document.getElementById('status').textContent") == f"Showing {len(ids)} of {len(ids)} cases."
        )

        # Only "fail": exactly the rows where some implementation failed.
        for outcome in html.OUTCOMES:
            if outcome != "fail":
                page.click(f"#f-outcome-{outcome}")
        failing = sorted(case for case in ids if "fail" in (outcomes[name].get(case) for name in names))
        assert failing
        assert sorted(page.visible_case_ids()) == failing
        assert page.evaluate("document.getElementById('status').dataset.shown") == str(len(failing))
        fail_count = page.evaluate("document.querySelector('label[for=f-outcome-fail] .count').textContent")
        assert fail_count == f"({len(failing)})"

        # Level, tag and text filters, each from a reset.
        page.click("#f-reset")
        assert sorted(page.visible_case_ids()) == ids
        page.click("#f-level-must")
        levels = {case["id"]: case["level"] for case in documents["reference"]["cases"]}
        assert sorted(page.visible_case_ids()) == sorted(case for case in ids if levels[case] != "must")
        page.click("#f-reset")
        page.evaluate(
            "const s = document.getElementById('f-tag'); s.value = 'tls';"
            "s.dispatchEvent(new Event('change', {bubbles: true}))"
        )
        tags = {case["id"]: case["tags"] for case in documents["reference"]["cases"]}
        assert sorted(page.visible_case_ids()) == sorted(case for case in ids if "tls" in tags[case])
        page.click("#f-reset")
        page.evaluate(
            "const i = document.getElementById('f-search'); i.value = 'WRITER-close';"
            "i.dispatchEvent(new Event('input', {bubbles: true}))"
        )
        titles = {case["id"]: case["title"].lower() for case in documents["reference"]["cases"]}
        assert sorted(page.visible_case_ids()) == sorted(
            case for case in ids if "writer-close" in case or "writer-close" in titles[case]
        )
        page.click("#f-reset")

        # Opening a failing case shows, per implementation, the outcome, the message and the transcript.
        case_id = failing[0]
        page.click(f"#matrix tr.case[data-case-id={json.dumps(case_id)}] button.case-link")
        page.wait_for("!document.getElementById('case-view').hidden", what="the case view")
        assert page.evaluate("document.getElementById('matrix-view').hidden") is True
        failed = next(case for case in documents["no-fin"]["cases"] if case["id"] == case_id)
        view = page.evaluate("""(() => {
            const view = document.getElementById('case-view');
            return {
              heading: view.querySelector('h2').textContent,
              id: view.querySelector('.case-id').textContent,
              text: view.innerText,
              sections: [...view.querySelectorAll('section.impl-result')].map(s => ({
                heading: s.querySelector('h3').textContent,
                message: s.querySelector('pre.message')?.textContent ?? null,
                steps: [...s.querySelectorAll('table.transcript tbody tr')].map(r => r.cells[0].textContent),
                problems: [...s.querySelectorAll('tr.has-problem .problem')].map(p => p.textContent),
              })),
            };
        })()""")
        assert view["heading"] == failed["title"]
        assert view["id"] == case_id
        assert failed["location"] in view["text"]
        assert [section["heading"] for section in view["sections"]] == ["reference ✓ pass", "no-fin ✗ fail"]
        assert view["sections"][1]["message"] == failed["message"]
        steps = [str(entry["step"]) for entry in failed["transcript"] if "step" in entry]
        assert view["sections"][1]["steps"] == steps
        assert view["sections"][1]["problems"] == [e["problem"] for e in failed["transcript"] if "problem" in e]
        assert view["sections"][1]["problems"]

        # Back to the matrix.
        page.click("#case-view button.back")
        page.wait_for("!document.getElementById('matrix-view').hidden", what="the matrix again")
        assert sorted(page.visible_case_ids()) == ids

        page.browser.drain(0.3)
        assert page.problems() == []
        assert all(url.startswith(("file:", "data:")) for url in page.requests()), page.requests()


def test_one_implementation(browser: Browser, runs: dict[str, Completed], tmp_path: Path) -> None:
    output = html.write([runs["reference"].report_dir / "results.json"], tmp_path / "one.html")
    ids = sorted(runs["reference"].outcomes())
    with opened(browser, output) as page:
        assert sorted(page.visible_case_ids()) == ids
        assert page.evaluate("document.querySelectorAll('#matrix tr.case td.cell').length") == len(ids)
        assert page.evaluate("document.getElementById('f-differ')") is None
        assert page.evaluate("document.querySelector('table.scores tbody').rows.length") == 1

        # A case's behaviour ids link to their sections of spec/behaviours.md, its documents to their pages.
        page.click('#matrix tr.case[data-case-id="half-open.peer-fin-closes-writable-by-default"] button.case-link')
        page.wait_for("!document.getElementById('case-view').hidden", what="the case view")
        hrefs = page.evaluate("[...document.querySelectorAll('#case-view dd a')].map(a => [a.textContent, a.href])")
        linked = dict(hrefs)
        assert linked["B31"] == (REPO / "spec" / "behaviours.md").resolve().as_uri() + "#b31"
        assert linked["docs:tcp-sockets#socketoptions"] == (
            "https://developers.cloudflare.com/workers/runtime-apis/tcp-sockets/#socketoptions"
        )
        page.browser.drain(0.2)
        assert page.problems() == []


def _hostile_document() -> RunReport:
    mark = " ".join(HOSTILE)
    transcript = [
        VariablesEntry({"peer.host": HOSTILE[0], HOSTILE[1]: HOSTILE[2]}),
        ClientStepEntry(
            1,
            3,
            HOSTILE[1],
            request={"op": HOSTILE[2]},
            observed={"value": HOSTILE[0], HOSTILE[3]: [HOSTILE[1]]},
            expected={"bytes": HOSTILE[2]},
            problem=mark,
            note=HOSTILE[4],
        ),
        PeerStepEntry(2, 4, "peer.send", request={"op": HOSTILE[0], "args": [HOSTILE[1]]}),
        SessionEndEntry(None, {"value": HOSTILE[3]}, judged=False),
    ]
    case = CaseResult(
        id='hostile.<img src=x onerror="window.__pwned=1">',
        title="title " + mark,
        outcome=Outcome.FAIL,
        level="must",
        tags=(HOSTILE[1], "safe"),
        source=(
            HOSTILE[0],
            "javascript:window.__pwned=1",
            'https://example.invalid/"><svg onload="window.__pwned=1">',
        ),
        file="spec/" + HOSTILE[1] + ".yaml",
        line=1,
        duration_ms=1.0,
        message="message " + mark,
        transcript=transcript,
    )
    header = RunHeader(
        adapter={"name": HOSTILE[0], "version": HOSTILE[1], "runtime": HOSTILE[2]},
        adapter_spec=HOSTILE[3],
        suite_version=HOSTILE[4],
        spec_revision=HOSTILE[1],
        started=HOSTILE[0],
        duration_s=1.0,
        workers=1,
        interrupted=True,
        error=HOSTILE[2],
        spec_errors=[HOSTILE[3]],
    )
    return RunReport(header, [case], Gate(ok=False, unexpected=(GateEntry(case.id, "fail", "pass"),)))


@pytest.mark.parametrize("policy", [True, False], ids=["with-csp", "escaping-alone"])
def test_hostile_strings_render_as_text_and_run_nothing(browser: Browser, tmp_path: Path, policy: bool) -> None:
    document = _hostile_document()
    page_text = html.render([(HOSTILE[2], document)], content_security_policy=policy)
    output = tmp_path / "hostile.html"
    output.write_text(page_text, encoding="utf-8")
    with opened(browser, output) as page:
        page.click("#matrix tr.case button.case-link")
        page.wait_for("!document.getElementById('case-view').hidden", what="the hostile case's view")
        page.evaluate("document.querySelectorAll('details').forEach(d => { d.open = true; })")
        page.browser.drain(0.5)
        assert page.evaluate("typeof window.__pwned") == "undefined"
        assert page.evaluate("document.querySelectorAll('img, svg, iframe, object, embed').length") == 0
        assert page.evaluate("document.scripts.length") == 2
        assert page.evaluate("document.querySelectorAll('a').length") == 1
        assert page.evaluate("document.querySelector('a').protocol") == "https:"
        text = page.evaluate("document.body.innerText")
        for hostile in HOSTILE:
            visible = hostile.split("\u2028")[0].strip()  # innerText may turn U+2028 into a line break
            assert visible in text, visible
        assert page.evaluate("document.querySelector('#case-view .case-id').textContent") == document.cases[0].id
        page.click("#case-view button.back")
        page.wait_for("!document.getElementById('matrix-view').hidden", what="the matrix again")
        assert HOSTILE[0] in page.evaluate("document.querySelector('table.implementations').innerText")
        assert page.evaluate("typeof window.__pwned") == "undefined"
        assert page.problems() == []
        assert all(url.startswith(("file:", "data:")) for url in page.requests()), page.requests()


def test_the_timeline_view_of_a_history(browser: Browser, runs: dict[str, Completed], tmp_path: Path) -> None:
    """A history folder (two versions: the reference, then the mutant) drawn as the timeline view:
    one row per version with its counts and the cases that changed, each opening its case view."""
    from conformance.report import timeline
    from conformance.versions.history import write_html

    folder = tmp_path / "history" / "toy"
    for version, name in (("1.0.0", "reference"), ("1.1.0", "no-fin")):
        (folder / version).mkdir(parents=True)
        shutil.copyfile(runs[name].report_dir / "results.json", folder / version / "results.json")
    line = timeline.load(folder)
    changes = line.changes()
    assert changes, "the mutant was expected to change some outcomes"
    output = write_html(folder, line)
    with opened(browser, output) as page:
        rows = page.evaluate(
            "[...document.querySelectorAll('table.timeline tbody tr')].map(r => ({"
            " version: r.dataset.version, cells: [...r.cells].map(c => c.textContent),"
            " changed: [...r.querySelectorAll('td.changes li')].map(li => li.querySelector('.case-link').textContent)}))"
        )
        assert [row["version"] for row in rows] == ["1.0.0", "1.1.0"]
        assert rows[0]["changed"] == []
        assert rows[1]["changed"] == [change.case for change in changes]
        summary = runs["no-fin"].results()["summary"]
        assert rows[1]["cells"][2:7] == [str(summary[o]) for o in html.OUTCOMES]
        # The versions are the matrix's columns too.
        assert page.evaluate("[...document.querySelectorAll('#matrix th.impl')].map(c => c.textContent)")[:2] == [
            "1.0.0",
            "1.1.0",
        ]
        page.click("table.timeline td.changes .case-link")
        page.wait_for("!document.getElementById('case-view').hidden", what="the case view")
        headings = page.evaluate(
            "[...document.querySelectorAll('#case-view section.impl-result h3')].map(h => h.textContent)"
        )
        assert [heading.split(" ")[0] for heading in headings] == ["1.0.0", "1.1.0"]
        page.browser.drain(0.3)
        assert page.problems() == []
        assert all(url.startswith(("file:", "data:")) for url in page.requests()), page.requests()


def test_the_main_report_links_to_the_timeline_page(
    browser: Browser, runs: dict[str, Completed], tmp_path: Path
) -> None:
    from conformance.report import timeline

    folder = tmp_path / "history" / "toy"
    for version, name in (("1.0.0", "reference"), ("1.1.0", "no-fin")):
        (folder / version).mkdir(parents=True)
        shutil.copyfile(runs[name].report_dir / "results.json", folder / version / "results.json")
    view = timeline.html_data(timeline.load(folder), "history/toy/index.html")
    output = html.write([runs["reference"].report_dir / "results.json"], tmp_path / "index.html", history=[view])
    with opened(browser, output) as page:
        links = page.evaluate("[...document.querySelectorAll('table.timeline a')].map(a => a.getAttribute('href'))")
        assert links
        assert all(link.startswith("history/toy/index.html#case=") for link in links)
        page.browser.drain(0.2)
        assert page.problems() == []


def _run_document(name: str, revision: str, started: str, away: int) -> RunReport:
    done = [CaseResult(id=f"area.pass-{n}", outcome=Outcome.PASS, level="must", title="t") for n in range(6)]
    done += [
        CaseResult(
            id=f"policy.away-{n}",
            outcome=Outcome.SKIP,
            level="must",
            title="t",
            message="needs the network sandbox: run with --sandbox (docs/sandbox.md); nothing was dialled",
            skipped_by=SkipCause.ENVIRONMENT,
        )
        for n in range(away)
    ]
    adapter = {"name": name, "version": "1.0", "runtime": "rt"}
    return run_report(done, adapter=adapter, adapter_spec=name, started=started, duration_s=1.0, spec_revision=revision)


def test_cases_not_run_here_and_a_stale_run_are_shown_for_what_they_are(browser: Browser, tmp_path: Path) -> None:
    """Issue 19: a run that passes all it ran scores 100 % with its cases not run here counted apart, and a
    run of another spec revision than the current one says so, with the day it was made on."""
    current = "0123456789abcdef"
    page_text = html.render(
        [
            ("fresh", _run_document("fresh", current, "2026-12-02T08:00:00+00:00", away=2)),
            ("old", _run_document("old", "fedcba9876543210", "2026-11-30T21:55:18+00:00", away=0)),
        ],
        current_revision=current,
    )
    output = tmp_path / "report.html"
    output.write_text(page_text, encoding="utf-8")
    with opened(browser, output) as page:
        scores = page.evaluate(
            "[...document.querySelectorAll('table.scores tbody tr')].map(r => [...r.cells].map(c => c.textContent))"
        )
        assert scores[0][0] == "fresh"
        assert scores[0][1] == " 100% (6/6)", "2 cases not run here are in no score"
        assert scores[0][-1] == "2"
        assert scores[1][-1] == "0"
        heads = page.evaluate("[...document.querySelectorAll('table.scores thead th')].map(c => c.textContent)")
        assert heads[-1] == "not run here"
        reasons = page.evaluate("[...document.querySelectorAll('ul.not-run-here li')].map(li => li.textContent)")
        assert reasons == [
            "fresh: 2 cases need the network sandbox: run with --sandbox (docs/sandbox.md); nothing was dialled"
        ]
        warnings = page.evaluate("[...document.querySelectorAll('ul.warnings li')].map(li => li.textContent)")
        assert warnings == [
            "old: stale: run on 2026-11-30 with spec revision fedcba9876543210, not the spec's current "
            f"{current}; its results are not those of today's cases."
        ]
        cell = page.evaluate(
            "document.querySelector('#matrix tr.case[data-case-id=\"policy.away-0\"] td.cell').textContent"
        )
        assert cell == "⊘ skip · not run here"
        assert page.evaluate("document.getElementById('status').textContent") == "Showing 8 of 8 cases."
        page.browser.drain(0.2)
        assert page.problems() == []
