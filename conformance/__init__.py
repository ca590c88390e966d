"""connect-conformance: the conformance suite for ``connect()`` of ``cloudflare:sockets``.

The public Python API is what this module exports; everything else may change.
"""

__version__ = "0.1.0"

from .adapters.registry import resolve as resolve_adapter  # noqa: E402
from .errors import (  # noqa: E402
    AdapterError,
    ConformanceError,
    InfrastructureError,
    SpecError,
    SpecErrors,
    UsageError,
)
from .loader import load_strict as load_cases  # noqa: E402
from .model import Case, Step  # noqa: E402
from .outcomes import CaseResult, Outcome  # noqa: E402
from .runner import AdapterSpec, run_cases  # noqa: E402

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
