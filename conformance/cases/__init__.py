"""Reading the spec: YAML case files into ``Case`` objects with ``file:line`` errors, selection, the catalogue.

``model`` (``Case``, ``Step``), ``loader`` and ``yamlsource`` (files to cases, the lint rules),
``selection`` (paths, ``-k``, ``--tag``), ``specdir`` (where ``spec/`` is), ``substitution`` and
``units`` (``${...}``, durations and sizes), ``catalogue`` (the behaviour catalogue). Nothing here
runs a case.
"""
