"""PC aging: a 0-100 replacement-priority score with human reasons (issue 4, DESIGN.md §7).

The score says how urgently a commune office PC should be replaced: 0 = nothing wrong found,
100 = replace first. Each rule of the profile's `aging:` section (schema.AgingRules) that the
PC breaks adds points and one reason a budget officer can read:

    end-of-life OS (sysDescr matches an `eol_os` regex)    30
    a fixed disk at or above `disk_used_pct`              25 (once, every full disk named)
    RAM below `min_ram_mb`                                 20
    average CPU load in office hours >= `cpu_load_pct`    15
    boots in the last 7 days >= `reboots_per_week`        15
    ICMP reachability in office hours < `office_reachability_pct`  15

`score_pc` is a pure function over ProbeResults (tests feed it directly); `score_from_store`
pulls the last week of one device's results from the store.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from netmon.analysis.officehours import OfficeHours
from netmon.config.schema import AgingRules
from netmon.model import FieldValue, ProbeResult, Sample, Status

WINDOW_S = 7 * 86400.0
POINTS = {"eol_os": 30, "disk": 25, "ram": 20, "cpu": 15, "reboots": 15, "reachability": 15}
_BOOT_SLACK_S = 120.0


@dataclass(frozen=True, slots=True)
class PcHealth:
    """The aging verdict for one PC."""

    device_id: str
    score: int
    reasons: tuple[str, ...]
    metrics: dict[str, FieldValue] = field(default_factory=dict)

    def to_result(self, now: float) -> ProbeResult:
        """A `pc_health` ProbeResult (prober `analysis`, check `pc-health`) for the store."""
        fields: dict[str, FieldValue] = {"score": self.score, "reasons": "; ".join(self.reasons)}
        fields.update(self.metrics)
        reason = "; ".join(self.reasons) or "no aging problem found"
        return ProbeResult(self.device_id, "pc-health", "analysis", Status.OK, reason, now, 0.0,
                           (Sample("pc_health", fields),))


def _snmp_fields(results: Iterable[ProbeResult], measurement: str) -> list[tuple[ProbeResult, Sample]]:
    # An `error` poll with samples answered too: its bad values were left out, the rest is good.
    return [(r, s) for r in results if r.prober == "snmp" and r.status in (Status.OK, Status.ERROR)
            for s in r.samples if s.measurement == measurement]


def _disk_rule(latest: ProbeResult, rules: AgingRules) -> tuple[list[str], float | None]:
    full, worst = [], None
    for s in latest.samples:
        pct = s.fields.get("used_pct")
        if s.measurement != "hr_storage" or s.fields.get("hrStorageType") != "fixed_disk" \
                or not isinstance(pct, float):
            continue
        worst = pct if worst is None else max(worst, pct)
        if pct >= rules.disk_used_pct:
            name = s.tags.get("hrStorageDescr", s.tags.get("hrStorageIndex", "?"))
            full.append(f"disk {name.split(' Label:')[0]} {pct:.0f}% full")
    return full, worst


def _boots(snmp: Sequence[tuple[ProbeResult, Sample]], since: float) -> int:
    """Distinct boot times (poll time minus uptime) inside the window."""
    boots: list[float] = []
    for result, sample in snmp:
        uptime = sample.fields.get("uptime_s")
        if isinstance(uptime, float):
            boot = result.ts - uptime
            if boot >= since and all(abs(boot - b) > _BOOT_SLACK_S for b in boots):
                boots.append(boot)
    return len(boots)


@dataclass
class _Verdict:
    score: int = 0
    reasons: list[str] = field(default_factory=list)
    metrics: dict[str, FieldValue] = field(default_factory=dict)

    def add(self, rule: str, reason: str) -> None:
        self.score += POINTS[rule]
        self.reasons.append(reason)


def _hardware_rules(snmp: Sequence[tuple[ProbeResult, Sample]], rules: AgingRules, v: _Verdict) -> None:
    """OS, disks and RAM, from the latest SNMP answer."""
    latest: dict[str, Any] = dict(snmp[-1][1].fields)
    descr = str(latest.get("sys_descr", ""))
    eol = next((rx for rx in rules.eol_os if re.search(rx, descr)), None)
    if descr:
        v.metrics["eol_os"] = int(eol is not None)
    if eol is not None:
        v.add("eol_os", f"end-of-life OS ({_os_name(descr)})")
    full, worst = _disk_rule(snmp[-1][0], rules)
    if worst is not None:
        v.metrics["disk_used_pct_max"] = worst
    if full:
        v.add("disk", ", ".join(full) + f" (limit {rules.disk_used_pct:.0f}%)")
    ram_kb = latest.get("hr_memory_kb")
    if isinstance(ram_kb, int):
        v.metrics["ram_mb"] = ram_kb // 1024
        if ram_kb // 1024 < rules.min_ram_mb:
            v.add("ram", f"RAM {ram_kb // 1024} MB, below {rules.min_ram_mb} MB")


def _usage_rules(snmp: Sequence[tuple[ProbeResult, Sample]], pings: Sequence[ProbeResult],
                 rules: AgingRules, since: float, office: OfficeHours, v: _Verdict) -> None:
    """CPU load and reachability in office hours, and boots, over the window."""
    loads = [s.fields["cpu_load_avg_pct"] for r, s in snmp
             if isinstance(s.fields.get("cpu_load_avg_pct"), float) and office.contains(r.ts)]
    if loads:
        cpu = sum(loads) / len(loads)
        v.metrics["cpu_load_office_pct"] = float(cpu)
        if cpu >= rules.cpu_load_pct:
            v.add("cpu", f"CPU {cpu:.0f}% busy on average in office hours")
    if snmp:
        boots = _boots(snmp, since)
        v.metrics["boots_week"] = boots
        if boots >= rules.reboots_per_week:
            v.add("reboots", f"{boots} boots in the last 7 days (crashes or power cuts)")
    office_pings = [r for r in pings if office.contains(r.ts)]
    if office_pings:
        pct = 100.0 * sum(r.up for r in office_pings) / len(office_pings)
        v.metrics["office_reachability_pct"] = pct
        if pct < rules.office_reachability_pct:
            v.add("reachability", f"reachable {pct:.0f}% of office hours")


def score_pc(device_id: str, results: Sequence[ProbeResult], rules: AgingRules, now: float,
             office: OfficeHours) -> PcHealth:
    """Score one PC from its results of the last week (any order, any probers)."""
    results = sorted(results, key=lambda r: r.ts)
    snmp = _snmp_fields(results, "snmp")
    verdict = _Verdict()
    if snmp:
        _hardware_rules(snmp, rules, verdict)
    _usage_rules(snmp, [r for r in results if r.prober == "icmp"], rules, now - WINDOW_S, office,
                 verdict)
    if not snmp:
        verdict.reasons.append("no SNMP answer in 7 days: hardware not assessed")
    return PcHealth(device_id, min(verdict.score, 100), tuple(verdict.reasons), verdict.metrics)


def _os_name(descr: str) -> str:
    match = re.search(r"Windows Version [\d.]+(?: \(Build \d+)?", descr)
    if match:
        return match.group(0) + (")" if "(" in match.group(0) else "")
    return descr[:60]


def score_from_store(store: Any, device_id: str, rules: AgingRules, now: float,
                     office: OfficeHours) -> PcHealth:
    """Pull the last week of one device's results from a `netmon.store.Store` and score them."""
    results = list(store.iter_results(device_id=device_id, since_ts=now - WINDOW_S, until_ts=now))
    return score_pc(device_id, results, rules, now, office)
