"""connect-conformance: the conformance suite for ``connect()`` of ``cloudflare:sockets``.

The public Python API is what this module exports; everything else may change.
"""

__version__ = "0.1.0"

from .adapters.registry import resolve as resolve_adapter
from .errors import (
    AdapterError,
    ConformanceError,
    InfrastructureError,
    SpecError,
    SpecErrors,
    UsageError,
)
from .loader import load_strict as load_cases
from .model import Case, Step
from .outcomes import CaseResult, Outcome
from .runner import AdapterSpec, run_cases

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
