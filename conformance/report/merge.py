"""``report merge``: the results.json files of the shards of one run (``run --shard I/N``) as one run.

The merged run is what one unsharded run of the same selection would have
written: the same cases, in the same order (each shard records where each of
its cases stands in the whole selection), with the same outcomes and
transcripts, and a gate that adds the shards' up. Its header says it was merged
(``run.shards``: each shard, where and when it ran). ``report compare`` of the
merged file and an unsharded run finds no difference.

Files that are not the complete set of shards of one run are refused, naming
the problem (a usage error, exit 2): a file that is not a shard, shards of
different spec revisions, adapters or selections, a shard given twice or
missing, an interrupted shard, cases in two shards or in none (the jobs split
the selection differently, e.g. with different ``--durations`` files).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from ..core.jsshow import show
from ..core.outcomes import CaseResult
from ..core.text import plural
from ..errors import UsageError
from . import model
from .model import Gate, MergedShard, RunHeader, RunReport, ShardInfo

#: The adapter's facts that must agree: the shards ran the same implementation.
_ADAPTER_FACTS = ("name", "version", "runtime")
#: What the shards must have selected alike (``run.selection``; ``selected`` is each shard's own count).
_SELECTION_FACTS = ("keyword", "tags", "paths", "expectations", "peer")


class MergeError(UsageError):
    """The files are not the complete set of shards of one run: what is wrong, naming the files."""


def _shard(path: Path, report: RunReport) -> ShardInfo:
    shard = report.header.shard
    if shard is None:
        what = "a merged run already" if report.header.shards is not None else "a run without --shard"
        raise MergeError(f"{path}: not a shard: {what}")
    if report.header.interrupted:
        raise MergeError(
            f"{path}: shard {shard} was interrupted ({len(report.cases)} cases ran): run it again before merging"
        )
    if len(shard.positions) != len(report.cases):
        raise MergeError(
            f"{path}: shard {shard} records {len(shard.positions)} positions for {len(report.cases)} cases"
        )
    return shard


def _same(paths: Sequence[Path], reports: Sequence[RunReport], shards: Sequence[ShardInfo]) -> None:
    """Every file must be a shard of the same run: total, spec revision, adapter, selection."""
    first, head = paths[0], reports[0].header
    for path, report, shard in zip(paths[1:], reports[1:], shards[1:], strict=True):
        header = report.header
        if shard.total != shards[0].total:
            raise MergeError(f"{path} is shard {shard} but {first} is shard {shards[0]}: not the same split")
        if header.spec_revision != head.spec_revision:
            raise MergeError(
                f"{path} ran spec revision {header.spec_revision} but {first} ran {head.spec_revision}: "
                "shards of different spec revisions ran different cases"
            )
        for fact in _ADAPTER_FACTS:
            if header.adapter.get(fact) != head.adapter.get(fact):
                raise MergeError(
                    f"{path} ran adapter {fact} {show(header.adapter.get(fact))} but {first} ran "
                    f"{show(head.adapter.get(fact))}: shards of different adapters"
                )
        if header.adapter_spec != head.adapter_spec:
            raise MergeError(
                f"{path} ran --adapter {header.adapter_spec} but {first} ran --adapter {head.adapter_spec}: "
                "shards of different adapters"
            )
        for fact in _SELECTION_FACTS:
            if header.selection.get(fact) != head.selection.get(fact):
                raise MergeError(
                    f"{path} selected {fact} {show(header.selection.get(fact))} but {first} selected "
                    f"{show(head.selection.get(fact))}: shards of different selections"
                )
        if shard.selected != shards[0].selected:
            raise MergeError(
                f"{path} split {shard.selected} selected cases but {first} split {shards[0].selected}: "
                "shards of different selections"
            )


def _complete(paths: Sequence[Path], shards: Sequence[ShardInfo]) -> None:
    """Each shard exactly once."""
    total = shards[0].total
    seen: dict[int, Path] = {}
    for path, shard in zip(paths, shards, strict=True):
        if shard.index in seen:
            raise MergeError(f"shard {shard} is given twice: {seen[shard.index]} and {path}")
        seen[shard.index] = path
    missing = [f"{index}/{total}" for index in range(1, total + 1) if index not in seen]
    if missing:
        raise MergeError(
            f"{plural(len(missing), 'shard')} missing: {', '.join(missing)} (given: {len(paths)} of {total})"
        )


def _placed(paths: Sequence[Path], reports: Sequence[RunReport], shards: Sequence[ShardInfo]) -> list[CaseResult]:
    """The cases in the order of the whole selection; every position taken exactly once."""
    selected = shards[0].selected
    slots: list[CaseResult | None] = [None] * selected
    owner: dict[int, Path] = {}
    for path, report, shard in zip(paths, reports, shards, strict=True):
        for position, case in zip(shard.positions, report.cases, strict=True):
            if not 0 <= position < selected:
                raise MergeError(f"{path}: case {case.id} at position {position}, outside the {selected} selected")
            if position in owner:
                other = slots[position]
                raise MergeError(
                    f"case {case.id} ({path}) and case {other.id if other else '?'} ({owner[position]}) are both at "
                    f"position {position}: the shards split the selection differently (give every job the same "
                    "--durations file)"
                )
            owner[position], slots[position] = path, case
    placed = [case for case in slots if case is not None]
    if len(placed) != selected:
        raise MergeError(
            f"{plural(selected - len(placed), 'case')} of the {selected} selected are in no shard: the shards split "
            "the selection differently (give every job the same --durations file)"
        )
    ids = [case.id for case in placed]
    if len(set(ids)) != len(ids):
        twice = next(case_id for case_id in ids if ids.count(case_id) > 1)
        raise MergeError(f"case {twice} ran in two shards: the shards split the selection differently")
    return placed


def _gate(reports: Sequence[RunReport], order: dict[str, int]) -> Gate | None:
    """The shards' gates added up: an expectation is unused only when no shard used it."""
    gates = [report.gate for report in reports]
    if all(gate is None for gate in gates):
        return None
    present = [gate for gate in gates if gate is not None]

    def by_case(ids: list[str]) -> tuple[str, ...]:
        return tuple(sorted(dict.fromkeys(ids), key=lambda case_id: order.get(case_id, len(order))))

    unexpected = sorted((e for g in present for e in g.unexpected), key=lambda e: order.get(e.id, len(order)))
    ungated = sorted((e for g in present for e in g.ungated), key=lambda e: order.get(e.id, len(order)))
    unused = [case_id for case_id in present[0].unused if all(case_id in g.unused for g in present)]
    expired = by_case([case_id for g in present for case_id in g.expired])
    xfails = [g.xfail for g in present if g.xfail is not None]
    return Gate(
        ok=not unexpected and not expired,
        unexpected=tuple(unexpected),
        expected_non_pass=sum(g.expected_non_pass for g in present),
        flaky=sum(g.flaky for g in present),
        unused=tuple(unused),
        expired=expired,
        ungated=tuple(ungated),
        xfail=by_case([case_id for xfail in xfails for case_id in xfail]) if xfails else None,
    )


