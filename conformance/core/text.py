"""Words in messages: counts that read as English."""

from __future__ import annotations


def plural(count: int, singular: str, plural_form: str | None = None) -> str:
    """``1 case``, ``2 cases``, ``0 cases``; ``plural_form`` for a word that does not just take an s (``fixes``)."""
    word = singular if count == 1 else (plural_form or singular + "s")
    return f"{count} {word}"
