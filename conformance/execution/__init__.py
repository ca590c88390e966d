"""Running cases: the I/O around the pure engine.

``runner`` (lanes, the peer session per case, deadlines, restarts of a broken adapter),
``suite`` (one run as ``run`` does it: progress, gate, reports, exit code), ``progress`` (what a run
prints while it goes), ``expectations`` (expectations files and the gate), ``mutants`` (every
mutant's suite, for ``mutants``).
"""
