"""The built-in probe kinds (ICMP, SNMP, TCP, HTTP); their check models live in `config/checks.py`."""

from __future__ import annotations

from typing import Any

from netmon.config.checks import HttpCheck, IcmpCheck, SnmpCheck, TcpCheck
from netmon.kinds.base import ProbeKind, default_worst_s


def _icmp_worst(check: Any) -> float:
    # The packets of one target are paced, so the last one leaves (count-1) gaps after the first.
    return (int(check.count) - 1) * float(check.packet_interval) + float(check.timeout)


def _snmp_worst(check: Any) -> float:
    # One GET for the scalars plus one walk per table, each retried.
    return default_worst_s(check) * (1 + len(check.walk or {}))


ICMP = ProbeKind("icmp", IcmpCheck, "netmon.probers.icmp:IcmpProber", "host", "coverage",
                 worst_s=_icmp_worst, packets=lambda check: int(check.count), what="ping")
SNMP = ProbeKind("snmp", SnmpCheck, "netmon.probers.snmp:SnmpProber", "host", "coverage",
                 worst_s=_snmp_worst, what="SNMP values")
TCP = ProbeKind("tcp", TcpCheck, "netmon.probers.tcp:TcpProber", "host+port", "service", what="a TCP port")
HTTP = ProbeKind("http", HttpCheck, "netmon.probers.http:HttpProber", "url", "service", what="a web address")

KINDS = (ICMP, SNMP, TCP, HTTP)
