"""The foundations every layer shares, importing nothing else of the package but ``errors``.

``model`` (``Case``, ``Step``: the spec language as data), ``units`` and ``substitution``
(durations, sizes, ``${...}``), ``jsvalues`` (JS values as the adapter protocol encodes them),
``jsshow`` (values as JavaScript shows them, for every message), ``outcomes`` (``Outcome``,
``Fault``, ``CaseResult``) and ``transcript`` (its typed entries), ``text`` (counts in words),
``certificates`` and ``tempdirs`` (the run's CA in a private folder), ``tasks`` (cancelling a task).
"""
