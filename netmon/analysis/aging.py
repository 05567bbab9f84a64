"""PC aging: a 0-100 replacement-priority score with human reasons (issue 4).

The score says how urgently a commune office PC should be replaced: 0 = nothing wrong found,
100 = replace first. Each rule of the profile's `aging:` section (schema.AgingRules) that the
PC breaks adds points and one reason a budget officer can read:

    end-of-life OS (an `eol_os` regex, or a known product past its end of support)   30
    a fixed disk at or above `disk_used_pct`              25 (once, every full disk named)
    installed RAM below `min_ram_mb` (marketed sizes: 3,952 MB is a 4 GB PC)        20
    average CPU load in office hours >= `cpu_load_pct`    15
    unexpected restarts in the last 7 days >= `reboots_per_week`                     15
    ICMP reachability in office hours < `office_reachability_pct`  15

Unexpected restarts are boots while the PC was seen up in office hours, or more than one boot
a day (pc_facts): a PC switched off every evening is not crashing. A rule whose measure is
missing (no answer in office hours, an agent without hrMemorySize) says "not assessed" instead
of passing silently. A PC that never answered SNMP in the window is `pending`: not scored at
all, so a fresh daemon does not rank every PC 0 before its first poll.

Office-hours reachability is read from the device rollups (`office_rounds`/`office_up` per
bucket, `office_rollups`): raw ICMP results are kept one day by default, the rollups for
months, so the rule sees the whole week. Only a PC without rollups in the window (analysis not
running, a device the catalog does not know) is judged from its raw pings, as before. The
rollups leave out rounds the agent failed to probe (status `error`); raw pings count them down.

`score_pc` is a pure function over ProbeResults (tests feed it directly); `score_from_store`
pulls the last week of one device's results from the store.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from netmon.analysis.officehours import OfficeHours
from netmon.analysis.pc_facts import installed_ram_mb, os_product, restarts, size_text
from netmon.model import FieldValue, ProbeResult, Sample, Status
from netmon.uptime import host_uptime, unwrap

if TYPE_CHECKING:  # config models arrive in the bookkeeping process as plain bags (netmon/bags.py)
    from netmon.config.schema import AgingRules

WINDOW_S = 7 * 86400.0
POINTS = {"eol_os": 30, "disk": 25, "ram": 20, "cpu": 15, "reboots": 15, "reachability": 15}
_BOOT_SLACK_S = 120.0


@dataclass(frozen=True, slots=True)
class PcHealth:
    """The aging verdict for one PC; `pending` ones have no SNMP answer yet and no score."""

    device_id: str
    score: int
    reasons: tuple[str, ...]
    metrics: dict[str, FieldValue] = field(default_factory=dict)
    not_assessed: tuple[str, ...] = ()
    pending: bool = False

    def summary(self) -> str:
        """Reasons, then what could not be assessed."""
        parts = list(self.reasons)
        if self.not_assessed:
            parts.append("not assessed: " + ", ".join(self.not_assessed))
        return "; ".join(parts)

    def to_result(self, now: float) -> ProbeResult:
        """A `pc_health` ProbeResult (prober `analysis`, check `pc-health`) for the store."""
        fields: dict[str, FieldValue] = {"score": self.score, "reasons": "; ".join(self.reasons),
                                         "not_assessed": ", ".join(self.not_assessed)}
        fields.update(self.metrics)
        reason = self.summary() or "no aging problem found"
        return ProbeResult(self.device_id, "pc-health", "analysis", Status.OK, reason, now, 0.0,
                           (Sample("pc_health", fields),))


def _snmp_fields(results: Iterable[ProbeResult], measurement: str) -> list[tuple[ProbeResult, Sample]]:
    # An `error` poll with samples answered too: its bad values were left out, the rest is good.
    return [(r, s) for r in results if r.prober == "snmp" and r.status in (Status.OK, Status.ERROR)
            for s in r.samples if s.measurement == measurement]


def _latest(snmp: Sequence[tuple[ProbeResult, Sample]], name: str) -> Any:
    """The newest answered value of one `snmp` field (a poll may have left a bad one out)."""
    return next((s.fields[name] for _, s in reversed(snmp) if name in s.fields), None)


def _disk_rule(results: Sequence[ProbeResult], rules: AgingRules) -> tuple[list[str], float | None]:
    full, worst = [], None
    disks = [s for r in results for s in r.samples if s.measurement == "hr_storage"
             and s.fields.get("hrStorageType") == "fixed_disk" and isinstance(s.fields.get("used_pct"), float)]
    latest = {s.tags.get("hrStorageIndex", "?"): s for s in disks}  # results are in time order
    for s in latest.values():
        pct = float(s.fields["used_pct"])
        worst = pct if worst is None else max(worst, pct)
        if pct >= rules.disk_used_pct:
            name = s.tags.get("hrStorageDescr", s.tags.get("hrStorageIndex", "?"))
            full.append(f"disk {name.split(' Label:')[0]} {pct:.0f}% full")
    return full, worst


def _boots(snmp: Sequence[tuple[ProbeResult, Sample]], since: float) -> list[float]:
    """Distinct host boot times (poll time minus host uptime) inside the window."""
    boots: list[float] = []
    for result, sample in snmp:
        found = host_uptime(sample.fields)
        if found is None:
            continue
        boot = result.ts - found[0]
        # the same boot seen again, or after a TimeTicks wrap, is not another boot
        if boot >= since and all(unwrap(boot, b, _BOOT_SLACK_S) is None and unwrap(b, boot, _BOOT_SLACK_S) is None
                                 for b in boots):
            boots.append(boot)
    return boots


@dataclass
class _Verdict:
    score: int = 0
    reasons: list[str] = field(default_factory=list)
    metrics: dict[str, FieldValue] = field(default_factory=dict)
    unknown: list[str] = field(default_factory=list)

    def add(self, rule: str, reason: str) -> None:
        self.score += POINTS[rule]
        self.reasons.append(reason)


def _os_rule(descr: str, rules: AgingRules, now: float, v: _Verdict) -> None:
    if not descr:
        v.unknown.append("OS (no sysDescr)")
        return
    product = os_product(descr)
    today = datetime.fromtimestamp(now, UTC).date()
    ended = product is not None and product.support_end is not None and product.support_end <= today
    eol = ended or any(re.search(rx, descr) for rx in rules.eol_os)
    v.metrics["eol_os"] = int(eol)
    if not eol:
        return
    if product is None:
        v.add("eol_os", f"end-of-life OS ({descr[:60]})")
    elif product.support_end is None:
        v.add("eol_os", f"end-of-life OS: {product.label()}")
    else:
        verb = "ended" if product.support_end <= today else "ends"
        v.add("eol_os", f"end-of-life OS: {product.label()}, support {verb} {product.support_end.isoformat()}")


def _hardware_rules(snmp: Sequence[tuple[ProbeResult, Sample]], results: Sequence[ProbeResult],
                    rules: AgingRules, now: float, v: _Verdict) -> None:
    """OS, disks and RAM, from the latest SNMP answers."""
    descr = _latest(snmp, "sys_descr")
    _os_rule(descr if isinstance(descr, str) else "", rules, now, v)
    full, worst = _disk_rule(results, rules)
    if worst is not None:
        v.metrics["disk_used_pct_max"] = worst
    else:
        v.unknown.append("disks (no fixed disk in hrStorageTable)")
    if full:
        v.add("disk", ", ".join(full) + f" (limit {rules.disk_used_pct:.0f}%)")
    ram_kb = _latest(snmp, "hr_memory_kb")
    if not isinstance(ram_kb, int):
        v.unknown.append("RAM (no hrMemorySize)")
        return
    installed, marketed = installed_ram_mb(ram_kb)
    v.metrics["ram_mb"] = ram_kb // 1024
    v.metrics["ram_installed_mb"] = installed
    if installed < rules.min_ram_mb:
        seen = f" ({ram_kb // 1024:,} MB usable)" if marketed and installed != ram_kb // 1024 else ""
        v.add("ram", f"RAM {size_text(installed)}{seen}, below {size_text(rules.min_ram_mb)}")


def _usage_rules(snmp: Sequence[tuple[ProbeResult, Sample]], results: Sequence[ProbeResult],
                 rules: AgingRules, since: float, office: OfficeHours, v: _Verdict,
                 reach: tuple[int, int] | None = None) -> None:
    """CPU load and reachability in office hours, and unexpected restarts, over the window."""
    loads = [s.fields["cpu_load_avg_pct"] for r, s in snmp
             if isinstance(s.fields.get("cpu_load_avg_pct"), float) and office.contains(r.ts)]
    if loads:
        cpu = sum(loads) / len(loads)
        v.metrics["cpu_load_office_pct"] = float(cpu)
        if cpu >= rules.cpu_load_pct:
            v.add("cpu", f"CPU {cpu:.0f}% busy on average in office hours")
    else:
        v.unknown.append("CPU (no answer in office hours)")
    boots = _boots(snmp, since)
    if any(host_uptime(s.fields) for _, s in snmp):
        seen = sorted({r.ts for r in results if r.prober in ("icmp", "snmp") and r.up}
                      | {r.ts for r, _ in snmp})
        unexpected = restarts(boots, seen, office)
        v.metrics["boots_week"] = len(boots)
        v.metrics["restarts_week"] = unexpected
        if unexpected >= rules.reboots_per_week:
            v.add("reboots", f"{unexpected} unexpected restarts in the last 7 days (crashes or power cuts; "
                             f"{len(boots)} boots in all, switching off for the night not counted)")
    else:
        v.unknown.append("restarts (no uptime)")
    if reach is not None and reach[0] > 0:
        rounds, up = reach
    else:
        office_pings = [r for r in results if r.prober == "icmp" and office.contains(r.ts)]
        rounds, up = len(office_pings), sum(r.up for r in office_pings)
    if rounds:
        pct = 100.0 * up / rounds
        v.metrics["office_reachability_pct"] = pct
        if pct < rules.office_reachability_pct:
            v.add("reachability", f"reachable {pct:.0f}% of office hours")
    else:
        v.unknown.append("reachability (no ping in office hours)")


def score_pc(device_id: str, results: Sequence[ProbeResult], rules: AgingRules, now: float,
             office: OfficeHours, reach: tuple[int, int] | None = None) -> PcHealth:
    """Score one PC from its results of the last week (any order, any probers).

    `reach`: (office-hours rounds, of which up) of the week from the rollups; without it (or
    with no round) office reachability is counted from the ICMP results given.
    """
    results = sorted(results, key=lambda r: r.ts)
    snmp = _snmp_fields(results, "snmp")
    if not snmp:
        polls = [r for r in results if r.prober == "snmp"]
        why = f"no SNMP answer yet ({len(polls)} polls: {polls[-1].reason})" if polls else "not polled yet"
        return PcHealth(device_id, 0, (), {}, (why,), pending=True)
    verdict = _Verdict()
    _hardware_rules(snmp, results, rules, now, verdict)
    _usage_rules(snmp, results, rules, now - WINDOW_S, office, verdict, reach)
    return PcHealth(device_id, min(verdict.score, 100), tuple(verdict.reasons), verdict.metrics,
                    tuple(verdict.unknown))


def office_rollups(store: Any, now: float) -> dict[str, tuple[int, int]]:
    """(office-hours rounds, of which up) per device over the week before `now`, from `rollup_device`.

    One range scan of the week for every device at once: the table's key is (bucket, device),
    and a lookup per PC would scan the same week once per PC. Buckets are counted by their
    start (an hourly, fine or daily row that starts in the window counts whole).
    """
    conn = getattr(store, "conn", None)
    if conn is None:
        return {}
    return {device: (int(rounds), int(up)) for device, rounds, up in conn.execute(
        "SELECT device_id, sum(office_rounds), sum(office_up) FROM rollup_device"
        " WHERE bucket_ts >= ? AND bucket_ts < ? GROUP BY device_id", (now - WINDOW_S, now))}


def score_from_store(store: Any, device_id: str, rules: AgingRules, now: float,
                     office: OfficeHours, reach: tuple[int, int] | None = None) -> PcHealth:
    """Pull the last week of one device's results from a `netmon.store.Store` and score them.

    `reach` is the device's entry of `office_rollups` (read once for every PC by the caller).
    """
    results = list(store.iter_results(device_id=device_id, since_ts=now - WINDOW_S, until_ts=now))
    return score_pc(device_id, results, rules, now, office, reach)
