"""What any string or number an adapter sends becomes in each report format, and how files are written.

An adapter is a third party: its error messages and values reach
``results.json``, ``junit.xml``, ``summary.md`` and the terminal unchanged,
and a JS runtime legitimately produces strings Python cannot encode as UTF-8
(a lone surrogate such as ``"\\ud800"``) and numbers JSON cannot hold (NaN).
Each format gets one rule, so a report is always written and always valid:

| format | lone surrogate | control character | NaN, Infinity |
|---|---|---|---|
| ``results.json`` | the JSON escape ``\\ud800`` (the exact string survives) | JSON's own escapes | ``{"$type": "number", "value": "NaN"}``, as in the adapter protocol |
| ``junit.xml`` | the text ``\\ud800`` | the text ``\\x01`` (XML 1.0 cannot hold it) | ``nan`` (only in messages) |
| ``summary.md``, terminal | the text ``\\ud800`` | the text ``\\x1b`` (no escape sequence reaches a terminal) | ``nan`` |

Markdown (``summary.md``, ``report compare``'s CI comment, ``reports/README.md``)
also gets every string from an implementation or a results file through
``markdown_text`` or ``markdown_code``: it renders as that text and nothing
else, never as HTML, a link, an image or the end of a table cell or code span.

Every file is written to ``NAME.part`` and renamed, so a reader never sees
half a file, and the ``.part`` file is removed if anything fails.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import re
from pathlib import Path
from typing import Any

_LONE_SURROGATE = re.compile("[\ud800-\udfff]")
# Characters XML 1.0 cannot hold (https://www.w3.org/TR/xml/#charsets), surrogates included.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
# For a terminal and Markdown: every C0/C1 control but newline and tab, DEL, surrogates,
# and the two non-characters; a carriage return or an ESC would rewrite what is on screen.
_NOT_DISPLAYABLE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")
# Inline Markdown that would not show as text: the backslash first, so ours cannot pair with the text's own.
_MARKDOWN_ESCAPED = re.compile(r"[\\`\[\]|]")
_BACKTICKS = re.compile("`+")


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def xml_text(text: str) -> str:
    """``text`` with every character XML 1.0 cannot hold written as ``\\xNN`` / ``\\uXXXX``."""
    return _NOT_XML.sub(_escape, text)


def display_text(text: str) -> str:
    """``text`` safe to print or put into Markdown: controls (but newline, tab) and surrogates escaped."""
    return _NOT_DISPLAYABLE.sub(_escape, text)


def markdown_text(text: str) -> str:
    """``text`` as literal inline Markdown (a table cell, or inside a line we write).

    ``<``, ``>`` and ``&`` become entities, so no tag, comment (``<!--``) or
    ``</details>`` is ever HTML; ``[`` and ``]`` are escaped, so no link or image
    (``[x](javascript:...)``) is made; pipes cannot end a table cell, backticks
    cannot open a code span, and a newline cannot start a heading or end a table row.
    """
    text = _MARKDOWN_ESCAPED.sub(lambda m: "\\" + m.group(), display_text(text))
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return text.replace("\n", " ")  # display_text has escaped every other line break


def markdown_code(text: str, in_table: bool = True) -> str:
    """``text`` as one Markdown code span, which shows every character as it is.

    The span is fenced by more backticks than the longest run inside it (CommonMark's rule),
    so a backtick cannot end it; in a table a pipe is ``\\|``, which GFM reads as a pipe.
    """
    text = display_text(text).replace("\n", " ")
    if in_table:
        text = text.replace("|", "\\|")
    if not text.strip():
        return "` `" if not text else "`" + text + "`"
    fence = "`" * (max((len(run) for run in _BACKTICKS.findall(text)), default=0) + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return fence + pad + text + pad + fence


def _non_finite_tag(number: float) -> dict[str, str]:
    if math.isnan(number):
        return {"$type": "number", "value": "NaN"}
    return {"$type": "number", "value": "Infinity" if number > 0 else "-Infinity"}


def strict_json_values(value: Any) -> Any:
    """``value`` with NaN and infinities replaced by their adapter-protocol tags (strict JSON has none)."""
    if isinstance(value, float) and not math.isfinite(value):
        return _non_finite_tag(value)
    if isinstance(value, dict):
        return {key: strict_json_values(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [strict_json_values(item) for item in value]
    return value


_ENCODE = json.JSONEncoder(ensure_ascii=False, allow_nan=False).encode
"""What ``json.dumps`` writes without indentation (``ensure_ascii=False``), at the C encoder's speed."""


def _strict(value: Any) -> str:
    try:
        return _ENCODE(value)
    except ValueError:  # NaN or an infinity somewhere (rare): tag them, then encode
        return _ENCODE(strict_json_values(value))


def json_text(document: Any) -> str:
    """Strict JSON (RFC 8259, what ``JSON.parse`` accepts) for any document a run can build.

    A dict is written a key per line and each item of a list it holds on a line of its own (a
    results.json: a case per line, so a diff shows which cases changed); deeper values stay on
    their line. Python's encoder indents only in pure Python, ten times slower on a whole run.
    Non-ASCII text stays readable; only lone surrogates, which UTF-8 cannot encode, become
    ``\\uXXXX`` escapes (a JSON reader gets the same string back).
    """
    if isinstance(document, dict) and document:
        entries = []
        for key, value in document.items():
            if isinstance(value, list) and value:
                items = ",\n".join(f"  {_strict(item)}" for item in value)
                entries.append(f" {_strict(str(key))}: [\n{items}\n ]")
            else:
                entries.append(f" {_strict(str(key))}: {_strict(value)}")
        text = "{\n" + ",\n".join(entries) + "\n}"
    else:
        text = _strict(document)
    return _LONE_SURROGATE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def write_atomically(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through ``path.part``; on any failure no ``.part`` file stays."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".part")
    try:
        with open(temporary, "wb") as file:
            file.write(data)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            temporary.unlink()
        raise


def write_text(path: Path, text: str) -> None:
    """``text`` as UTF-8; a string that cannot be encoded fails before any file is touched."""
    write_atomically(path, text.encode("utf-8"))
