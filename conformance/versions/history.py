"""``connect-conformance history``: the suite over many published versions of a runtime, as a timeline.

``run_history(HistoryOptions(...))`` picks the versions (``npm_versions.select``:
a list or a range, thinned with ``--every``), installs each on demand (one at a
time, with progress), then runs the suite on them, several versions at once as
memory allows (each version is a ``connect-conformance run --adapter NAME@VERSION``
subprocess with its own lanes). Each version's ``results.json`` goes to
``<out>/<family>/<version>/``; the versions tried (and why any could not run) to
``history.json``; the timeline to ``README.md`` (Markdown) and ``index.html``
(the offline HTML report, versions as columns, with the timeline view). Versions
already in the folder from earlier runs stay part of the timeline.

Several machines: ``--shard I/N`` runs one part of the chosen versions (a
deterministic split, ``cases/shards.py``), each job into its own folder;
``merge_history`` (``history --merge DIR...``) copies the jobs' version folders
into one, joins their ``history.json`` and writes the timeline of them all.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shlex
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..adapters import npm_cache, npm_versions, registry
from ..adapters.base import MAX_LANES
from ..cases.shards import Shard, pick
from ..core.jsshow import show
from ..core.text import plural
from ..errors import InfrastructureError, UsageError
from ..exitcodes import ExitCode
from ..report import results, timeline

DEFAULT_OUT = Path("reports/history")
#: A version's whole run may take this long (the full suite takes under a minute).
RUN_TIMEOUT_S = 1800
#: Never more versions at once than this, whatever memory says: the runs share the CPUs.
MAX_JOBS = 4
#: More versions to install than this (a workerd release is 65-160 MB) needs --yes.
INSTALL_WITHOUT_ASKING = 6
#: Of the memory available when the history starts, the share its runtimes may use.
MEMORY_SHARE = 0.5


@dataclass(frozen=True)
class HistoryOptions:
    family: str
    versions: str
    every: str | None = None
    paths: Sequence[Path] = ()
    keyword: str | None = None
    tags: Sequence[str] = ()
    out: Path = DEFAULT_OUT
    #: Lanes per version; ``None``: the adapter's ``-n auto``.
    lanes: int | None = None
    #: Versions at once; ``None``: as many as memory allows (at most ``MAX_JOBS``).
    jobs: int | None = None
    #: Go ahead even when many versions must be installed first.
    yes: bool = False
    #: Run only this shard of the chosen versions (``--shard I/N``).
    shard: Shard | None = None


@dataclass
class VersionOutcome:
    version: str
    status: str
    """``ran``, ``cannot run`` or ``failed`` (the run broke: the reason says how)."""
    reason: str = ""
    summary: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        item: dict[str, Any] = {"version": self.version, "status": self.status}
        if self.reason:
            item["reason"] = self.reason
        if self.summary:
            item["summary"] = self.summary
        return item


def family_entry(family: str) -> registry.Builtin:
    entry = registry.builtin(family)
    if entry is None or entry.npm_package is None:
        raise UsageError(
            f"--adapter {show(family)}: history runs the published versions of one of "
            f"{', '.join(registry.versioned_names())}"
        )
    return entry


def available_memory_mb() -> int | None:
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) // 1024
    return None


def auto_jobs(lanes: int, lane_mb: int, versions: int, memory_mb: int | None) -> int:
    """Versions at once: what half the available memory holds, at most ``MAX_JOBS`` and the version count."""
    by_memory = MAX_JOBS if memory_mb is None else int(memory_mb * MEMORY_SHARE) // max(1, lanes * lane_mb)
    return max(1, min(MAX_JOBS, by_memory, versions))


def command_line(options: HistoryOptions) -> str:
    """The command that regenerates this history (written into its README)."""
    argv = ["connect-conformance", "history", "--adapter", options.family, "--versions", options.versions]
    if options.every:
        argv += ["--every", options.every]
    if options.keyword:
        argv += ["-k", options.keyword]
    for tag in options.tags:
        argv += ["--tag", tag]
    if options.out != DEFAULT_OUT:
        argv += ["--out", str(options.out)]
    if options.shard is not None:
        argv += ["--shard", str(options.shard)]
    argv += [str(path) for path in options.paths]
    return shlex.join(argv)


def run_history(options: HistoryOptions) -> ExitCode:
    entry = family_entry(options.family)
    assert entry.npm_package is not None
    if options.lanes is not None and not 1 <= options.lanes <= MAX_LANES:
        raise UsageError(f"-n {options.lanes}: expected auto or a lane count from 1 to {MAX_LANES}")
    if options.jobs is not None and options.jobs < 1:
        raise UsageError(f"--jobs {options.jobs}: expected at least 1")
    published = npm_versions.published(entry.npm_package)
    versions = npm_versions.select(published, options.versions, options.every)
    if options.shard is not None:
        # Every job chose the same versions; each runs its part (round-robin in a stable hash order).
        everything = len(versions)
        if options.shard.total > everything:
            raise UsageError(
                f"--shard {options.shard}: only {plural(everything, 'version')} chosen; "
                f"split them into {everything} jobs at most"
            )
        versions, _ = pick(versions, versions, options.shard)
        versions = sorted(versions, key=npm_versions.semver_key)
        print(f"shard {options.shard}: {len(versions)} of {everything} versions", file=sys.stderr, flush=True)
    print(f"{options.family}: {plural(len(versions), 'version')}: {', '.join(versions)}", file=sys.stderr, flush=True)
    missing = [v for v in versions if not npm_cache.is_installed(npm_cache.version_dir(entry.npm_package, v))]
    if len(missing) > INSTALL_WITHOUT_ASKING and not options.yes:
        raise UsageError(
            f"{plural(len(missing), 'version')} of {entry.npm_package} would be installed first "
            f"(about {len(missing) * entry.install_mb / 1000:.1f} GB into {npm_cache.cache_root()}); "
            f"run again with --yes to go ahead, or choose fewer (--every 3mo, a shorter range)"
        )
    outcomes: dict[str, VersionOutcome] = {}
    lanes = options.lanes
    for version in versions:
        # Installs one at a time (their progress stays readable); the runs go in parallel.
        try:
            spec = registry.resolve(f"{options.family}@{version}")
        except InfrastructureError as error:
            outcomes[version] = VersionOutcome(version, "cannot run", str(error))
            print(f"{options.family}@{version}: cannot run: {error}", file=sys.stderr, flush=True)
            continue
        lanes = lanes or spec.default_lanes
    runnable = [v for v in versions if v not in outcomes]
    lanes = lanes or 1
    jobs = options.jobs or auto_jobs(lanes, entry.lane_mb, len(runnable), available_memory_mb())
    folder = options.out / options.family
    folder.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    print(
        f"running {plural(len(runnable), 'version')}, {jobs} at once, {plural(lanes, 'lane')} each, into {folder}/",
        file=sys.stderr,
        flush=True,
    )
    interrupted = False
    try:
        asyncio.run(_run_all(options, runnable, lanes, jobs, folder, outcomes))
    except KeyboardInterrupt:
        interrupted = True
    for version in versions:
        outcomes.setdefault(version, VersionOutcome(version, "failed", "interrupted before it ran"))
    manifest = _write_manifest(folder, options, [outcomes[v] for v in versions])
    line = timeline.load(folder)
    print(f"wrote {timeline.write_markdown(folder, line)}")
    print(f"wrote {write_html(folder, line)}")
    print(f"wrote {manifest}")
    changes = line.changes()
    ran = sum(outcome.status == "ran" for outcome in outcomes.values())
    print(
        f"{ran} of {plural(len(versions), 'version')} ran in {time.monotonic() - started:.0f} s; "
        f"{plural(len(changes), 'outcome change')} across {plural(len(line.runs), 'version')} in the timeline"
    )
    if interrupted:
        return ExitCode.INTERRUPTED
    broken = [o for o in outcomes.values() if o.status != "ran"]
    for outcome in broken:
        print(f"  {options.family}@{outcome.version}: {outcome.status}: {outcome.reason}", file=sys.stderr)
    return ExitCode.INFRASTRUCTURE if ran == 0 else ExitCode.OK


def _selection_args(options: HistoryOptions) -> list[str]:
    args: list[str] = []
    if options.keyword:
        args += ["-k", options.keyword]
    for tag in options.tags:
        args += ["--tag", tag]
    return args + [str(path) for path in options.paths]


async def _run_all(
    options: HistoryOptions,
    versions: list[str],
    lanes: int,
    jobs: int,
    folder: Path,
    outcomes: dict[str, VersionOutcome],
) -> None:
    gate = asyncio.Semaphore(jobs)
    done = 0

    async def one(version: str) -> None:
        nonlocal done
        async with gate:
            outcome = await _run_version(options, version, lanes, folder)
        outcomes[version] = outcome
        done += 1
        shown = ", ".join(f"{n} {k}" for k, n in outcome.summary.items() if n and k != "total") or outcome.reason
        print(
            f"[{done}/{len(versions)}] {options.family}@{version}: {outcome.status}: {shown} ({outcome.seconds:.1f} s)",
            file=sys.stderr,
            flush=True,
        )

    task = asyncio.current_task()
    assert task is not None
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
    try:
        await asyncio.gather(*(one(version) for version in versions))
    except asyncio.CancelledError:
        raise KeyboardInterrupt from None


async def _run_version(options: HistoryOptions, version: str, lanes: int, folder: Path) -> VersionOutcome:
    return await run_version(
        options.family, version, lanes, _selection_args(options), folder / version / "results.json"
    )


async def run_version(family: str, version: str, lanes: int, selection: Sequence[str], target: Path) -> VersionOutcome:
    """``connect-conformance run`` on ``family@version`` in a subprocess (its own sandbox), results into ``target``.

    Raw outcomes, no expectations file: a timeline records what a version did. ``selection`` is
    ``-k``/``--tag``/paths arguments; the subprocess is stopped like on Ctrl-C when this is cancelled.
    """
    scratch = Path(tempfile.mkdtemp(prefix="connect-conformance-history-"))
    clock = time.monotonic()
    argv = [
        sys.executable,
        "-m",
        "conformance",
        "run",
        "--adapter",
        f"{family}@{version}",
        "--report-dir",
        str(scratch / "report"),
        "-n",
        str(lanes),
        *selection,
    ]
    log = scratch / "output.log"
    try:
        with log.open("wb") as output:
            process = await asyncio.create_subprocess_exec(
                *argv, stdin=asyncio.subprocess.DEVNULL, stdout=output, stderr=output, start_new_session=True
            )
            try:
                async with asyncio.timeout(RUN_TIMEOUT_S):
                    code = await process.wait()
            except BaseException:
                # Interrupted or too slow: the run stops like on Ctrl-C (its lanes' runtimes with it).
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGTERM)
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(15):
                        await process.wait()
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                await process.wait()
                raise
        seconds = time.monotonic() - clock
        produced = scratch / "report" / "results.json"
        tail = _last_error(log)
        if code == ExitCode.USAGE:
            raise UsageError(f"{family}@{version}: {tail}")
        if code not in (ExitCode.OK, ExitCode.UNEXPECTED) or not produced.is_file():
            return VersionOutcome(
                version,
                "cannot run" if code == ExitCode.INFRASTRUCTURE else "failed",
                tail or f"exit {code}",
                seconds=seconds,
            )
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(produced, target)
        document = json.loads(produced.read_text(encoding="utf-8"))
        return VersionOutcome(version, "ran", summary=document.get("summary", {}), seconds=seconds)
    except TimeoutError:
        return VersionOutcome(version, "failed", f"took longer than {RUN_TIMEOUT_S} s")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _last_error(log: Path, limit: int = 400) -> str:
    """The run's last ``error:`` message with the adapter output quoted under it (stack lines left out)."""
    lines = log.read_text(encoding="utf-8", errors="replace").splitlines()
    starts = [index for index, line in enumerate(lines) if line.startswith("error: ")]
    if not starts:
        return lines[-1] if lines else ""
    block = [lines[starts[-1]].removeprefix("error: ")]
    for line in lines[starts[-1] + 1 :]:
        text = line.strip()
        if line.startswith("adapter ") or line.startswith("workerd output"):
            continue  # the heading of the quoted output
        if not line.startswith(" "):
            break  # the end of the quoted output
        if text.startswith(("stack:", "at ")) or "symboliz" in text:
            continue
        block.append(text)
    reason = " | ".join(block)
    return reason if len(reason) <= limit else reason[: limit - 3] + "..."


