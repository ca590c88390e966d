"""A runtime over its published versions: ``history`` (the suite on many versions, a timeline) and ``bisect``."""
