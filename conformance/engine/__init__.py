"""The pure core: what a step means and how an observation is judged, without I/O.

``actions`` (the table of step actions), ``interpreter`` (a case as a state machine:
``next_action()`` / ``observe()``), ``judging`` and ``matching`` (an observation against an
expectation), ``values`` (spec values as bytes and short forms). Nothing here reads a clock or a
socket.
"""
