"""PC aging score and the `report pcs` rendering, over results shaped as the prober writes them."""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest
from rich.console import Console
from snmp_helpers import device, profile

from netmon.analysis.aging import score_pc
from netmon.analysis.officehours import OfficeHours
from netmon.model import ProbeResult, Sample, Status
from netmon.ui.report_pcs import PcRow, pc_rows, render_pcs

TZ = ZoneInfo("Asia/Ho_Chi_Minh")
OFFICE = OfficeHours("Mon-Fri 07:30-11:30,13:30-17:00", "Asia/Ho_Chi_Minh")
RULES = profile("pc").aging
MONDAY_9 = datetime(2026, 11, 16, 9, 0, tzinfo=TZ).timestamp()
NOW = MONDAY_9 + 4 * 86400  # Friday 09:00


def snmp(dev: str, ts: float, uptime_s: float, cpu: float, descr: str = "Linux pc 6.1",
         ram_kb: int = 8 << 20, disk_pct: float = 40.0) -> ProbeResult:
    fields = {"sys_descr": descr, "uptime_s": uptime_s, "hr_memory_kb": ram_kb, "rebooted": 0,
              "cpu_load_avg_pct": cpu}
    disk = Sample("hr_storage", {"hrStorageType": "fixed_disk", "used_pct": disk_pct},
                  {"hrStorageIndex": "1", "hrStorageDescr": "C:\\ Label:  Serial Number 1"})
    return ProbeResult(dev, "host-resources", "snmp", Status.OK, "", ts, 0.1,
                       (Sample("snmp", fields), disk))


def ping(dev: str, ts: float, up: bool) -> ProbeResult:
    return ProbeResult(dev, "reachability", "icmp", Status.OK if up else Status.TIMEOUT, "", ts, 0.1)


def test_office_hours() -> None:
    assert OFFICE.contains(MONDAY_9)
    assert not OFFICE.contains(MONDAY_9 + 3 * 3600)  # 12:00 lunch
    assert not OFFICE.contains(MONDAY_9 + 5 * 86400)  # Saturday


def _office_day(dev: str, day: int, boots: list[float], off_at: float = 17.25, crash: tuple = ()) -> list:
    """One day of a PC: pings every 5 min and SNMP hourly while it is on.

    `boots` are local hours it booted at; it is off from `off_at` (switched off for the night)
    and, for each (down, up) in `crash`, between those hours (a crash, then a restart).
    """
    base = MONDAY_9 - 9 * 3600 + day * 86400  # local midnight
    on = [(b, nxt) for b, nxt in zip(boots, [*boots[1:], off_at], strict=True)]
    out = []
    for start, stop in on:
        down = [c for c in crash if start <= c[0] < stop]
        for m in range(int(start * 60) + 2, int(stop * 60), 5):
            hour = m / 60
            if any(a <= hour < b for a, b in down):
                continue
            boot = max([start, *(b for a, b in down if b <= hour)])
            ts = base + m * 60
            out.append(ping(dev, ts, True))
            if m % 60 == 2:
                out.append(snmp(dev, ts, uptime_s=(hour - boot) * 3600, cpu=20.0))
    return out


def test_nightly_shutdowns_are_not_crashes_office_hours_restarts_are() -> None:
    nightly, crashy = "p/c/pc-nightly", "p/c/pc-crashy"
    nightly_results = [r for day in range(4) for r in _office_day(nightly, day, [7.75])]
    health = score_pc(nightly, nightly_results, RULES, NOW, OFFICE)
    assert health.metrics["boots_week"] == 4 and health.metrics["restarts_week"] == 0
    assert health.reasons == () and health.score == 0, health.reasons

    crashy_results = (_office_day(crashy, 0, [7.75])
                      + _office_day(crashy, 1, [7.75], crash=((10.0, 10.05),))  # froze at 10:00, back 10:03
                      + _office_day(crashy, 2, [7.75], crash=((15.0, 15.1),))
                      + _office_day(crashy, 3, [7.75, 14.0], off_at=17.25))  # second boot of the day
    health = score_pc(crashy, crashy_results, RULES, NOW, OFFICE)
    assert health.metrics["boots_week"] == 7 and health.metrics["restarts_week"] == 3
    assert health.score == 15
    assert health.reasons == ("3 unexpected restarts in the last 7 days (crashes or power cuts; 7 boots in all,"
                              " switching off for the night not counted)",)


def test_switched_off_at_noon_or_booted_at_night_is_not_a_crash() -> None:
    """Off before noon until the next morning, or one boot a night for a weekend job: no restart."""
    dev = "p/c/pc-lunch"
    results = []
    for day in range(3):
        results += _office_day(dev, day, [7.75], off_at=11.9)  # off just before noon...
        results += _office_day(dev, day + 4, [0.0], off_at=7.0)  # ...and a night job Fri-Sun: one boot a day
    health = score_pc(dev, results, RULES, NOW + 3 * 86400, OFFICE)
    assert health.metrics["restarts_week"] == 0, health.reasons


