"""`netmon report availability` with maintenance windows: their time is shown apart and left out by default.

A real config (one window in its notify section), ad hoc windows in the store, a store filled by the
rollup engine from one-minute rounds over four hours (UTC, 5-minute buckets):
    Bản A  dark 09:00-09:40, announced in the config for exactly that time
    Bản B  dark 10:00-10:20, announced ad hoc from 10:05:30 to 10:30 (late, and not on a bucket edge)
    Bản C  never dark, its BTS under a device window for an hour
    Bản D  dark 09:00-09:40, not announced (the control: counted whatever the option)
"""

from __future__ import annotations

import io
import json
from argparse import Namespace
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from rich.console import Console

from netmon.analysis.catalog import catalog_from_config
from netmon.analysis.db import ensure_schema
from netmon.analysis.officehours import OfficeHours
from netmon.analysis.rollups import RollupEngine
from netmon.config import load_config
from netmon.notify.maintenance import add_window
from netmon.store import Store
from netmon.ui.reports import run_report

from .helpers import rounds

T0 = 1_759_996_800.0  # 2025-10-09 08:00 UTC: in the past, as a month report reads it (it stops at now)

CONFIG = """\
version: 1
agent: {name: lai-chau-01, timezone: UTC, state_dir: state}
analysis: {evaluate_every: 60s, window_now: 30m, window_trend: 2h, rollup_bucket: 5m, settle: 2m}
notify:
  maintenance:
    - {name: cắt điện bản A, timezone: UTC, start: "2025-10-09 09:00", duration: 40m, reason: EVN cắt điện,
       scope: {village: Bản A}}
inventory:
  - name: Lai Châu
    communes:
      - name: Sìn Hồ
        operator: Viettel
        devices:
          - {name: ubnd-router, kind: ping, host: 127.0.0.1}
        villages:
          - {name: Bản A, devices: [{name: bts, kind: bts, host: 127.0.0.2, parent: ubnd-router}]}
          - {name: Bản B, devices: [{name: bts, kind: bts, host: 127.0.0.3, parent: ubnd-router}]}
          - {name: Bản C, devices: [{name: bts, kind: bts, host: 127.0.0.4, parent: ubnd-router}]}
          - {name: Bản D, operator: MobiFone,
             devices: [{name: bts, kind: bts, host: 127.0.0.5, parent: ubnd-router}]}
"""
PREFIX = "lai-chau/sin-ho"
A, B, C, D = (f"{PREFIX}/ban-{x}" for x in "abcd")
B_WINDOW = (T0 + 7200 + 330, T0 + 9000)


@pytest.fixture(scope="module")
def config(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("availability")
    (tmp / "netmon.yaml").write_text(CONFIG, encoding="utf-8")
    config = load_config(tmp / "netmon.yaml")
    store = Store.open(config.state_dir)
    ensure_schema(store)
    a = config.settings.analysis
    engine = RollupEngine(store, catalog_from_config(config), a.bucket_s, a.settle,
                          OfficeHours(config.settings.agent.office_hours, "UTC"), a.window_trend)
    end = T0 + 4 * 3600
    cut = [(T0 + 3600, T0 + 3600 + 2400)]
    results = (rounds(f"{PREFIX}/ubnd-router", T0, end) + rounds(f"{A}/bts", T0, end, down=cut)
               + rounds(f"{B}/bts", T0, end, down=[(T0 + 7200, T0 + 8400)]) + rounds(f"{C}/bts", T0, end)
               + rounds(f"{D}/bts", T0, end, down=cut))
    results.sort(key=lambda r: r.ts)
    store.mark_alive(T0, 1, end)
    store.append(results)
    for now in range(int(T0) + 600, int(end) + 601, 600):
        engine.process(float(now))
    with store.transaction() as conn:
        add_window(conn, {"province": "Lai Châu", "commune": "Sìn Hồ", "village": "Bản B"},
                   B_WINDOW[1] - B_WINDOW[0], "sửa cột", start_ts=B_WINDOW[0])
        add_window(conn, {"province": "Lai Châu", "commune": "Sìn Hồ", "device": f"{C}/bts"}, 3600, "thay BTS",
                   start_ts=T0 + 600)
    store.close()
    return config


def report(config, fmt: str, include: bool = False) -> str:
    console = Console(width=250, no_color=True, record=True, file=io.StringIO())
    month = datetime.fromtimestamp(T0, ZoneInfo("UTC")).strftime("%Y-%m")
    args = Namespace(format=fmt, month=month, days=7.0, include_maintenance=include)
    assert run_report("availability", config, args, console) == 0
    return console.export_text()


def rows(config, include: bool = False) -> dict[str, dict]:
    doc = json.loads(report(config, "json", include))
    assert doc["maintenance"] == ("included" if include else "excluded")
    return {r.get("id") or f"{r['level']}:{r['name']}": r for r in doc["rows"]}


def test_announced_cut_is_maintenance_not_downtime(config):
    out, counted = rows(config), rows(config, include=True)
    assert out[A]["maintenance_s"] == 2400.0
    assert out[A]["availability_pct"] == 100.0 and out[A]["downtime_s"] == 0 and out[A]["outages"] == 0
    assert counted[A]["maintenance_s"] == 2400.0
    assert counted[A]["availability_pct"] == pytest.approx(100 * 200 / 240, abs=0.5)
    assert counted[A]["outages"] == 1 and 2300 <= counted[A]["downtime_s"] <= 2500
    # the control village: the same cut, not announced, counts either way
    for view in (out, counted):
        assert view[D]["maintenance_s"] == 0 and view[D]["outages"] == 1
        assert view[D]["availability_pct"] == counted[A]["availability_pct"]


def test_a_late_window_leaves_the_minutes_before_it_as_downtime(config):
    out, counted = rows(config), rows(config, include=True)
    assert out[B]["maintenance_s"] == B_WINDOW[1] - B_WINDOW[0]
    assert out[B]["outages"] == 1 and 300 <= out[B]["downtime_s"] <= 400  # 10:00 to 10:05:30
    assert 1100 <= counted[B]["downtime_s"] <= 1300
    # 6 failed rounds in the 216 outside the window: 97.2 %; buckets split by time give about that
    assert out[B]["availability_pct"] == pytest.approx(100 * 210 / 216, abs=0.5)
    assert counted[B]["availability_pct"] == pytest.approx(100 * 220 / 240, abs=0.5)


def test_device_window_over_the_only_bts_holds_its_village_and_totals_add_up(config):
    out = rows(config)
    assert out[C]["maintenance_s"] == 3600.0 and out[C]["availability_pct"] == 100.0
    viettel = out["operator:Viettel"]
    assert viettel["maintenance_s"] == 2400.0 + (B_WINDOW[1] - B_WINDOW[0]) + 3600.0
    assert out["operator:MobiFone"]["maintenance_s"] == 0
    assert out["commune:Sìn Hồ"]["outages"] == 2  # B's late minutes and D; A's cut was maintenance


def test_tables_and_csv_show_the_maintenance_column(config):
    md = report(config, "md")
    assert "| Maintenance |" in md and "left out of availability" in md
    line = next(ln for ln in md.splitlines() if "Bản A" in ln)
    assert "| 40 min |" in line
    assert "counts in availability" in report(config, "table", include=True)
    csv_text = report(config, "csv")
    assert csv_text.splitlines()[0].split(",")[-2:] == ["maintenance_s", "watched_pct"]
