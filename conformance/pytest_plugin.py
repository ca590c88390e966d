"""pytest skin over the runner: ``pytest --adapter reference spec/``.

pytest loads this module in every run where the package is installed (it is a
``pytest11`` entry point), so it imports nothing but pytest and the stdlib at
import time: the harness (loader, runner, certificates...) is imported only
when ``--adapter`` is given. Spec files are collected only then too, so the
project's own test run never picks them up by accident.

Each case is one item; each pytest process (xdist worker) keeps one adapter
lane and one event loop for its whole session. With ``--expectations F`` the
verdict is ``expectations.judge``, the one ``run``'s gate uses: an expected
non-pass is an xfail, an unexpected outcome (a pass included) or an entry past
its ``until`` date fails, and unused entries are listed at the end. With
``--alluredir``, allure-pytest records each case with its id, level, tags and
sources as labels and its transcript as an attachment.
"""

from __future__ import annotations

import datetime
import json
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from .errors import ConformanceError

if TYPE_CHECKING:
    import asyncio

    from .core.certificates import RunCertificates
    from .core.model import Case
    from .core.outcomes import CaseResult
    from .execution.expectations import Expectations
    from .execution.runner import Lane

_SEVERITY = {"must": "critical", "should": "normal", "info": "minor"}


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("connect-conformance")
    group.addoption(
        "--adapter", default=None, help="collect spec/*.yaml cases and run them against this adapter (e.g. reference)"
    )
    group.addoption("--expectations", default=None, help="expectations file of the implementation")


class _Session:
    """The lane and event loop of one pytest process."""

    def __init__(self, config: pytest.Config) -> None:
        from .adapters import registry
        from .execution import expectations

        self.adapter = registry.resolve(config.getoption("--adapter"))
        path = config.getoption("--expectations")
        self.expectations: Expectations | None = expectations.load(Path(path)) if path else None
        self.today = datetime.date.today()
        self.loop: asyncio.AbstractEventLoop | None = None
        self.lane: Lane | None = None
        self.failure: str | None = None
        self.certificates: RunCertificates | None = None

    def run(self, case: Case) -> CaseResult:
        import asyncio

        from .core.certificates import RunCertificates
        from .errors import InfrastructureError
        from .execution.runner import Lane, run_context

        if self.failure:
            raise InfrastructureError(self.failure)
        if self.loop is None:
            self.loop = asyncio.new_event_loop()
        if self.lane is None:
            self.certificates = RunCertificates()
            lane = Lane(self.adapter, run_context(self.adapter, self.certificates))
            try:
                hello = self.loop.run_until_complete(lane.start())
            except InfrastructureError as error:
                self.failure = str(error)
                raise
            self.lane = lane
            if self.expectations is not None:
                # Entries with `versions` hold only for the version the adapter reported.
                self.expectations = self.expectations.for_version(hello.version)
        return self.loop.run_until_complete(self.lane.run_case(case))

    def close(self) -> None:
        if self.loop is None:
            return
        if self.lane is not None:
            self.loop.run_until_complete(self.lane.close())
        self.loop.run_until_complete(self.loop.shutdown_asyncgens())
        self.loop.close()
        self.loop = None
        if self.certificates is not None:
            self.certificates.close()


_SESSION_KEY = pytest.StashKey[_Session]()


class _Bookkeeping:
    """Which cases ran (seen in reports, so it works on the xdist controller too), for unused entries."""

    def __init__(self, expectations: Expectations | None) -> None:
        self.expectations = expectations
        self.ran: set[str] = set()

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.when == "call" or report.skipped:
            self.ran.add(report.nodeid.rsplit("::", 1)[-1])

    @pytest.hookimpl(trylast=True)
    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if self.expectations is None:
            return
        unused = self.expectations.unused(self.ran)
        if unused:
            terminalreporter.section("connect-conformance: unused expectations")
            for case_id in unused:
                terminalreporter.write_line(f"unused expectation: {case_id}")


def pytest_configure(config: pytest.Config) -> None:
    if config.getoption("--adapter"):
        session = _Session(config)
        config.stash[_SESSION_KEY] = session
        config.pluginmanager.register(_Bookkeeping(session.expectations), "connect-conformance-bookkeeping")


