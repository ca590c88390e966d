"""An ``error`` says whose fault it was in a typed field (``CaseResult.fault``), recorded in results.json;
the run exits as an internal error (4) on a fault of the harness, told by that field, not by its message."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from conformance.adapters.base import AdapterSpec, RunContext
from conformance.core.certificates import RunCertificates
from conformance.core.outcomes import CaseResult, Fault, Outcome
from conformance.execution import runner, suite
from conformance.protocol.replies import HelloInfo
from conformance.report import model, validate
from tests.helpers import case_from_yaml, run_report, save_report

CASE = """\
- id: lifecycle.t
  title: t
  level: must
  source: [B16]
  steps:
    - connect: {address: "${peer.address}"}
"""
HELLO = HelloInfo(name="fake", version="0", runtime="none", protocol=1)


def _error(case_id: str, message: str, fault: Fault | None) -> CaseResult:
    return CaseResult(id=case_id, outcome=Outcome.ERROR, level="must", message=message, fault=fault)


def test_the_run_is_an_internal_error_by_the_fault_field_not_by_the_message() -> None:
    adapters = [_error("a.said-so", "harness error: the adapter's own words", Fault.ADAPTER)]
    assert suite._harness_errors(adapters) is None, "what an adapter writes cannot make it our bug"
    ours = [_error("a.ours", "KeyError: 'x'", Fault.HARNESS), _error("a.spec", "unknown variable ${x}", Fault.SPEC)]
    found = suite._harness_errors(ours)
    assert found is not None
    assert "1 case hit a bug of the harness" in found
    assert "a.ours" in found
    assert "a.spec" not in found


def _run_case(lane_setup: Any) -> CaseResult:
    async def main() -> CaseResult:
        with RunCertificates() as certificates:
            lane = runner.Lane(AdapterSpec("fake", lambda context: None), RunContext(certificates))  # type: ignore[arg-type,return-value]
            lane_setup(lane)
            return await lane.run_case(case_from_yaml(CASE))

    return asyncio.run(main())


def test_an_exception_in_the_runner_is_the_harness_fault(monkeypatch: pytest.MonkeyPatch) -> None:
    async def broken(*args: Any) -> None:
        raise KeyError("a bug of ours")

    result = _run_case(lambda lane: monkeypatch.setattr(lane, "_run", broken))
    assert (result.outcome, result.fault) == (Outcome.ERROR, Fault.HARNESS)
    assert result.message == "harness error: KeyError: 'a bug of ours'"


def test_a_peer_that_cannot_listen_is_the_peers_fault(monkeypatch: pytest.MonkeyPatch) -> None:
    class NoListener:
        async def open_session(self, *args: Any) -> Any:
            raise OSError(99, "Cannot assign requested address")

    async def hello() -> HelloInfo:
        return HELLO

    def setup(lane: runner.Lane) -> None:
        monkeypatch.setattr(lane, "_ensure_adapter", hello)
        lane.peers = NoListener()

    result = _run_case(setup)
    assert (result.outcome, result.fault) == (Outcome.ERROR, Fault.PEER)
    assert result.message.startswith("the peer could not listen on 127.0.0.1")


def test_an_adapter_that_will_not_restart_is_the_adapters_fault(monkeypatch: pytest.MonkeyPatch) -> None:
    async def gone() -> str:
        return "workerd exited with code 1"

    result = _run_case(lambda lane: monkeypatch.setattr(lane, "_ensure_adapter", gone))
    assert (result.outcome, result.fault) == (Outcome.ERROR, Fault.ADAPTER)


def test_results_json_records_the_fault_of_an_error_and_reads_it_back(tmp_path: Any) -> None:
    cases = [
        _error("a.adapter", "adapter failure: silent", Fault.ADAPTER),
        CaseResult(id="a.pass", outcome=Outcome.PASS, level="must"),
    ]
    path = save_report(tmp_path, run_report(cases))
    document = model.load(path).as_dict()
    assert document["cases"][0]["fault"] == "adapter"
    assert "fault" not in document["cases"][1]
    assert [case.fault for case in model.load(path).cases] == [Fault.ADAPTER, None]


def test_a_file_made_before_faults_loads_and_an_unknown_fault_is_refused(tmp_path: Any) -> None:
    document = run_report([_error("a.old", "harness error: x", None)]).as_dict()
    assert "fault" not in document["cases"][0]
    assert model.load(save_report(tmp_path / "old", document)).cases[0].fault is None
    document["cases"][0]["fault"] = "cosmic rays"
    (problem,) = validate.validate_file(save_report(tmp_path / "bad", document))
    assert problem.startswith("cases/0/fault: 'cosmic rays' is not one of")
