"""The files a run writes into its report folder, and the check that the folder can take them.

The check runs before any case does: a report folder that is a file,
``/dev/null``, read-only or otherwise unusable is a usage error (exit 2) at
once, not a lost report after the whole run.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Collection, Sequence
from pathlib import Path

from .._version import __version__
from ..core.outcomes import CaseResult
from ..errors import UsageError
from . import junit, links, results, summary
from .output import markdown_code, markdown_text, write_text

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


def write_reports(
    folder: Path,
    header: results.RunHeader,
    done: Sequence[CaseResult],
    gate: dict[str, object] | None,
    expected: Collection[str] | None = None,
) -> None:
    """``results.json``, ``junit.xml`` and ``summary.md``; ``expected`` ids show as xfail in the summary."""
    results.write_json(folder / "results.json", results.results_document(header, done, gate))
    junit.write_junit(folder / "junit.xml", f"connect-conformance: {header.adapter_spec}", done, header.duration_s)
    # The adapter's spec and runtime are the implementation's words: Markdown-escaped (output.markdown_text).
    runtime = markdown_text(str(header.adapter.get("runtime", "?")))
    notes = [
        f"Adapter {markdown_code(header.adapter_spec, in_table=False)} ({runtime}), suite {__version__}, "
        f"spec revision `{header.spec_revision}`, run on {header.started[:10]}, {header.duration_s:.1f} s."
    ]
    notes.append(
        "Run inside the network sandbox (docs/sandbox.md)."
        if header.sandboxed
        else "Run outside the network sandbox: the cases that need it were not run here."
    )
    if header.interrupted:
        notes.append("**Interrupted**: partial results.")
    cited = {source for result in done for source in result.source}
    page = summary.markdown("connect-conformance results", done, notes, expected, links.source_links(cited, folder))
    write_text(folder / "summary.md", page)
