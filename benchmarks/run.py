"""Performance figures of the harness, printed in one run (compare ratios: machines are noisy).

- whole ``connect-conformance`` processes, start to exit: the reference suite
  with ``-n 1``, ``-n 2`` and the default ``-n auto``; workerd with ``-n 2`` and
  ``-n auto``; ``mutants`` (every mutant);
- the import time of ``conformance.pytest_plugin`` (which pytest loads in every
  run where the package is installed) next to bare ``pytest``'s;
- one protocol round trip (a write and its echo through the reference
  adapter, JSON and schema checks included) versus the same round trip on raw
  asyncio streams;
- 64 MiB echo throughput through the reference versus raw asyncio loopback;
- ``validate`` (whole process) of a spec file just under the size limit, and of
  hostile files (an alias bomb, a 5000-digit integer), which the tests bound only
  in CPU time, ten times over (tests/README.md).

and for the real runtimes (skip with --skip-runtimes):

- workerd start-up time (spawn to the first hello answered), median of 5;
- median per-case time on workerd and on node-socket versus the reference;
- full-suite wall time on workerd with 1 and 2 lanes.

Goals: the reference suite with ``-n auto`` under 4 s and workerd under 6 s
(whole process); the plugin's import under 50 ms more than bare pytest's;
mutants under 60 s; round-trip overhead under 3x raw; bulk throughput at least
half of raw; ``validate`` of a file just under the size limit under 5 s, of a
hostile file under 1 s.

Usage: python benchmarks/run.py [--round-trips N] [--megabytes M] [--skip-suite] [--skip-runtimes]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from conformance.adapters import npm_cache, registry
from conformance.adapters.reference import ReferenceAdapter
from conformance.cases import loader, yamlsource
from conformance.core.certificates import RunCertificates
from conformance.core.outcomes import CaseResult
from conformance.execution.runner import run_cases
from conformance.protocol.client import AdapterClient
from conformance.protocol.transports import InProcessTransport

REPO = Path(__file__).resolve().parent.parent
PAYLOAD = b"x" * 64
CHUNK = 64 * 1024


async def _echo_server() -> tuple[asyncio.Server, int]:
    async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(CHUNK * 4):
                writer.write(data)
                await writer.drain()
        finally:
            writer.close()

    server = await asyncio.start_server(echo, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1]


async def raw_round_trips(port: int, count: int) -> list[float]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    times = []
    for _ in range(count):
        started = time.perf_counter()
        writer.write(PAYLOAD)
        await writer.drain()
        await reader.readexactly(len(PAYLOAD))
        times.append(time.perf_counter() - started)
    writer.close()
    await writer.wait_closed()
    return times


async def _reference_client(port: int) -> AdapterClient:
    client = AdapterClient(lambda: InProcessTransport(ReferenceAdapter))
    await client.start()
    await client.call({"op": "begin", "case": "benchmark"})
    reply = await client.call({"op": "connect", "address": f"127.0.0.1:{port}"})
    await client.call({"op": "await", "socket": reply.typed, "promise": "opened", "timeout_ms": 5000})
    return client


async def reference_round_trips(port: int, count: int) -> list[float]:
    client = await _reference_client(port)
    data = {"$type": "bytes", "b64": base64.b64encode(PAYLOAD).decode(), "view": "Uint8Array"}
    times = []
    for _ in range(count):
        started = time.perf_counter()
        await client.call({"op": "write", "socket": "s1", "data": data, "timeout_ms": 5000})
        reply = await client.call({"op": "read_bytes", "socket": "s1", "n": len(PAYLOAD), "timeout_ms": 5000})
        times.append(time.perf_counter() - started)
        assert reply.typed.length == len(PAYLOAD), reply
    await client.call({"op": "end", "timeout_ms": 2000})
    await client.close()
    return times


async def raw_throughput(port: int, size: int) -> float:
    reader, writer = await asyncio.open_connection("127.0.0.1", port, limit=CHUNK * 4)
    block = b"y" * CHUNK
    started = time.perf_counter()

    async def send() -> None:
        for _ in range(size // CHUNK):
            writer.write(block)
            await writer.drain()

    async def receive() -> None:
        remaining = size
        while remaining:
            remaining -= len(await reader.read(min(remaining, CHUNK * 4)))

    await asyncio.gather(send(), receive())
    elapsed = time.perf_counter() - started
    writer.close()
    await writer.wait_closed()
    return size / elapsed


async def reference_throughput(port: int, size: int) -> float:
    client = await _reference_client(port)
    started = time.perf_counter()
    pattern = {"$type": "pattern", "seed": "eQ==", "size": size, "view": "Uint8Array"}
    write = await client.call({"op": "write", "socket": "s1", "data": pattern, "timeout_ms": 0})
    reply = await client.call({"op": "read_bytes", "socket": "s1", "n": size, "digest": True, "timeout_ms": 120000})
    if write.status == "pending":
        await client.call({"op": "await", "promise": write.promise, "timeout_ms": 120000})
    elapsed = time.perf_counter() - started
    assert reply.typed.length == size, reply
    await client.call({"op": "end", "timeout_ms": 2000})
    await client.close()
    return size / elapsed


def whole_run(*args: str, cache: str | None = None) -> tuple[float, int]:
    """Wall time of one ``connect-conformance`` process, start to exit, and its exit code; ``cache``:
    another ``CONNECT_CONFORMANCE_CACHE`` (spec cache, durations, mutants' catchers)."""
    env = {**os.environ, "CONNECT_CONFORMANCE_CACHE": cache} if cache else None
    with tempfile.TemporaryDirectory() as folder:
        started = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-m", "conformance", *args, *(["--report-dir", folder] if args[0] == "run" else [])],
            cwd=REPO,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=900,
            check=False,
            env=env,
        )
        return time.perf_counter() - started, done.returncode


