"""Reading a results.json for the report commands (html, compare, publish).

A file that is missing, not UTF-8, not JSON or not a results document is a
usage error naming the file (exit 2), never a traceback: for ``compare`` an
exit 1 would read as "regression". The check is the shape these commands
rely on (an object whose ``cases`` are objects with a string ``id`` and
``outcome``); ``report validate`` checks the full schema. Bare ``NaN`` is
accepted here (older files may hold it) but not by ``report validate``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..errors import UsageError

RESULTS_FILE = "results.json"


def results_path(path: Path) -> Path:
    """A results.json, or a report folder holding one."""
    return path / RESULTS_FILE if path.is_dir() else path


def shape_problem(document: Any) -> str | None:
    """Why ``document`` is not a results document these commands can read, or None."""
    if not isinstance(document, dict):
        return f"expected a JSON object, got {type(document).__name__}"
    cases = document.get("cases")
    if not isinstance(cases, list):
        return "no 'cases' list"
    for index, case in enumerate(cases):
        if not isinstance(case, dict):
            return f"cases[{index}] is {type(case).__name__}, not an object"
        for key in ("id", "outcome"):
            if not isinstance(case.get(key), str):
                return f"cases[{index}].{key} is missing or not a string"
    if not isinstance(document.get("run", {}), dict):
        return "'run' is not an object"
    return None


def load_results(path: Path) -> dict[str, Any]:
    """The results document at ``path`` (a file or a report folder), or ``UsageError`` naming it."""
    path = results_path(path)
    try:
        text = path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        raise UsageError(f"{path}: no such results file") from None
    except OSError as error:
        raise UsageError(f"{path}: cannot read: {error.strerror or error}") from None
    except UnicodeDecodeError as error:
        raise UsageError(f"{path}: not a results.json file (not UTF-8: {error.reason} at byte {error.start})") from None
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        raise UsageError(f"{path}:{error.lineno}: not a results.json file (not JSON: {error.msg})") from None
    except RecursionError:
        raise UsageError(f"{path}: not a results.json file (nested too deeply)") from None
    problem = shape_problem(document)
    if problem is not None:
        raise UsageError(f"{path}: not a results.json file ({problem})")
    loaded: dict[str, Any] = document
    return loaded
