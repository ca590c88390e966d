"""The pure core: what a step means and how an observation is judged, without I/O.

``actions`` (the table of step actions), ``interpreter`` (a case as a state machine:
``next_action()`` / ``observe()``), ``judging`` and ``matching`` (an observation against an
expectation), ``outcomes`` (``Outcome``, ``CaseResult``), and the JS value model: ``values``,
``jsvalues`` (the protocol's encoding), ``jsshow`` (values as JavaScript shows them). Nothing here
reads a clock or a socket.
"""
