"""Settings for the harness's own tests."""

import os

# Every request the harness sends is checked against its schema during the project's
# tests (a harness bug shows up here); runs skip that check for speed.
os.environ["CONNECT_CONFORMANCE_CHECK_REQUESTS"] = "1"
