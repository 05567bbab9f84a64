"""`netmon report pcs`: the office-PC replacement priority list, worst first.

`pc_rows(config, store, now)` scores every device whose profile has an `aging:` section and
that has answered SNMP in the window (the daemon stores these as pc_health results); with
`pending=True` the PCs not scored yet are listed too, last, with why (not polled yet, no answer).
`render_pcs(rows, fmt, console)` prints them as a table, CSV, JSON or Markdown.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from rich.console import Console
from rich.table import Table

from netmon.analysis.aging import PcHealth, score_from_store
from netmon.analysis.officehours import OfficeHours
from netmon.analysis.pc_facts import size_text
from netmon.i18n import N_, _, display
from netmon.i18n import localise as loc
from netmon.model import Device
from netmon.ui.pc_words import reason_words, unknown_words

FORMATS = ("table", "csv", "json", "md")
_COLUMNS = ("score", "device", "commune", "village", "host", "os", "ram_mb", "ram_installed_mb",
            "disk_used_pct_max", "cpu_load_office_pct", "boots_week", "restarts_week",
            "office_reachability_pct", "reasons", "not_assessed")


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
    office = OfficeHours(agent.office_hours, agent.timezone)
    rows = []
    for device in config.devices:
        profile = config.profiles.get(device.profile)
        if profile is None or profile.aging is None:
            continue
        health = score_from_store(store, device.id, profile.aging, now, office)
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


def render_pcs(rows: Sequence[PcRow], fmt: str, console: Console) -> None:
    """Print the rows (worst first) as table, csv, json or md."""
    rows = sort_rows(rows)
    dicts = [r.as_dict() for r in rows]
    if fmt == "json":
        console.print_json(json.dumps(dicts, ensure_ascii=False))
    elif fmt == "csv":
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=["id", *_COLUMNS], extrasaction="ignore",
                                lineterminator="\n")
        writer.writeheader()
        writer.writerows(dicts)
        console.out(buf.getvalue(), end="", highlight=False)
    elif fmt == "md":
        head = ["score", "device", "commune", "village", "reasons"]
        lines = ["| " + " | ".join(_(_HEADERS[c]) for c in head) + " |", "|" + "---|" * len(head)]
        lines += ["| " + " | ".join(_md(_reasons(r.health) if c == "reasons" else _human(d[c])) for c in head) + " |"
                  for r, d in zip(rows, dicts, strict=True)]
        console.out("\n".join(lines), highlight=False)
    elif fmt == "table":
        table = Table(title=_("Office PCs, replacement priority (worst first)"))
        for col in ("score", "device", "commune", "village", "RAM", "disk %", "reasons"):
            table.add_column(_(_HEADERS.get(col, col)), overflow="fold")
        for row, d in zip(rows, dicts, strict=True):
            ram = d["ram_installed_mb"]
            table.add_row(_cell(d["score"]), display(d["device"]), display(d["commune"]),
                          display(d["village"]) or "-", "-" if ram is None else loc(size_text(ram)),
                          _cell(d["disk_used_pct_max"]),
                          _reasons(row.health))
        console.print(table)
    else:
        raise ValueError(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}")


def _reasons(health: PcHealth) -> str:
    """`PcHealth.summary()` in the language in use (the same text in English)."""
    if health.pending:
        return _("not scored yet: ") + ", ".join(unknown_words(u) for u in health.not_assessed)
    parts = [reason_words(r) for r in health.reasons]
    if health.not_assessed:
        parts.append(_("not assessed: ") + ", ".join(unknown_words(u) for u in health.not_assessed))
    return "; ".join(parts) or _("ok")


def _md(value: Any) -> str:
    return "" if value is None else str(value).replace("|", "\\|")


def _cell(value: Any) -> str:
    return "-" if value is None else _human(value)


def _human(value: Any) -> str:
    """A value as people read it in the language in use (tables and Markdown; never CSV/JSON)."""
    if isinstance(value, float):
        return loc(str(value))
    return display(value) if isinstance(value, str) else "" if value is None else str(value)


_HEADERS = {"score": N_("score"), "device": N_("device"), "commune": N_("commune"), "village": N_("village"),
            "reasons": N_("reasons"), "RAM": N_("RAM"), "disk %": N_("disk %")}
