"""Numbers as the reports show them: percentages rounded, except that 241 of 242 never shows as 100%;
counts with their noun in the right number (``1 case``, ``2 cases``).

Only a complete pass shows ``100%`` and only a complete failure ``0%``; every
other share is clamped to the nearest value in between (``99%``, ``1%``), so a
reader can trust a round number.
"""

from __future__ import annotations


def percent(part: float, whole: float, decimals: int = 0) -> str:
    """``part`` of ``whole`` as a percentage with ``decimals`` decimals (``whole`` > 0)."""
    value = 100 * part / whole
    step = 10.0**-decimals
    shown = round(value, decimals)
    if part < whole:
        shown = min(shown, 100 - step)
    if part > 0:
        shown = max(shown, step)
    return f"{shown:.{decimals}f}%"