CASE = """\
- id: lifecycle.{name}
  title: A case
  level: must
  source: [B16]
  peer: none
  steps:
    - sleep: {sleep}
"""


def validate_files(folder: Path) -> dict[str, Path]:
    """The files ``validate`` is timed on: the largest valid one allowed, and two hostile ones."""
    area = folder / "spec" / "lifecycle"
    area.mkdir(parents=True)
    text, count = "", 0
    while len(text) < yamlsource.MAX_FILE_BYTES - 200:
        text += CASE.format(name=f"c{count}", sleep="10ms")
        count += 1
    bomb = ["- &b0 [x, x, x, x, x, x, x, x, x]"]
    bomb += [f"- &b{n} [" + ", ".join([f"*b{n - 1}"] * 9) + "]" for n in range(1, 9)]
    files = {
        f"a valid file of {len(text) // 1024} KiB ({count} cases)": text,
        "an alias bomb (9^9 nodes)": "\n".join(bomb) + "\n",
        "a 5000-digit integer": CASE.format(name="big", sleep="9" * 5000),
    }
    paths = {}
    for number, (label, content) in enumerate(files.items()):
        paths[label] = area / f"file{number}.yaml"
        paths[label].write_text(content, encoding="utf-8")
    return paths


def validate_figures() -> None:
    print("validate, whole process, start to exit (median of 3):")
    with tempfile.TemporaryDirectory() as folder:
        for label, path in validate_files(Path(folder)).items():
            times = []
            for _ in range(3):
                started = time.perf_counter()
                done = subprocess.run(
                    [sys.executable, "-m", "conformance", "validate", str(path)],
                    cwd=REPO,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                    timeout=300,
                    check=False,
                )
                times.append(time.perf_counter() - started)
            print(f"  {label}: {statistics.median(times):6.2f} s  (exit {done.returncode})")
    print("  goal: the valid file under 5 s, each hostile file under 1 s")


