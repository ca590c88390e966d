"""The suite's version: one place, importable without anything else of the package."""

__version__ = "0.1.0"
