"""The public Python API is small and changes only on purpose."""

import conformance


def test_the_public_names_are_exactly_these() -> None:
    assert sorted(conformance.__all__) == [
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
    for name in conformance.__all__:
        assert hasattr(conformance, name), name


def test_outcomes_are_the_five_of_the_design() -> None:
    assert [o.value for o in conformance.Outcome] == ["pass", "fail", "error", "timeout", "skip"]


def test_errors_form_one_tree() -> None:
    for error in (
        conformance.SpecError,
        conformance.SpecErrors,
        conformance.AdapterError,
        conformance.UsageError,
        conformance.InfrastructureError,
    ):
        assert issubclass(error, conformance.ConformanceError)
