"""Every exception the harness raises is a ``ConformanceError`` (``conformance/errors.py``), so what broke
can be told from its class: the walk covers every module of the package."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import conformance
from conformance.errors import ConformanceError

#: The reference adapter is the implementation under test, not the harness: its exceptions stand for the
#: JavaScript ones it throws (and the adapter protocol carries them as replies, never as our errors).
IMPLEMENTATION = "conformance.adapters.reference"
#: The adapter kit runs in an adapter's process, on an implementation's side of the protocol: its errors are
#: the JavaScript errors an implementation raises (``JSError``, ``JSThrow``) and the kit's own refusals.
ADAPTER_SIDE = "conformance.adapter_kit"
#: Run as a program: importing it would run it.
PROGRAMS = {"conformance.__main__"}


def exception_classes() -> dict[str, type[BaseException]]:
    found: dict[str, type[BaseException]] = {}
    for module_info in pkgutil.walk_packages(conformance.__path__, "conformance."):
        name = module_info.name
        if name in PROGRAMS or any(
            name == side or name.startswith(side + ".") for side in (IMPLEMENTATION, ADAPTER_SIDE)
        ):
            continue
        module = importlib.import_module(name)
        for _, value in inspect.getmembers(module, inspect.isclass):
            if issubclass(value, BaseException) and value.__module__ == name:
                found[f"{name}.{value.__qualname__}"] = value
    return found


def test_every_exception_the_harness_raises_is_in_the_error_tree() -> None:
    classes = exception_classes()
    assert "conformance.engine.actions.SpecRuntimeError" in classes, "the walk must reach every package"
    outside = [
        name
        for name, cls in classes.items()
        # A warning category is not raised; a private class (_Full) never leaves its module.
        if not issubclass(cls, ConformanceError | Warning) and not cls.__name__.startswith("_")
    ]
    assert outside == [], "give each a place under ConformanceError (conformance/errors.py)"


def test_a_case_that_cannot_go_on_as_written_is_a_conformance_error() -> None:
    from conformance.core.substitution import UnknownVariable
    from conformance.engine.actions import SpecRuntimeError

    assert issubclass(SpecRuntimeError, ConformanceError)
    assert str(UnknownVariable("peer.adress")) == "unknown variable ${peer.adress}", "as the case writes it"
