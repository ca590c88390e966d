"""Print line coverage per package (and for the modules the issue tracker asks about) from a combined .coverage.

Used by ``tox -e coverage`` after ``coverage combine``; reads the data through coverage's API.
"""

from __future__ import annotations

import sys
from collections import defaultdict
from pathlib import Path

import coverage

REPO = Path(__file__).resolve().parent.parent
#: Modules that run mostly in subprocesses of the tests: their figures show that subprocesses were measured.
WATCHED = (
    "conformance/cli.py",
    "conformance/execution/suite.py",
    "conformance/execution/runner.py",
    "conformance/report/commands.py",
)


def main() -> int:
    data = coverage.Coverage(data_file=str(REPO / ".coverage"))
    data.load()
    totals: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    per_file: dict[str, tuple[int, int]] = {}
    for filename in data.get_data().measured_files():
        path = Path(filename)
        try:
            relative = path.resolve().relative_to(REPO).as_posix()
        except ValueError:
            continue
        _, statements, _, missing, _ = data.analysis2(filename)
        covered = len(statements) - len(missing)
        per_file[relative] = (covered, len(statements))
        package = relative.rsplit("/", 1)[0]
        totals[package][0] += covered
        totals[package][1] += len(statements)
    if not totals:
        print("no coverage data: did `coverage run` and `coverage combine` run?", file=sys.stderr)
        return 1
    width = max(len(name) for name in totals)
    print(f"{'package'.ljust(width)}  lines  covered")
    for package in sorted(totals):
        covered, lines = totals[package]
        print(f"{package.ljust(width)}  {lines:5}  {100 * covered / max(lines, 1):6.1f}%")
    all_covered = sum(c for c, _ in totals.values())
    all_lines = sum(n for _, n in totals.values())
    print(f"{'total'.ljust(width)}  {all_lines:5}  {100 * all_covered / max(all_lines, 1):6.1f}%")
    print()
    for name in WATCHED:
        covered, lines = per_file.get(name, (0, 0))
        print(f"{name.ljust(width)}  {lines:5}  {100 * covered / max(lines, 1):6.1f}%")
    return 0


if __name__ == "__main__":
    sys.exit(main())
