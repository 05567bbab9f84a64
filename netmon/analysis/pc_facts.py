"""Facts about an office PC as a budget officer reads them: its OS product, its RAM, its restarts.

- `os_product(descr)`: the product behind a Windows sysDescr ("Windows Version 6.1 (Build 7601"
  is Windows 7) and the day Microsoft's support for it ended.
- `installed_ram_mb(ram_kb)`: the marketed size a measured RAM stands for. Agents report what the
  OS can use, less than what is installed (firmware and integrated graphics reserve some):
  a 4 GB PC reports 3,952 MB. The measure is rounded up to the next marketed size when it is
  within `RAM_TOLERANCE` below it, and kept as measured otherwise (4.8 GB is 4 + 1 GB, not 6).
- `restarts(...)`: boots that were not the PC being switched on. A commune office PC switched
  off every evening boots every morning; that is not a crash. A boot is an *unexpected restart*
  when the PC was seen answering in office hours shortly before it (a crash, a power cut, a reset
  press), or when it is not the first boot of its day.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from netmon.analysis.officehours import OfficeHours

MARKETED_GB = (0.5, 1, 1.5, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512)
RAM_TOLERANCE = 0.125
"""Up to 1/8 below a marketed size is still that size (512 MB reserved of 4 GB, 1 GB of 8 GB)."""
RESTART_GAP_S = 15 * 60.0
"""Seen answering at most this long before a boot: it restarted rather than being switched off.
A crash with automatic restart, a power blip or a reset press takes minutes; a PC switched off
for lunch or the night stays off far longer."""


@dataclass(frozen=True, slots=True)
class OsProduct:
    """A named OS product and the last day it was supported (None: still supported)."""

    name: str
    version: str
    build: int | None
    support_end: date | None

    def label(self) -> str:
        """'Windows 7 (6.1 build 7601)'."""
        if not self.version:
            return self.name
        build = f" build {self.build}" if self.build is not None else ""
        return f"{self.name} ({self.version}{build})"


_ENDS = {
    "Windows 2000": date(2010, 7, 13), "Windows XP": date(2014, 4, 8),
    "Windows XP x64 / Server 2003": date(2015, 7, 14), "Windows Vista": date(2017, 4, 11),
    "Windows 7": date(2020, 1, 14), "Windows 8": date(2016, 1, 12), "Windows 8.1": date(2023, 1, 10),
    "Windows 10": date(2025, 10, 14), "Windows 11": None,
}
_KERNEL = re.compile(r"Windows(?: 2000)? Version (\d+\.\d+)(?: \(Build (\d+))?")
_MARKETING = re.compile(r"Windows (2000|XP|Vista|7|8\.1|8|10|11)\b")


def _windows_by_kernel(version: str, build: int | None) -> str | None:
    if version in ("6.3", "10.0") and build is not None and build >= 10240:
        return "Windows 11" if build >= 22000 else "Windows 10"
    return {"5.0": "Windows 2000", "5.1": "Windows XP", "5.2": "Windows XP x64 / Server 2003",
            "6.0": "Windows Vista", "6.1": "Windows 7", "6.2": "Windows 8", "6.3": "Windows 8.1"}.get(version)


def os_product(descr: str) -> OsProduct | None:
    """The Windows product a sysDescr names, by kernel version and build or by marketing name."""
    match = _KERNEL.search(descr)
    if match:
        build = int(match.group(2)) if match.group(2) else None
        name = _windows_by_kernel(match.group(1), build)
        if name is not None:
            return OsProduct(name, match.group(1), build, _ENDS[name])
    match = _MARKETING.search(descr)
    if match:
        name = f"Windows {match.group(1)}"
        return OsProduct(name, "", None, _ENDS[name])
    return None


def installed_ram_mb(ram_kb: int) -> tuple[int, bool]:
    """(MB, True) rounded up to the marketed size it stands for, or (measured MB, False)."""
    mb = ram_kb / 1024
    for gb in MARKETED_GB:
        size = gb * 1024
        if size >= mb:
            if mb >= size * (1 - RAM_TOLERANCE):
                return int(size), True
            break
    return int(mb), False


def size_text(mb: int) -> str:
    """'4 GB', '1.5 GB', '4,900 MB'."""
    if mb % 512 == 0:
        gb = mb / 1024
        return f"{gb:g} GB"
    return f"{mb:,} MB"


def restarts(boots: Sequence[float], seen_up: Sequence[float], office: OfficeHours) -> int:
    """How many of the sorted `boots` were unexpected restarts (see the module docstring).

    `seen_up` holds the sorted times the PC answered (pings, SNMP polls).
    """
    count, days_seen = 0, set()
    for boot in sorted(boots):
        day = datetime.fromtimestamp(boot, office.tz).date()
        again_today = day in days_seen
        days_seen.add(day)
        i = bisect.bisect_left(seen_up, boot)
        last_seen = seen_up[i - 1] if i else None
        crashed = last_seen is not None and boot - last_seen <= RESTART_GAP_S and office.contains(last_seen)
        count += crashed or again_today
    return count
