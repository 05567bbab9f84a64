"""When did the device's host boot? From hrSystemUptime where the agent has it, else sysUpTime.

sysUpTime is the SNMP *agent's* uptime: restarting snmpd or the Windows SNMP service resets it
while the host runs on, so it is only a fallback. hrSystemUptime (HOST-RESOURCES-MIB) is the
host's own uptime (net-snmp reads /proc/uptime), so an agent restart does not look like a
reboot, let alone a power cut.

Both are TimeTicks: 32-bit hundredths of a second that wrap to 0 every 497.1 days. Agents that
fill hrSystemUptime from a 32-bit millisecond counter (Windows' GetTickCount) wrap every 49.7
days. A wrap is not a boot: the boot time computed after it (poll time minus uptime) lands a
whole number of wrap periods after the boot time known before it, which a reboot does only by
a coincidence of a few seconds in 49.7 days.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

TICKS_WRAP_S = (1 << 32) / 100.0
"""TimeTicks (centiseconds) wrap period: 497.1 days."""
MS_WRAP_S = (1 << 32) / 1000.0
"""A 32-bit millisecond counter behind the ticks (GetTickCount): 49.7 days."""
WRAPS_S = (TICKS_WRAP_S, MS_WRAP_S)
BOOT_SLACK_S = 30.0
"""Two boot estimates this close are the same boot (poll duration, tick-rate drift, rounding)."""

HOST, AGENT = "hrSystemUptime", "sysUpTime"


def host_uptime(fields: Mapping[str, Any]) -> tuple[float, str] | None:
    """(seconds, source) of the host's uptime in an `snmp` sample's fields, or None."""
    for name, source in (("hr_uptime_s", HOST), ("uptime_s", AGENT)):
        value = fields.get(name)
        if isinstance(value, int | float) and not isinstance(value, bool) and value >= 0:
            return float(value), source
    return None


def _slack(slack_s: float | None) -> float:
    return BOOT_SLACK_S if slack_s is None else slack_s


def unwrap(boot_ts: float, known_boot_ts: float, slack_s: float | None = None) -> float | None:
    """`boot_ts` moved back by the whole counter wraps that separate it from `known_boot_ts`.

    None when the two are not the same boot. The result is the new estimate, not the known one,
    so an agent's tick rate drifting a little from our clock is followed poll after poll instead
    of adding up to a false reboot after weeks.
    """
    slack = _slack(slack_s)
    gap = boot_ts - known_boot_ts
    if abs(gap) <= slack:
        return boot_ts
    for period in WRAPS_S:
        k = round(gap / period)
        if k >= 1 and abs(gap - k * period) <= slack:
            return boot_ts - k * period
    return None


def next_boot(boot_ts: float, known_boot_ts: float | None, slack_s: float | None = None) -> float:
    """The boot time to remember after this poll: unwrapped when it is the same boot as known."""
    if known_boot_ts is None:
        return boot_ts
    same = unwrap(boot_ts, known_boot_ts, slack_s)
    return boot_ts if same is None else same


def rebooted(boot_ts: float, known_boot_ts: float | None, slack_s: float | None = None) -> bool:
    """True when the host booted after the known boot (not a wrap, not estimate jitter)."""
    if known_boot_ts is None or unwrap(boot_ts, known_boot_ts, slack_s) is not None:
        return False
    return boot_ts > known_boot_ts + _slack(slack_s)
