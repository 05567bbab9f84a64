"""Office hours moved to `netmon/config/officehours.py` (config validates them without importing analysis)."""

from netmon.config.officehours import OfficeHours

__all__ = ["OfficeHours"]