def merge_history(family: str, folders: Sequence[Path], out: Path = DEFAULT_OUT) -> ExitCode:
    """``history --merge``: the folders of the jobs of a split history (``--shard``) as one timeline.

    Each of ``folders`` is a job's ``--out`` folder (holding ``<family>/``) or its ``<family>/`` folder.
    Its version folders are copied into ``<out>/<family>/`` (they never collide: each version ran in one
    job; a version in two folders is a usage error), the jobs' ``history.json`` are joined (every version
    tried, every command), and README.md and index.html are written for the whole timeline.
    """
    family_entry(family)
    target = out / family
    found: dict[str, Path] = {}
    manifests: list[dict[str, Any]] = []
    for given in folders:
        folder = given / family if (given / family).is_dir() else given
        if not folder.is_dir():
            raise UsageError(f"--merge {given}: no such folder (expected a history --out folder or its {family}/)")
        for entry in sorted(folder.iterdir()):
            if npm_versions.is_version(entry.name) and (entry / "results.json").is_file():
                if entry.name in found:
                    raise UsageError(
                        f"--merge: {family}@{entry.name} is in both {found[entry.name]} and {folder}: "
                        "the jobs' versions overlap (give every job the same --versions and --shard I/N of one N)"
                    )
                found[entry.name] = folder
        if (folder / timeline.MANIFEST).is_file():
            manifests.append(json.loads((folder / timeline.MANIFEST).read_text(encoding="utf-8")))
    if not found:
        raise UsageError(f"--merge: no <version>/results.json of {family} in {', '.join(map(str, folders))}")
    target.mkdir(parents=True, exist_ok=True)
    for version, folder in found.items():
        if folder.resolve() != target.resolve():
            shutil.copytree(folder / version, target / version, dirs_exist_ok=True)
    versions: dict[str, Any] = {}
    commands: list[str] = []
    for manifest in manifests:
        versions.update({str(item["version"]): item for item in manifest.get("versions", [])})
        commands += [str(command) for command in manifest.get("commands", []) if command not in commands]
    document = {
        "family": family,
        "package": family_entry(family).npm_package,
        "commands": commands,
        "updated": datetime.now(UTC).isoformat(timespec="seconds"),
        "versions": [versions[v] for v in sorted(versions, key=npm_versions.semver_key)],
    }
    results.write_json(target / timeline.MANIFEST, document)
    line = timeline.load(target)
    print(f"merged {plural(len(found), 'version')} from {plural(len(folders), 'folder')} into {target}/")
    print(f"wrote {timeline.write_markdown(target, line)}")
    print(f"wrote {write_html(target, line)}")
    print(f"wrote {target / timeline.MANIFEST}")
    print(f"{plural(len(line.changes()), 'outcome change')} across {plural(len(line.runs), 'version')} in the timeline")
    return ExitCode.OK


