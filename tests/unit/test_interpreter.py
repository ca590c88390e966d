"""The step interpreter, driven with plain data: no sockets, no event loop."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from conformance_peer import Accepted, Done, Echoed, EndSeen
from conformance_peer.calls import Accept, ShutdownWrite

from conformance.core.outcomes import Fault, Outcome
from conformance.core.transcript import (
    ClientStepEntry,
    PeerStepEntry,
    SessionEndEntry,
    SkippedStepEntry,
    VariablesEntry,
    entry_from_dict,
)
from conformance.engine.interpreter import CaseInterpreter, ClientOp, EndSession, Finished, PeerOp, StartBackground
from conformance.protocol.replies import parse
from tests.helpers import case_from_yaml

PEER = {
    "peer.address": "127.0.0.1:4000",
    "peer.host": "127.0.0.1",
    "peer.hostname": "127.0.0.1",
    "peer.port": 4000,
    "peer.refused_port": 4001,
    "peer.refused_address": "127.0.0.1:4001",
}
CLEAN_END = {"status": "returned", "value": {"open_sockets": 0, "unhandled_rejections": []}}


def interpreter(steps: str, extra: str = "") -> CaseInterpreter:
    case = case_from_yaml(f"""\
    - id: lifecycle.t
      title: t
      level: must
      source: [B16]
{extra}      steps:
{steps}""")
    return CaseInterpreter(case, dict(PEER))


def drive(machine: CaseInterpreter, replies: list[Any]) -> list[Any]:
    """Feed ``replies`` in order; return the actions asked for, ending with Finished.

    Adapter replies are written as the protocol's dicts and typed as the client would
    type them; peer results are the peer's own typed values.
    """
    actions = []
    queue = list(replies)
    while True:
        action = machine.next_action()
        actions.append(action)
        if isinstance(action, Finished):
            return actions
        observed = queue.pop(0) if queue else CLEAN_END
        if isinstance(action, ClientOp):
            observed = parse(action.request["op"], {"seq": 1, **observed}, action.shape)
        elif isinstance(action, EndSession):
            observed = parse("end", {"seq": 1, **observed}, "end")
        machine.observe(observed)


SOCKET = {"status": "returned", "value": {"socket": "s1"}}
ACCEPTED = Accepted(name="c1", remote_address="127.0.0.1:5000")


def test_variables_are_substituted_and_the_socket_handle_is_used() -> None:
    machine = interpreter("""\
        - connect: {address: "${peer.address}", options: {allowHalfOpen: true}}
        - await: opened
          expect: {resolves: {remoteAddress: "${peer.address}", localAddress: {$absent: true}}}
""")
    actions = drive(machine, [SOCKET, {"status": "resolved", "value": {"remoteAddress": "127.0.0.1:4000"}}])
    connect, opened, end, finished = actions
    assert connect.request == {"op": "connect", "address": "127.0.0.1:4000", "options": {"allowHalfOpen": True}}
    assert opened.request == {"op": "await", "socket": "s1", "promise": "opened", "timeout_ms": 2000}
    assert isinstance(end, EndSession)
    assert end.judged
    assert finished == Finished(Outcome.PASS, "")


def test_a_mismatch_fails_naming_the_step_line_and_both_values() -> None:
    machine = interpreter("""\
        - connect: {address: "${peer.address}"}
        - await: opened
          expect: {resolves: {remoteAddress: "${peer.address}"}}
""")
    actions = drive(machine, [SOCKET, {"status": "resolved", "value": {"remoteAddress": "127.0.0.1"}}])
    finished = actions[-1]
    assert finished.outcome is Outcome.FAIL
    assert "step 2 (await, line 7)" in finished.message
    assert finished.message.endswith('value.remoteAddress: expected "127.0.0.1:4000", got "127.0.0.1"')
    assert isinstance(actions[-2], EndSession)
    assert not actions[-2].judged


def test_steps_after_a_failure_are_not_run() -> None:
    machine = interpreter("""\
        - connect: {address: "x"}
          expect: {throws: {name: TypeError}}
        - sleep: 1s
