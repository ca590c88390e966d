"""The files a run writes into its report folder, and the check that the folder can take them.

The check runs before any case does: a report folder that is a file,
``/dev/null``, read-only or otherwise unusable is a usage error (exit 2) at
once, not a lost report after the whole run.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path

from ..errors import UsageError
from . import junit, results, summary
from .model import RunReport

RUN_FILES = ("results.json", "junit.xml", "summary.md")


def check_folder(folder: Path, files: Sequence[str] = RUN_FILES, what: str = "report folder") -> None:
    """Make ``folder`` if needed and prove that files can be created in it; else ``UsageError``."""
    if folder.exists() and not folder.is_dir():
        raise UsageError(f"the {what} {folder} exists and is not a folder")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise UsageError(f"cannot create the {what} {folder}: {error.strerror or error}") from None
    try:
        # os.access says yes to root on a read-only file system; creating a file is the real test.
        descriptor, probe = tempfile.mkstemp(dir=folder, prefix=".write-check-")
    except OSError as error:
        raise UsageError(f"cannot write into the {what} {folder}: {error.strerror or error}") from None
    os.close(descriptor)
    with contextlib.suppress(OSError):
        os.unlink(probe)
    for name in files:
        target = folder / name
        if target.is_dir():
            raise UsageError(f"cannot write {target}: it is a folder")


def check_output_file(path: Path) -> None:
    """The same check for one file to be written (``report html -o``)."""
    if path.is_dir():
        raise UsageError(f"the output {path} is a folder; give a file name")
    check_folder(path.parent, files=(), what="output folder")


def write_reports(folder: Path, report: RunReport) -> None:
    """``results.json``, ``junit.xml`` and ``summary.md`` of ``report``: the last two are what
    ``report junit`` and ``report summary`` rebuild from the first."""
    results.write(folder / "results.json", report)
    junit.write(folder / "junit.xml", report)
    summary.write(folder / "summary.md", report)
