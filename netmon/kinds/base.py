"""The declaration every probe kind makes (`ProbeKind`) and the default deadline rule."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

Target = Literal["host", "url", "host+port"]
"""What a device needs for the kind: `host`, `url`, or a host and a port (from the device or the check)."""
Measures = Literal["coverage", "service"]
"""`coverage`: the device's own reachability (a village's link); `service`: something served over it."""


def default_worst_s(check: Any) -> float:
    """Worst time one target of `check` may take: every attempt of every request timing out."""
    attempts = int(getattr(check, "retries", 0)) + 1
    return float(check.timeout) * attempts


def default_packets(check: Any) -> int:
    """Packets one target costs under the agent's packets-per-second ceiling."""
    return 1


@dataclass(frozen=True)
class ProbeKind:
    """One probe kind, as the rest of netmon sees it."""

    name: str
    """The `prober:` value in a profile, and the `prober` column of a result."""
    check: type
    """The pydantic model of one check (its `prober` field is `Literal[name]`)."""
    prober: str
    """`module:Class` of the prober, imported only when a check of this kind is planned."""
    target: Target
    measures: Measures
    worst_s: Callable[[Any], float] = default_worst_s
    """Longest one target may take before the round's deadline (the scheduler adds pacing and slack)."""
    packets: Callable[[Any], int] = default_packets
    what: str = ""
    """A few words for error hints: what this kind probes."""
