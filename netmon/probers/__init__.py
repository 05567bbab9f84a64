"""Probers: one module per probe kind; the map from name to implementation is the kind registry's.

Modules are imported only when a check uses them, so an ICMP-only agent never pays for
pysnmp or aiohttp at start-up.
"""

from __future__ import annotations

import importlib

from netmon.kinds.registry import KINDS
from netmon.probers.base import Emit, Prober, ProberBase, ProberContext, failed

PROBERS: dict[str, str] = {kind.name: kind.prober for kind in KINDS.values()}


def build_prober(name: str, context: ProberContext) -> Prober:
    """Instantiate the prober registered under `name`."""
    module_name, _, class_name = PROBERS[name].partition(":")
    cls = getattr(importlib.import_module(module_name), class_name)
    return cls(context)


__all__ = ["PROBERS", "Emit", "Prober", "ProberBase", "ProberContext", "build_prober", "failed"]
