"""What a run leaves behind: results.json, junit.xml, summary.md, and the reports made from them later.

``model.py`` is the run as typed data (``RunReport``), which every format writes or reads.
"""