def test_cpu_and_reachability_rules_in_office_hours_only() -> None:
    dev = "p/c/pc-busy"
    results = []
    for day in range(4):
        for hour in (1, 3, 5):  # 09:00, 11:00 (office) and 13:00 (lunch, outside)
            ts = MONDAY_9 + day * 86400 + (hour - 1) * 3600
            results.append(snmp(dev, ts, uptime_s=86400.0 * 30 + ts - MONDAY_9, cpu=95.0 if hour < 5 else 5.0))
        results += [ping(dev, MONDAY_9 + day * 86400 + m * 60, m % 4 != 0) for m in range(40)]
    health = score_pc(dev, results, RULES, NOW, OFFICE)
    text = "; ".join(health.reasons)
    assert "CPU 95% busy on average in office hours" in text  # the lunch-time 5% is not counted
    assert "reachable 75% of office hours" in text
    assert health.score == 15 + 15 and health.not_assessed == ()


def test_ram_in_marketed_sizes() -> None:
    def ram_reason(kb: int) -> tuple[str, int]:
        health = score_pc("p/c/pc", [snmp("p/c/pc", MONDAY_9, 3600.0, 5.0, ram_kb=kb)], RULES, NOW, OFFICE)
        return "; ".join(r for r in health.reasons if r.startswith("RAM")), health.metrics["ram_installed_mb"]

    assert ram_reason(3952 * 1024) == ("", 4096)  # a 4 GB PC with 144 MB reserved
    assert ram_reason(3584 * 1024) == ("", 4096)  # 512 MB taken by integrated graphics
    assert ram_reason(2 << 20) == ("RAM 2 GB, below 4 GB", 2048)
    assert ram_reason(2900 * 1024) == ("RAM 3 GB (2,900 MB usable), below 4 GB", 3072)
    assert ram_reason(4900 * 1024) == ("", 4900)  # 4 + 1 GB: kept as measured, not called 6 GB
    assert ram_reason(3000 * 1024)[0] == "RAM 3 GB (3,000 MB usable), below 4 GB"


@pytest.mark.parametrize(("descr", "reason"), [
    ("Hardware: Intel64 - Software: Windows Version 6.1 (Build 7601 Multiprocessor Free)",
     "end-of-life OS: Windows 7 (6.1 build 7601), support ended 2020-01-14"),
    ("Hardware: x86 - Software: Windows 2000 Version 5.0 (Build 2195 Uniprocessor Free)",
     "end-of-life OS: Windows 2000 (5.0 build 2195), support ended 2010-07-13"),
    ("Hardware: Intel64 - Software: Windows Version 6.3 (Build 9600 Multiprocessor Free)",
     "end-of-life OS: Windows 8.1 (6.3 build 9600), support ended 2023-01-10"),
    ("Hardware: Intel64 - Software: Windows Version 6.3 (Build 19045 Multiprocessor Free)",
     "end-of-life OS: Windows 10 (6.3 build 19045), support ended 2025-10-14"),
    ("Microsoft Windows XP Professional", "end-of-life OS: Windows XP, support ended 2014-04-08"),
    ("Hardware: Intel64 - Software: Windows Version 6.3 (Build 26100 Multiprocessor Free)", None),
    ("Linux pc 6.1.0-18-amd64 #1 SMP PREEMPT_DYNAMIC Debian", None),
])
def test_eol_reason_names_the_product_and_its_end_of_support(descr: str, reason: str | None) -> None:
    health = score_pc("p/c/pc", [snmp("p/c/pc", MONDAY_9, 3600.0, 5.0, descr=descr)], RULES, NOW, OFFICE)
    eol = [r for r in health.reasons if r.startswith("end-of-life")]
    assert eol == ([reason] if reason else [])
    assert health.metrics["eol_os"] == int(reason is not None)


def test_what_was_not_measured_says_not_assessed() -> None:
    dev = "p/c/pc-lunch-only"
    lunch = MONDAY_9 + 3 * 3600  # 12:00, outside office hours
    result = ProbeResult(dev, "host-resources", "snmp", Status.OK, "", lunch, 0.1,
                         (Sample("snmp", {"sys_descr": "Linux pc", "cpu_load_avg_pct": 99.0}),))
    health = score_pc(dev, [result], RULES, NOW, OFFICE)
    assert health.reasons == () and health.score == 0
    assert health.not_assessed == ("disks (no fixed disk in hrStorageTable)", "RAM (no hrMemorySize)",
                                   "CPU (no answer in office hours)", "restarts (no uptime)",
                                   "reachability (no ping in office hours)")
    assert "not assessed: disks" in health.to_result(NOW).reason


