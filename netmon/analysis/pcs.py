"""The office-PC replacement priority list, worst first, as data (rendered by ui/report_pcs.py).

`pc_rows(config, store, now)` scores every device whose profile has an `aging:` section and
that has answered SNMP in the window (the daemon stores these as pc_health results); with
`pending=True` the PCs not scored yet are listed too, last, with why (not polled yet, no answer).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from netmon.analysis.aging import PcHealth, office_rollups, score_from_store
from netmon.config.officehours import OfficeHours
from netmon.model import Device


@dataclass(frozen=True, slots=True)
class PcRow:
    """One PC in the report."""

    device: Device
    health: PcHealth
    os: str = ""

    def as_dict(self) -> dict[str, Any]:
        """Plain values for CSV/JSON, in column order."""
        m = self.health.metrics
        return {
            "score": None if self.health.pending else self.health.score, "device": self.device.name,
            "id": self.device.id, "commune": self.device.commune, "village": self.device.village,
            "host": self.device.host or "", "os": self.os, "ram_mb": m.get("ram_mb"),
            "ram_installed_mb": m.get("ram_installed_mb"),
            "disk_used_pct_max": _round(m.get("disk_used_pct_max")),
            "cpu_load_office_pct": _round(m.get("cpu_load_office_pct")),
            "boots_week": m.get("boots_week"), "restarts_week": m.get("restarts_week"),
            "office_reachability_pct": _round(m.get("office_reachability_pct")),
            "reasons": "; ".join(self.health.reasons),
            "not_assessed": ", ".join(self.health.not_assessed),
        }


def _round(value: Any) -> Any:
    return round(value, 1) if isinstance(value, float) else value


def sort_rows(rows: Sequence[PcRow]) -> list[PcRow]:
    """Worst first: highest score, then most reasons, then by id; PCs not scored yet last."""
    return sorted(rows, key=lambda r: (r.health.pending, -r.health.score, -len(r.health.reasons), r.device.id))


def pc_rows(config: Any, store: Any, now: float, pending: bool = False) -> list[PcRow]:
    """Score every device whose profile has `aging:` rules (a `netmon.config.Config`).

    A PC without an SNMP answer in the window is not scored; it is listed only with `pending`.
    """
    agent = config.settings.agent
    office = OfficeHours(agent.office_hours, agent.timezone, getattr(agent, "public_holidays", ()))
    rows = []
    reach: dict[str, tuple[int, int]] | None = None
    for device in config.devices:
        profile = config.profiles.get(device.profile)
        if profile is None or profile.aging is None:
            continue
        if reach is None:
            reach = office_rollups(store, now)  # the week of every device at once, only if a PC is there
        health = score_from_store(store, device.id, profile.aging, now, office, reach.get(device.id))
        if health.pending and not pending:
            continue
        latest = store.latest(device.id, _snmp_check(profile)) if hasattr(store, "latest") else None
        rows.append(PcRow(device, health, _os_of(latest)))
    return sort_rows(rows)


def _snmp_check(profile: Any) -> str:
    return next((c.name for c in profile.checks if c.prober == "snmp"), "")


def _os_of(result: Any) -> str:
    for sample in getattr(result, "samples", ()):
        if sample.measurement == "snmp" and isinstance(sample.fields.get("sys_descr"), str):
            return sample.fields["sys_descr"][:80]
    return ""