def import_times(rounds: int) -> tuple[float, float]:
    """Median import time of bare pytest and of pytest plus the plugin, in fresh interpreters, alternated."""
    bare: list[float] = []
    plugin: list[float] = []
    for _ in range(rounds):
        for statement, into in (("import pytest", bare), ("import pytest, conformance.pytest_plugin", plugin)):
            started = time.perf_counter()
            subprocess.run([sys.executable, "-c", statement], cwd=REPO, check=True)
            into.append(time.perf_counter() - started)
    return statistics.median(bare), statistics.median(plugin)


def connect_areas() -> tuple[str, ...]:
    """The areas of ``connect()`` itself: every folder of spec/ but ``drivers`` (real client libraries
    against real servers, timed on their own below: the goals were set for ``connect()``)."""
    return tuple(
        f"spec/{folder.name}"
        for folder in sorted((REPO / "spec").iterdir())
        if folder.is_dir() and folder.name != "drivers"
    )


def process_figures(runtimes: bool) -> None:
    print("whole process, start to exit (python -m conformance ...), the connect() areas (spec/ but drivers):")
    areas = connect_areas()
    for label, args in [
        ("reference, -n 1   ", ("run", *areas, "-n", "1")),
        ("reference, -n 2   ", ("run", *areas, "-n", "2")),
        ("reference, -n auto", ("run", *areas)),
    ]:
        elapsed, code = whole_run(*args)
        print(f"  suite on {label}: {elapsed:6.2f} s  (exit {code})")
    print("  goal: -n auto under 4 s on the reference")
    if runtimes:
        expectations = str(REPO / "expectations" / "workerd.yaml")
        for label, args in [
            ("workerd,   -n 2   ", ("run", *areas, "--adapter", "workerd", "-n", "2", "--expectations", expectations)),
            ("workerd,   -n auto", ("run", *areas, "--adapter", "workerd", "--expectations", expectations)),
        ]:
            elapsed, code = whole_run(*args)
            print(f"  suite on {label}: {elapsed:6.2f} s  (exit {code})")
        print("  goal: -n auto under 6 s on workerd")
        elapsed, code = whole_run("run", "spec/drivers", "--adapter", "workerd", "--expectations", expectations)
        print(f"  drivers area on workerd, -n auto: {elapsed:6.2f} s  (exit {code}; real servers started by the run)")
    with tempfile.TemporaryDirectory() as cache:
        # A cache of its own: the first run knows no catching case (a fresh machine, CI), the second does.
        for label in ("first run, empty cache", "next run"):
            elapsed, code = whole_run("mutants", cache=cache)
            print(f"  mutants (every mutant, -n auto), {label}: {elapsed:6.2f} s  (exit {code}; goal under 60 s)")
    elapsed, code = whole_run("mutants")
    print(f"  mutants (every mutant, -n auto), this machine's cache: {elapsed:6.2f} s  (exit {code})")
    bare, plugin = import_times(15)
    print(
        f"import time, fresh interpreter (median of 15): pytest {bare * 1000:.0f} ms, pytest + conformance.pytest_plugin"
        f" {plugin * 1000:.0f} ms: +{(plugin - bare) * 1000:.0f} ms (goal: under +50 ms)"
    )


def suite_run(adapter: str, workers: int) -> tuple[float, list[CaseResult]]:
    cases = loader.load_strict([REPO / "spec"])
    spec = registry.resolve(adapter)  # installs npm packages first, outside the timing
    started = time.perf_counter()
    _, results = asyncio.run(run_cases(cases, spec, workers=workers))
    return time.perf_counter() - started, results


def counts(results: list[CaseResult]) -> dict[str, int]:
    found: dict[str, int] = {}
    for result in results:
        found[result.outcome.value] = found.get(result.outcome.value, 0) + 1
    return found


def median_case_ms(results: list[CaseResult]) -> float:
    return statistics.median(result.duration_ms for result in results)


async def workerd_startups(times: int) -> list[float]:
    from conformance.adapters.workerd import WorkerdRuntime, WorkerdTransport

    runtime = WorkerdRuntime.from_node_modules(npm_cache.ensure("workerd"))
    found = []
    with RunCertificates() as certificates:
        for _ in range(times):
            transport = WorkerdTransport(runtime, certificates.ca_pem)
            try:
                await transport.open()
                assert transport.startup_s is not None
                found.append(transport.startup_s)
            finally:
                await transport.close()
    return found


