#!/usr/bin/env python3
"""Runs the conformance peer from a checkout, without installing: `python servers/peer.py --help`."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from conformance_peer.standalone import main

raise SystemExit(main())
