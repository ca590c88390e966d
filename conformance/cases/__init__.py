"""Reading the spec: YAML case files into ``Case`` objects with ``file:line`` errors, selection, the catalogue.

``loader`` and ``yamlsource`` (files to cases, the lint rules), ``selection`` (paths, ``-k``,
``--tag``), ``specdir`` (where ``spec/`` is), ``catalogue`` (the behaviour catalogue). The case
model itself is ``core.model``. Nothing here runs a case.
"""
