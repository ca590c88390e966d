"""Fuzzing ``connect-conformance validate`` with mutations of the real spec files (issue 9).

Each example takes one file of ``spec/``, applies one to four mutations
(deleted, duplicated and swapped lines, a value of another type, random
unicode and control characters, raw bytes, huge numbers, deep nesting,
anchors and aliases up to a "billion laughs") and validates it in-process.
Whatever the input, the command must exit 0 or 2, every problem it prints
must name ``file:line``, nothing may raise, and each example must stay within
5 s of CPU time (the slowest of the 60 seeded examples takes 0.24 s) and 300 MB of allocations.

The normal test run uses a fixed seed and a small number of examples. A
longer run (a few minutes; any failure is printed with the input that caused
it)::

    CONNECT_CONFORMANCE_FUZZ_EXAMPLES=3000 CONNECT_CONFORMANCE_FUZZ_RANDOM=1 python -m pytest tests/fuzz -p no:xdist
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import time
import tracemalloc
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conformance import cli
from tests.helpers import REPO

EXAMPLES = int(os.environ.get("CONNECT_CONFORMANCE_FUZZ_EXAMPLES", "60"))
RANDOM = os.environ.get("CONNECT_CONFORMANCE_FUZZ_RANDOM", "") == "1"
SPEC_FILES = sorted((REPO / "spec").rglob("*.yaml"))
#: CPU seconds of one validate: a busy machine barely inflates them, an exponential blow-up does.
TIME_LIMIT_S = 5.0
# What validate allocates (tracemalloc): the process itself may already be large in a test worker.
MEMORY_LIMIT_BYTES = 300 * 1024 * 1024

SCALARS = st.sampled_from(
    [
        "[]",
        "{}",
        "null",
        "~",
        "true",
        "on",
        "42",
        "-0",
        "1e999",
        ".nan",
        "0x1F",
        "2027-02-30",
        "2027-06-30",
        '"${peer.address}"',
        '"${nope}"',
        "{$regex: '('}",
        "[1, [2, [3]]]",
        "{n: lots}",
        "*undefined",
        "!!binary AAAA",
        "!!python/object:os.system x",
        "!!set {a, b}",
        "? [1]\n  : 2",
    ]
)


@st.composite
def mutated(draw: st.DrawFn) -> tuple[str, bytes]:
    path = draw(st.sampled_from(SPEC_FILES))
    lines = path.read_text(encoding="utf-8").split("\n")
    raw_tail = b""
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(
            st.sampled_from(
                ["delete", "duplicate", "swap", "retype", "unicode", "bytes", "number", "nesting", "alias", "bomb"]
            )
        )
        at = draw(st.integers(0, max(0, len(lines) - 1)))
        if kind == "delete" and lines:
            del lines[at]
        elif kind == "duplicate" and lines:
            lines.insert(at, lines[at])
        elif kind == "swap" and lines:
            other = draw(st.integers(0, len(lines) - 1))
            lines[at], lines[other] = lines[other], lines[at]
        elif kind == "retype" and lines:
            key, colon, _ = lines[at].partition(": ")
            lines[at] = f"{key}{colon or ': '}{draw(SCALARS)}"
        elif kind == "unicode" and lines:
            text = draw(st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=20))
            column = draw(st.integers(0, len(lines[at])))
            lines[at] = lines[at][:column] + text + lines[at][column:]
        elif kind == "bytes":
            raw_tail += draw(st.binary(min_size=1, max_size=20))
        elif kind == "number" and lines:
            digits = "9" * draw(st.sampled_from([20, 99, 101, 4301, 6000]))
            key, _, _ = lines[at].partition(": ")
            lines[at] = f"{key}: {draw(st.sampled_from(['', '-', '0x']))}{digits}"
        elif kind == "nesting":
            depth = draw(st.sampled_from([10, 63, 65, 300, 3000]))
            closed = draw(st.booleans())
            lines.insert(at, "- " + "[" * depth + ("]" * depth if closed else ""))
        elif kind == "alias" and lines:
            key, _, value = lines[at].partition(": ")
            lines[at] = f"{key}: &fuzz {value or 'x'}"
            lines.insert(draw(st.integers(0, len(lines))), f"{key}: *fuzz")
        elif kind == "bomb":
            levels = draw(st.integers(2, 10))
            bomb = ["- &b0 [x, x, x, x, x, x, x, x, x]"]
            bomb += [f"- &b{n} [" + ", ".join([f"*b{n - 1}"] * 9) + "]" for n in range(1, levels)]
            lines[at:at] = bomb
    data = "\n".join(lines).encode("utf-8", "surrogatepass") + raw_tail
    return path.parent.name, data


def validate(path: Path) -> tuple[int, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = cli.main(["validate", str(path)])
    return code, err.getvalue()


@settings(
    max_examples=EXAMPLES,
    derandomize=not RANDOM,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(mutated())
def test_validate_of_a_mutated_spec_file_exits_0_or_2_with_file_and_line(
    tmp_path_factory: pytest.TempPathFactory, example: tuple[str, bytes]
) -> None:
    area, data = example
    folder = tmp_path_factory.getbasetemp() / "fuzz" / "spec" / area
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "mutated.yaml"
    path.write_bytes(data)
    tracemalloc.start()
    started = time.process_time()
    try:
        code, stderr = validate(path)
        elapsed = time.process_time() - started
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert code in (0, 2), stderr
    assert elapsed < TIME_LIMIT_S, f"validate took {elapsed:.1f} s of CPU"
    problems = [line for line in stderr.splitlines() if not re.match(r"^\d+ problems? in ", line)]
    if code == 2:
        assert problems, "exit 2 without a problem printed"
    for line in problems:
        assert re.match(rf"^{re.escape(str(path))}:\d+: ", line), f"no file:line in {line!r}"
    assert peak < MEMORY_LIMIT_BYTES, f"validate allocated {peak / 2**20:.0f} MiB"
