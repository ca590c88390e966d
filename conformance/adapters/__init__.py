"""Adapters: how the harness reaches each implementation."""
