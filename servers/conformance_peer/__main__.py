"""`python -m conformance_peer`: see `standalone`."""

from .standalone import main

raise SystemExit(main())