def _write_manifest(folder: Path, options: HistoryOptions, outcomes: list[VersionOutcome]) -> Path:
    """``history.json``: what this history run tried; versions of earlier runs keep their entries."""
    path = folder / timeline.MANIFEST
    previous: dict[str, Any] = {}
    commands: list[str] = []
    if path.is_file():
        earlier = json.loads(path.read_text(encoding="utf-8"))
        previous = {item["version"]: item for item in earlier.get("versions", [])}
        commands = [str(command) for command in earlier.get("commands", [])]
    for outcome in outcomes:
        previous[outcome.version] = outcome.as_dict()
    command = command_line(options)
    entry = family_entry(options.family)
    document = {
        "family": options.family,
        "package": entry.npm_package,
        # Every command that added versions to this folder, in order: together they regenerate it.
        "commands": [*[c for c in commands if c != command], command],
        "updated": datetime.now(UTC).isoformat(timespec="seconds"),
        "versions": [previous[v] for v in sorted(previous, key=npm_versions.semver_key)],
    }
    results.write_json(path, document)
    return path


def write_html(folder: Path, line: timeline.Timeline) -> Path:
    from ..report import html

    paths = [folder / run.version / "results.json" for run in line.runs]
    return html.write(
        paths,
        folder / "index.html",
        names=line.versions,
        title=f"Compatibility timeline: {line.family}",
        history=[timeline.html_data(line, "")],
    )