def test_first_score_waits_for_the_first_snmp_answer(tmp_path) -> None:
    store_mod = pytest.importorskip("netmon.store")
    store = store_mod.Store.open(tmp_path / "netmon.db")
    fresh, silent, ok = device("fresh", 161, "v2"), device("silent", 161, "v2"), device("ok", 161, "v2")
    store.append([ping(fresh.id, NOW - 60, True),
                  ProbeResult(silent.id, "host-resources", "snmp", Status.TIMEOUT,
                              "no answer: wrong community or agent down", NOW - 600, 3.0),
                  snmp(ok.id, NOW - 3600, 86400.0, 5.0)])
    agent = SimpleNamespace(office_hours="Mon-Fri 07:30-17:00", timezone="Asia/Ho_Chi_Minh")
    config = SimpleNamespace(devices=[fresh, silent, ok], profiles={"pc": profile("pc")},
                             settings=SimpleNamespace(agent=agent))
    # the daemon's job scores only PCs that answered: no "score 0" for the others
    assert [r.device.name for r in pc_rows(config, store, NOW)] == ["ok"]
    listed = pc_rows(config, store, NOW, pending=True)
    assert [r.device.name for r in listed] == ["ok", "fresh", "silent"]
    out = io.StringIO()
    render_pcs(listed, "json", Console(file=out, width=200, color_system=None))
    rows = {r["device"]: r for r in json.loads(out.getvalue())}
    assert rows["fresh"]["score"] is None and rows["fresh"]["not_assessed"] == "not polled yet"
    assert rows["silent"]["not_assessed"] == ("no SNMP answer yet (1 polls: no answer: wrong community or "
                                              "agent down)")
    store.close()


def test_healthy_pc_scores_zero_and_result_shape() -> None:
    dev = "p/c/pc-ok"
    results = [snmp(dev, MONDAY_9 + i * 3600, 86400.0 * 3 + i * 3600, 10.0) for i in range(5)]
    health = score_pc(dev, results, RULES, NOW, OFFICE)
    assert health.score == 0 and health.reasons == ()
    result = health.to_result(NOW)
    assert (result.prober, result.check, result.status) == ("analysis", "pc-health", Status.OK)
    (sample,) = result.samples
    assert sample.measurement == "pc_health"
    assert sample.fields["score"] == 0 and sample.fields["reasons"] == ""
    assert isinstance(sample.fields["ram_mb"], int) and isinstance(sample.fields["disk_used_pct_max"], float)


def _rows() -> list[PcRow]:
    old, ok = "p/c/old", "p/c/ok"
    win7 = "Hardware: Intel64 - Software: Windows Version 6.1 (Build 7601 Multiprocessor Free)"
    bad = score_pc(old, [snmp(old, MONDAY_9, 3 * 3600.0, 20.0, win7, 2 << 20, 97.0)], RULES, NOW, OFFICE)
    good = score_pc(ok, [snmp(ok, MONDAY_9, 86400.0, 5.0)], RULES, NOW, OFFICE)
    return [PcRow(device("ok", 161, "v2"), good, "Linux"), PcRow(device("old", 161, "v2"), bad, "Windows 7")]


@pytest.mark.parametrize("fmt", ["table", "csv", "json", "md"])
def test_render_worst_first(fmt: str) -> None:
    out = io.StringIO()
    render_pcs(_rows(), fmt, Console(file=out, width=200, color_system=None))
    text = out.getvalue()
    assert text.index("old") < text.index("test/xa/ok" if fmt == "csv" else "| ok" if fmt == "md" else "ok")
    assert "end-of-life OS: Windows 7" in text and "RAM 2 GB" in text and "97% full" in text
    if fmt == "json":
        rows = json.loads(text)
        assert [r["device"] for r in rows] == ["old", "ok"] and rows[0]["score"] == 75
    if fmt == "csv":
        rows = list(csv.DictReader(io.StringIO(text)))
        assert rows[0]["device"] == "old" and rows[1]["score"] == "0"


def test_rows_from_store(tmp_path) -> None:
    store_mod = pytest.importorskip("netmon.store")
    store = store_mod.Store.open(tmp_path / "netmon.db")
    old, ok = device("old", 161, "v2"), device("ok", 161, "v2")
    win7 = "Software: Windows Version 6.1 (Build 7601 Multiprocessor Free)"
    store.append([snmp(old.id, NOW - 3600, 3 * 3600.0, 20.0, win7, 2 << 20, 97.0),
                  snmp(ok.id, NOW - 3600, 86400.0, 5.0)])
    agent = SimpleNamespace(office_hours="Mon-Fri 07:30-17:00", timezone="Asia/Ho_Chi_Minh")
    config = SimpleNamespace(devices=[ok, old], profiles={"pc": profile("pc")},
                             settings=SimpleNamespace(agent=agent))
    rows = pc_rows(config, store, NOW)
    assert [r.device.name for r in rows] == ["old", "ok"]
    assert rows[0].health.score == 75 and rows[0].os.startswith("Software: Windows Version 6.1")
    store.close()