def runtime_figures() -> None:
    startups = asyncio.run(workerd_startups(5))
    print(
        f"workerd start-up (spawn to first hello): median {statistics.median(startups) * 1000:.0f} ms"
        f" (min {min(startups) * 1000:.0f}, max {max(startups) * 1000:.0f}; once per worker lane per run)"
    )
    reference_s, reference = suite_run("reference", 1)
    workerd_1_s, workerd_1 = suite_run("workerd", 1)
    workerd_2_s, workerd_2 = suite_run("workerd", 2)
    node_s, node = suite_run("node-socket", 2)
    base = median_case_ms(reference)
    print(
        f"median per case, 1 lane: reference {base:.1f} ms, workerd {median_case_ms(workerd_1):.1f} ms"
        f" ({median_case_ms(workerd_1) / base:.1f}x)"
    )
    print(
        f"median per case, node-socket (2 lanes): {median_case_ms(node):.1f} ms"
        f" ({median_case_ms(node) / base:.1f}x the reference's); its whole suite took {node_s:.1f} s {counts(node)}"
    )
    print(f"full suite on workerd, 1 lane:  {workerd_1_s:6.2f} s  {counts(workerd_1)}")
    print(f"full suite on workerd, 2 lanes: {workerd_2_s:6.2f} s  {counts(workerd_2)}")
    print(f"(the reference, 1 lane, in the same run: {reference_s:.2f} s)")


async def adapter_figures(round_trips: int, size: int) -> dict[str, float]:
    server, port = await _echo_server()
    try:
        await raw_round_trips(port, 50)  # warm-up
        await reference_round_trips(port, 50)
        # Alternate blocks of both, so background load hits them alike.
        raw_times: list[float] = []
        ref_times: list[float] = []
        block = max(1, round_trips // 10)
        for _ in range(10):
            raw_times += await raw_round_trips(port, block)
            ref_times += await reference_round_trips(port, block)
        raw = statistics.median(raw_times)
        ref = statistics.median(ref_times)
        raw_bps = await raw_throughput(port, size)
        ref_bps = await reference_throughput(port, size)
    finally:
        server.close()
        await server.wait_closed()
    return {"raw_rt": raw, "ref_rt": ref, "raw_bps": raw_bps, "ref_bps": ref_bps}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--round-trips", type=int, default=2000)
    parser.add_argument("--megabytes", type=int, default=64)
    parser.add_argument("--skip-suite", action="store_true")
    parser.add_argument("--skip-runtimes", action="store_true", help="leave out workerd and node-socket")
    args = parser.parse_args()
    if not args.skip_suite:
        process_figures(runtimes=not args.skip_runtimes)
    validate_figures()
    figures = asyncio.run(adapter_figures(args.round_trips, args.megabytes * 1024 * 1024))
    ratio_rt = figures["ref_rt"] / figures["raw_rt"]
    print(
        f"round trip, raw asyncio:       {figures['raw_rt'] * 1e6:8.1f} us (median of {args.round_trips},"
        " in blocks alternating with the adapter's)"
    )
    print(f"round trip, reference adapter: {figures['ref_rt'] * 1e6:8.1f} us  -> {ratio_rt:.2f}x raw (goal < 3x)")
    ratio_bps = figures["ref_bps"] / figures["raw_bps"]
    print(f"{args.megabytes} MiB echo, raw asyncio:       {figures['raw_bps'] / 2**20:8.1f} MiB/s")
    print(
        f"{args.megabytes} MiB echo, reference adapter: {figures['ref_bps'] / 2**20:8.1f} MiB/s"
        f"  -> {ratio_bps:.2f} of raw (goal >= 0.5)"
    )
    if not args.skip_runtimes:
        runtime_figures()


if __name__ == "__main__":
    main()