""")
    actions = drive(machine, [SOCKET])
    assert [type(a).__name__ for a in actions] == ["ClientOp", "EndSession", "Finished"]
    assert actions[-1].message.endswith("expected a synchronous throw of a TypeError, but it returned a Socket")


def test_the_default_expectation_of_a_promise_step_is_to_resolve() -> None:
    machine = interpreter("""\
        - connect: {address: "${peer.address}"}
        - write: "hi"
""")
    actions = drive(machine, [SOCKET, {"status": "rejected", "error": {"name": "TypeError", "message": "no"}}])
    assert actions[1].request["data"] == {"$type": "bytes", "b64": "aGk=", "view": "Uint8Array"}
    assert actions[-1].outcome is Outcome.FAIL
    assert "expected it to resolve, but it rejected" in actions[-1].message


def test_error_messages_match_by_regex_and_prefix() -> None:
    machine = interpreter("""\
        - connect: {address: "${peer.refused_address}"}
        - await: opened
          expect: {rejects: {name: Error, message: {$regex: "^proxy request failed"}}}
        - await: closed
          expect: {rejects: {message: {$prefix: "proxy"}}}
""")
    error = {"name": "Error", "message": "proxy request failed, cannot connect to the specified address"}
    actions = drive(machine, [SOCKET, {"status": "rejected", "error": error}, {"status": "rejected", "error": error}])
    assert actions[-1] == Finished(Outcome.PASS, "")


def test_a_pending_expectation_waits_exactly_its_duration() -> None:
    machine = interpreter("""\
        - connect: {address: "${peer.address}"}
        - await: closed
          expect: {pending: {for: 300ms}}
""")
    actions = drive(machine, [SOCKET, {"status": "pending", "promise": "p1"}])
    assert actions[1].request["timeout_ms"] == 300
    assert actions[-1].outcome is Outcome.PASS


def test_a_background_write_is_started_at_once_and_awaited_at_its_join() -> None:
    machine = interpreter("""\
        - connect: {address: "${peer.address}"}
        - write: {pattern: "ab", size: 1MiB}
          background: big
        - peer.accept: {}
        - join: big
          within: 10s
""")
    actions = drive(
        machine,
        [
            SOCKET,
            {"status": "pending", "promise": "p7"},
            ACCEPTED,
            {"status": "resolved"},
        ],
    )
    write, accept, join = actions[1], actions[2], actions[3]
    assert write.request["timeout_ms"] == 0
    assert write.request["data"] == {"$type": "pattern", "seed": "YWI=", "size": 1048576, "view": "Uint8Array"}
    assert isinstance(accept, PeerOp)
    assert isinstance(accept.call, Accept)
    assert isinstance(join, ClientOp)
    assert join.request == {"op": "await", "promise": "p7", "timeout_ms": 10000}
    assert actions[-1].outcome is Outcome.PASS


def test_a_background_peer_step_becomes_a_task_and_its_join_is_judged() -> None:
    machine = interpreter("""\
        - connect: {address: "${peer.address}"}
        - peer.accept: {}
        - peer.echo: {}
          background: echo
          expect: {size: 5}
        - join: echo
""")
    actions = drive(machine, [SOCKET, ACCEPTED, None, Echoed(length=4, ended="eof", timed_out=False)])
    assert isinstance(actions[2], StartBackground)
    assert actions[2].action.call.conn == "c1"
    assert actions[-1].outcome is Outcome.FAIL
    assert "expected 5 bytes, got 4" in actions[-1].message


def test_the_peer_distinguishes_fin_from_rst() -> None:
    machine = interpreter("""\
        - connect: {address: "${peer.address}"}
        - peer.accept: {}
        - peer.expect_eof: {}
""")
    actions = drive(machine, [SOCKET, ACCEPTED, EndSeen("reset")])
    assert "expected EOF (FIN), but saw a reset (RST)" in actions[-1].message


def test_unhandled_rejections_at_the_implicit_end_fail_the_case() -> None:
    machine = interpreter("""\
        - connect: {address: "${peer.refused_address}"}
        - sleep: 100ms
