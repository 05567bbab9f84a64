"""Probers: one module per probe kind, one literal map from name to implementation.

Modules are imported only when a check uses them, so an ICMP-only agent never pays for
pysnmp or aiohttp at start-up.
"""

from __future__ import annotations

import importlib

from netmon.probers.base import Emit, Prober, ProberBase, ProberContext, failed

PROBERS: dict[str, str] = {
    "icmp": "netmon.probers.icmp:IcmpProber",
    "snmp": "netmon.probers.snmp:SnmpProber",
    "tcp": "netmon.probers.tcp:TcpProber",
    "http": "netmon.probers.http:HttpProber",
}


def build_prober(name: str, context: ProberContext) -> Prober:
    """Instantiate the prober registered under `name`."""
    module_name, _, class_name = PROBERS[name].partition(":")
    cls = getattr(importlib.import_module(module_name), class_name)
    return cls(context)


__all__ = ["PROBERS", "Emit", "Prober", "ProberBase", "ProberContext", "build_prober", "failed"]
