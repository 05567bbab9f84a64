"""Fixtures for the output tests: a real influxd (tests/fixtures/influxd.py)."""

from __future__ import annotations

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from tests.fixtures.influxd import InfluxServer, influxd, influxd_factory  # noqa: E402

__all__ = ["InfluxServer", "influxd", "influxd_factory"]
