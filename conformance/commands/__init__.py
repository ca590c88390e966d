"""The commands of ``connect-conformance``, one module each."""