""")
    leak = {
        "status": "returned",
        "value": {"open_sockets": 0, "unhandled_rejections": [{"name": "Error", "message": "proxy request failed"}]},
    }
    actions = drive(machine, [SOCKET, None, leak])
    assert actions[-1].outcome is Outcome.FAIL
    assert "unhandled rejections" in actions[-1].message
    assert "B22" in actions[-1].message


def test_an_unsupported_op_is_the_adapters_fault() -> None:
    machine = interpreter("""\
        - connect: {address: "${peer.address}"}
        - get: upgraded
""")
    actions = drive(machine, [SOCKET, {"status": "unsupported", "reason": "no such property"}])
    assert actions[-1].outcome is Outcome.ERROR
    assert "no such property" in actions[-1].message
    assert machine.fault is Fault.ADAPTER


def test_using_a_socket_after_connect_threw_is_a_harness_error_not_a_failure() -> None:
    machine = interpreter("""\
        - connect: {address: "bad"}
          expect: {any_of: [{throws: {name: TypeError}}, {returns: socket}]}
        - await: opened
""")
    actions = drive(machine, [{"status": "threw", "error": {"name": "TypeError", "message": "x"}}])
    assert actions[-1].outcome is Outcome.ERROR
    assert "no socket exists yet" in actions[-1].message
    assert machine.fault is Fault.SPEC, "the case cannot go on as written: not the adapter's fault"


def test_any_of_reports_every_alternative_when_none_holds() -> None:
    machine = interpreter("""\
        - connect: {address: "${peer.address}"}
        - close: {}
          expect: {any_of: [{resolves: {$type: undefined}}, {rejects: {name: TypeError}}]}
""")
    actions = drive(machine, [SOCKET, {"status": "pending", "promise": "p1"}])
    assert "none of the allowed outcomes happened" in actions[-1].message
    assert actions[-1].message.count("was still pending") == 2


def test_a_timeout_reported_by_the_runner_ends_without_judging() -> None:
    machine = interpreter("""\
        - connect: {address: "${peer.address}"}
        - sleep: 10s
""")
    assert isinstance(machine.next_action(), ClientOp)
    machine.observe(parse("connect", {"seq": 1, **SOCKET}, "socket"))
    machine.next_action()
    machine.end_with(Outcome.TIMEOUT, "deadline")
    end = machine.next_action()
    assert isinstance(end, EndSession)
    assert not end.judged
    machine.observe(parse("end", {"seq": 2, **CLEAN_END}, "end"))
    assert machine.next_action() == Finished(Outcome.TIMEOUT, "deadline")


def test_peer_steps_act_on_the_connection_conn_names() -> None:
    machine = interpreter("""\
        - connect: {address: "${peer.address}"}
          as: a
        - peer.accept: {}
          as: ca
        - connect: {address: "${peer.address}"}
          as: b
        - peer.accept: {}
          as: cb
        - peer.shutdown: write
          conn: ca
        - peer.shutdown: write
""")
    observations: list[Any] = [
        SOCKET,
        Accepted(name="ca", remote_address="127.0.0.1:5000"),
        {"status": "returned", "value": {"socket": "s2"}},
        Accepted(name="cb", remote_address="127.0.0.1:5001"),
        Done(),
        Done(),
    ]
    actions = drive(machine, observations)
    assert (actions[1].call, actions[3].call) == (Accept("ca", 2.0), Accept("cb", 2.0))
    # conn picks the first connection; without it, the latest accepted one.
    assert actions[4].call == ShutdownWrite("ca")
    assert actions[5].call == ShutdownWrite("cb")
    assert actions[-1] == Finished(Outcome.PASS, "")


def test_a_conn_that_was_never_accepted_is_a_harness_error() -> None:
    machine = interpreter("""\
        - connect: {address: "${peer.address}"}
        - peer.accept: {}
          as: ca
        - peer.shutdown: write
          conn: ca
