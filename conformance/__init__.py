"""connect-conformance: the conformance suite for ``connect()`` of ``cloudflare:sockets``.

The public Python API is what this module exports; everything else may change.
Importing the package imports nothing else of it: each name loads its module on
first use (PEP 562), so ``import conformance`` (and the pytest plugin, which
pytest loads in every run where the package is installed) stays cheap.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ._version import __version__

if TYPE_CHECKING:
    from .adapters.base import AdapterSpec
    from .adapters.registry import resolve as resolve_adapter
    from .cases.loader import load_strict as load_cases
    from .core.model import Case, Step
    from .core.outcomes import CaseResult, Outcome
    from .errors import AdapterError, ConformanceError, InfrastructureError, SpecError, SpecErrors, UsageError
    from .execution.runner import run_cases

#: Public name -> (module, attribute).
_EXPORTS = {
    "AdapterError": ("conformance.errors", "AdapterError"),
    "AdapterSpec": ("conformance.adapters.base", "AdapterSpec"),
    "Case": ("conformance.core.model", "Case"),
    "CaseResult": ("conformance.core.outcomes", "CaseResult"),
    "ConformanceError": ("conformance.errors", "ConformanceError"),
    "InfrastructureError": ("conformance.errors", "InfrastructureError"),
    "Outcome": ("conformance.core.outcomes", "Outcome"),
    "SpecError": ("conformance.errors", "SpecError"),
    "SpecErrors": ("conformance.errors", "SpecErrors"),
    "Step": ("conformance.core.model", "Step"),
    "UsageError": ("conformance.errors", "UsageError"),
    "load_cases": ("conformance.cases.loader", "load_strict"),
    "resolve_adapter": ("conformance.adapters.registry", "resolve"),
    "run_cases": ("conformance.execution.runner", "run_cases"),
}

__all__ = [
    "AdapterError",
    "AdapterSpec",
    "Case",
    "CaseResult",
    "ConformanceError",
    "InfrastructureError",
    "Outcome",
    "SpecError",
    "SpecErrors",
    "Step",
    "UsageError",
    "__version__",
    "load_cases",
    "resolve_adapter",
    "run_cases",
]


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'conformance' has no attribute {name!r}")
    module, attribute = _EXPORTS[name]
    value = getattr(importlib.import_module(module), attribute)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