def merge(paths: Sequence[Path]) -> RunReport:
    """The run the shards in ``paths`` (results.json files or their folders) make together; ``MergeError``
    (or ``ResultsFileError`` for a file ``report validate`` rejects) naming the problem."""
    if not paths:
        raise MergeError("no results.json to merge")
    reports = [model.load(path) for path in paths]
    shards = [_shard(path, report) for path, report in zip(paths, reports, strict=True)]
    _same(paths, reports, shards)
    _complete(paths, shards)
    cases = _placed(paths, reports, shards)
    ordered = sorted(zip(shards, reports, strict=True), key=lambda pair: pair[0].index)
    head = ordered[0][1].header
    errors = [f"shard {shard}: {report.header.error}" for shard, report in ordered if report.header.error]
    header = RunHeader(
        adapter=head.adapter,
        adapter_spec=head.adapter_spec,
        started=min(report.header.started for _, report in ordered),
        # The shards ran at once, each on its machine: the run took as long as the slowest.
        duration_s=max(report.header.duration_s for _, report in ordered),
        workers=max(report.header.workers for _, report in ordered),
        spec_revision=head.spec_revision,
        selection={**head.selection, "selected": len(cases)},
        interrupted=False,
        error="; ".join(errors) or None,
        spec_errors=list(dict.fromkeys(e for _, report in ordered for e in report.header.spec_errors)),
        sandboxed=all(report.header.sandboxed for _, report in ordered),
        suite_version=head.suite_version,
        host=head.host,
        # Each shard started the servers its drivers cases named: together, every server the run used.
        servers={kind: version for _, report in ordered for kind, version in report.header.servers.items()},
        shards=tuple(
            MergedShard(
                index=shard.index,
                total=shard.total,
                started=report.header.started,
                duration_s=report.header.duration_s,
                workers=report.header.workers,
                hostname=str(report.header.host.get("hostname", "")),
                durations=shard.durations,
            )
            for shard, report in ordered
        ),
    )
    order = {case.id: index for index, case in enumerate(cases)}
    return RunReport(header, cases, _gate([report for _, report in ordered], order))
