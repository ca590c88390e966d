"""Reading a results.json whole for the report commands that show all of it (html, publish), and
what every reader of one needs to know about its cases (``is_not_run_here``).

A file that is missing, not UTF-8, not JSON or not a results document is a
usage error naming the file (exit 2), never a traceback. The check is the
shape these commands rely on (an object whose ``cases`` are objects with a
string ``id`` and ``outcome``); ``report validate`` and ``report compare``
check the full schema, one case at a time (``validate.check_file``). Bare
``NaN`` is accepted here (older files may hold it) but not by those two.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..core.outcomes import SkipCause
from ..core.text import plural
from ..errors import UsageError

RESULTS_FILE = "results.json"
#: How the skip of a case that needs the network sandbox begins, in files made before ``skipped_by`` existed.
SANDBOX_SKIP = "needs the network sandbox"


def results_path(path: Path) -> Path:
    """A results.json, or a report folder holding one."""
    return path / RESULTS_FILE if path.is_dir() else path


def is_not_run_here(case: dict[str, Any]) -> bool:
    """A case of a results.json skipped because the run lacked what it needs (``CaseResult.not_run_here``).

    Files made before ``skipped_by`` existed say it only in the message.
    """
    if case.get("outcome") != "skip":
        return False
    cause = case.get("skipped_by")
    if cause is not None:
        return bool(cause == SkipCause.ENVIRONMENT.value)
    message = case.get("message")
    return isinstance(message, str) and message.startswith(SANDBOX_SKIP)


def not_run_here_reason(message: str, count: int) -> str:
    """The sentence for ``count`` cases not run here with this message (its first line):
    "needs the network sandbox: run with --sandbox" gives "29 cases need the network sandbox: run with --sandbox".
    """
    if message.startswith("needs "):
        return f"{count} {'case needs' if count == 1 else 'cases need'} {message.removeprefix('needs ')}"
    return f"{plural(count, 'case')} not run here: {message or 'no reason given'}"


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
