"""``report validate``: is a file a results.json this suite could have written?

The JSON Schema (``schema/results.schema.json``) checks the shape; a few
rules it cannot express are checked here: the summary adds up, case ids are
unique.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import jsonschema

from .. import schema


def problems(document: Any) -> list[str]:
    root = schema.load("results.schema.json")
    validator = jsonschema.validators.validator_for(root)(root, format_checker=jsonschema.FormatChecker())
    found = []
    for error in sorted(validator.iter_errors(document), key=lambda e: list(map(str, e.absolute_path))):
        where = "/".join(str(part) for part in error.absolute_path) or "(top level)"
        found.append(f"{where}: {error.message}")
    if found:
        return found
    counts = Counter(case["outcome"] for case in document["cases"])
    summary = document["summary"]
    for outcome, number in summary.items():
        expected = len(document["cases"]) if outcome == "total" else counts.get(outcome, 0)
        if number != expected:
            found.append(f"summary/{outcome}: says {number}, but the cases hold {expected}")
    duplicates = [case_id for case_id, n in Counter(c["id"] for c in document["cases"]).items() if n > 1]
    found.extend(f"cases: id {case_id!r} appears more than once" for case_id in duplicates)
    return found


def _reject_constant(name: str) -> Any:
    # Python's json reads NaN and Infinity; strict JSON (and Node's JSON.parse) does not.
    raise ValueError(f'bare {name} is not JSON (a results.json writes it as {{"$type": "number", ...}})')


def validate_file(path: Path) -> list[str]:
    try:
        document = json.loads(path.read_bytes().decode("utf-8"), parse_constant=_reject_constant)
    except OSError as error:
        return [f"cannot read: {error}"]
    except UnicodeDecodeError as error:
        return [f"not UTF-8: {error.reason} at byte {error.start}"]
    except RecursionError:
        return ["not JSON: nested too deeply"]
    except ValueError as error:
        return [f"not JSON: {error}"]
    return problems(document)