def pytest_unconfigure(config: pytest.Config) -> None:
    session = config.stash.get(_SESSION_KEY, None)
    if session is not None:
        session.close()


def pytest_collect_file(parent: pytest.Collector, file_path: Path) -> pytest.Collector | None:
    if file_path.suffix != ".yaml" or _SESSION_KEY not in parent.config.stash:
        return None
    from .cases.specdir import find_spec_root, is_catalogue

    if find_spec_root(file_path.parent) is None or is_catalogue(file_path):
        return None
    return SpecFile.from_parent(parent, path=file_path)


class SpecFile(pytest.File):
    def collect(self) -> Iterator[SpecItem]:
        from .cases.loader import load_file

        cases, errors = load_file(self.path)
        if errors:
            raise SpecFileError("\n".join(str(e) for e in errors))
        for case in cases:
            yield SpecItem.from_parent(self, name=case.id, case=case)


class SpecFileError(ConformanceError):
    pass


class UngatedOutcome(UserWarning):
    """An unexpected outcome of an ``info`` case: reported, never a failure."""


class CaseNotPassing(ConformanceError):
    def __init__(self, result: CaseResult, expected: str | None = None, expired: str | None = None) -> None:
        self.result = result
        self.expected = expected
        self.expired = expired
        super().__init__(result.message)


class SpecItem(pytest.Item):
    def __init__(self, *, case: Case, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.case = case

    def runtest(self) -> None:
        from .core.outcomes import Outcome
        from .execution.expectations import Verdict, judge

        session: _Session = self.config.stash[_SESSION_KEY]
        result = session.run(self.case)
        _allure(self.case, result)
        entry = session.expectations.expected(self.case.id) if session.expectations else None
        judgement = judge(result.outcome, entry, session.today, self.case.level)
        if judgement.ungated and (judgement.verdict is Verdict.UNGATED or judgement.expired):
            # info cases are recorded, not gated (spec/README.md): a warning, and the item does not fail.
            warnings.warn(
                UngatedOutcome(
                    f"{self.case.id} (info, not gated): {result.outcome.value}, expected {judgement.expected}"
                ),
                stacklevel=1,
            )
            if result.outcome is not Outcome.PASS:
                pytest.xfail(
                    f"info case, not gated: {result.outcome.value}: {result.message.splitlines()[0] if result.message else ''}"
                )
            return
        if judgement.expired and entry is not None:
            raise CaseNotPassing(result, expired=f"{entry.until} ({entry.reason})")
        if judgement.verdict is Verdict.UNEXPECTED:
            raise CaseNotPassing(result, expected=judgement.expected if entry else None)
        if result.outcome is Outcome.SKIP and entry is None:
            pytest.skip(result.message)
        if result.outcome is not Outcome.PASS and entry is not None:
            pytest.xfail(f"expected {entry.outcome}: {entry.reason}")

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:
        error = excinfo.value
        if isinstance(error, CaseNotPassing):
            result = error.result
            lines = [
                f"{result.outcome.value}: {result.id} ({result.level}) at {result.file}:{result.line}",
                result.message,
            ]
            if error.expected:
                lines.insert(1, f"expected outcome: {error.expected}")
            if error.expired:
                lines.insert(1, f"EXPIRED expectation (until {error.expired}): look at it again")
            lines.append("transcript:")
            lines.extend("  " + json.dumps(entry.as_dict(), ensure_ascii=False)[:300] for entry in result.transcript)
            return "\n".join(lines)
        return str(super().repr_failure(excinfo))

    def reportinfo(self) -> tuple[Path, int, str]:
        return self.path, max(self.case.line - 1, 0), f"case {self.case.id}"


def _allure(case: Case, result: CaseResult) -> None:
    try:
        import allure
    except ImportError:
        return
    allure.dynamic.title(case.title)
    allure.dynamic.label("case_id", case.id)
    allure.dynamic.label("level", case.level)
    allure.dynamic.label("area", case.area)
    allure.dynamic.severity(_SEVERITY[case.level])
    allure.dynamic.tag(*case.tags)
    for source in case.source:
        allure.dynamic.label("source", source)
        if source.startswith("http"):
            allure.dynamic.link(source, name=source)
    allure.attach(
        json.dumps(result.as_dict(), indent=1, ensure_ascii=False),
        name="transcript",
        attachment_type=allure.attachment_type.JSON,
    )
