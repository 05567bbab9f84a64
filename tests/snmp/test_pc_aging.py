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


def test_reboots_cpu_and_reachability_rules() -> None:
    dev = "p/c/pc-crashy"
    results = []
    for day in range(4):  # boots every day: uptime restarts at 08:00 each morning
        for hour in (1, 3, 5):  # 09:00, 11:00 (office) and 13:00 (lunch, outside)
            ts = MONDAY_9 + day * 86400 + (hour - 1) * 3600
            results.append(snmp(dev, ts, uptime_s=hour * 3600.0, cpu=95.0 if hour < 5 else 5.0))
        results += [ping(dev, MONDAY_9 + day * 86400 + m * 60, m % 4 != 0) for m in range(40)]
    health = score_pc(dev, results, RULES, NOW, OFFICE)
    text = "; ".join(health.reasons)
    assert "4 boots in the last 7 days" in text
    assert "CPU 95% busy on average in office hours" in text  # the lunch-time 5% is not counted
    assert "reachable 75% of office hours" in text
    assert health.score == 15 + 15 + 15
    assert health.metrics["boots_week"] == 4


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
    assert "end-of-life OS" in text and "RAM 2048 MB" in text and "97% full" in text
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
