"""The reference implementation of ``connect()``: a Python asyncio model of the documented behaviour.

Public surface: ``ReferenceAdapter`` (serves the adapter protocol in-process),
``MUTANTS`` (name -> description of each deliberately broken variant) and
``Quirks`` (the switches behind them).
"""

from __future__ import annotations

from .adapter import ReferenceAdapter
from .mutants import MUTANTS, Quirks

__all__ = ["MUTANTS", "Quirks", "ReferenceAdapter"]
