"""SVG badges, generated offline: one per implementation, its must-level pass rate."""

from __future__ import annotations

from pathlib import Path
from xml.sax.saxutils import escape

from .numbers import percent

#: Rough advance of an 11px Verdana glyph; badges need not be typeset exactly.
CHAR_WIDTH = 7
PADDING = 10


def colour(rate: float) -> str:
    if rate >= 0.999:
        return "#4c1"
    if rate >= 0.9:
        return "#97ca00"
    if rate >= 0.75:
        return "#dfb317"
    if rate >= 0.5:
        return "#fe7d37"
    return "#e05d44"


def svg(label: str, passed: int, total: int) -> str:
    rate = passed / total if total else 0.0
    value = f"{percent(passed, total)} must ({passed}/{total})" if total else "no cases"
    left = len(label) * CHAR_WIDTH + PADDING
    right = len(value) * CHAR_WIDTH + PADDING
    width = left + right
    label_text, value_text = escape(label), escape(value)
    return f"""<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="20" role="img" aria-label="{label_text}: {value_text}">
<title>{label_text}: {value_text}</title>
<rect width="{left}" height="20" fill="#555"/>
<rect x="{left}" width="{right}" height="20" fill="{colour(rate)}"/>
<g fill="#fff" text-anchor="middle" font-family="Verdana,DejaVu Sans,sans-serif" font-size="11">
<text x="{left / 2}" y="14">{label_text}</text>
<text x="{left + right / 2}" y="14">{value_text}</text>
</g>
</svg>
"""


def write(directory: Path, name: str, passed: int, total: int) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / f"{name}.svg"
    target.write_text(svg(f"connect() {name}", passed, total), encoding="utf-8")
    return target