""")
    # The loader rejects a conn no peer.accept names; at run time a name that was
    # never accepted (its accept is the step that failed) still gives a clear error.
    step = machine.case.steps[2]
    machine.case = replace(machine.case, steps=(*machine.case.steps[:2], replace(step, conn="cb")))
    machine = CaseInterpreter(machine.case, dict(PEER))
    actions = drive(machine, [SOCKET, Accepted(name="ca", remote_address="127.0.0.1:5000")])
    assert actions[-1].outcome is Outcome.ERROR
    assert 'no peer connection named "cb" was accepted' in actions[-1].message


def test_connect_without_address_and_the_backpressure_and_identity_ops() -> None:
    machine = interpreter("""\
        - connect: {}
          expect: {throws: {name: TypeError}}
        - connect: {address: "${peer.address}"}
        - ready: {}
        - desired_size: {}
          expect: {returns: 16}
        - same: ["close()", closed]
          expect: {returns: true}
""")
    actions = drive(
        machine,
        [
            {"status": "threw", "error": {"name": "TypeError", "message": "no"}},
            SOCKET,
            {"status": "resolved", "value": {"$type": "undefined"}},
            {"status": "returned", "value": 16, "typeof": "number"},
            {"status": "returned", "value": False, "typeof": "boolean"},
        ],
    )
    assert actions[0].request == {"op": "connect"}
    assert actions[2].request == {"op": "ready", "socket": "s1", "timeout_ms": 2000}
    assert actions[3].request == {"op": "desired_size", "socket": "s1"}
    assert actions[4].request == {"op": "same", "socket": "s1", "a": "close()", "b": "closed"}
    assert actions[-1].outcome is Outcome.FAIL
    assert "step 5 (same" in actions[-1].message


def test_the_transcript_is_typed_entries_whose_json_reads_back_the_same() -> None:
    machine = interpreter("""\
        - connect: {address: "${peer.address}"}
        - peer.accept: {}
        - peer.shutdown: write
          background: fin
          note: half-close in the background
        - await: opened
          expect: {resolves: {remoteAddress: "${peer.address}"}}
""")
    drive(machine, [SOCKET, ACCEPTED, None, {"status": "resolved", "value": {"remoteAddress": "nope"}}])
    variables, connect, accept, shutdown, opened, end = machine.transcript
    assert variables == VariablesEntry(PEER)
    assert connect == ClientStepEntry(
        1, 6, "connect", request={"op": "connect", "address": "127.0.0.1:4000"}, observed={"seq": 1, **SOCKET},
        expected={"returns": "socket"},
    )  # fmt: skip
    assert isinstance(accept, PeerStepEntry)
    assert accept.observed == {"accepted": True, "name": "c1", "remote_address": "127.0.0.1:5000"}
    assert isinstance(shutdown, PeerStepEntry)
    assert (shutdown.background, shutdown.observed, shutdown.note) == ("fin", None, "half-close in the background")
    assert isinstance(opened, ClientStepEntry)
    assert opened.problem is not None
    assert opened.status == "resolved"
    assert end == SessionEndEntry(None, {"seq": 1, **CLEAN_END}, judged=False)
    assert machine.fault is None, "a failure is the implementation's: no fault"
    for entry in machine.transcript:
        assert entry_from_dict(entry.as_dict()) == entry
    assert opened.as_dict() == {
        "step": 4,
        "line": 11,
        "action": "await",
        "request": {"op": "await", "socket": "s1", "promise": "opened", "timeout_ms": 2000},
        "observed": {"seq": 1, "status": "resolved", "value": {"remoteAddress": "nope"}},
        "expected": {"resolves": {"remoteAddress": "127.0.0.1:4000"}},
        "problem": opened.problem,
    }


def test_an_observe_only_run_records_a_step_it_cannot_perform_as_skipped() -> None:
    case = interpreter("""\
        - connect: {address: "bad"}
          expect: {any_of: [{throws: {name: TypeError}}, {returns: socket}]}
        - await: opened
""").case
    machine = CaseInterpreter(case, dict(PEER), observe_only=True)
    drive(machine, [{"status": "threw", "error": {"name": "TypeError", "message": "x"}}])
    skipped = machine.transcript[2]
    assert skipped == SkippedStepEntry(2, 8, "await", "no socket exists yet (connect first, or did connect throw?)")
    assert skipped.as_dict()["observed"] == {"skipped": skipped.reason}
    assert entry_from_dict(skipped.as_dict()) == skipped
    assert machine.outcome is None
