"""`netmon report villages|availability` from a real config and a store filled by the analysis."""

from __future__ import annotations

import csv
import io
import json
from argparse import Namespace
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from rich.console import Console

from netmon.analysis.catalog import catalog_from_config
from netmon.analysis.db import ensure_schema
from netmon.analysis.evaluator import Evaluator
from netmon.analysis.officehours import OfficeHours
from netmon.analysis.rollups import RollupEngine
from netmon.config import load_config
from netmon.store import Store
from netmon.ui.reports import run_report

from .helpers import T0, rounds, snmp_uptime

CONFIG = """\
version: 1
agent: {name: lai-chau-01, timezone: Asia/Ho_Chi_Minh, state_dir: state,
        office_hours: "Mon-Fri 07:30-11:30,13:30-17:00"}
analysis: {evaluate_every: 60s, window_now: 30m, window_trend: 2h, rollup_bucket: 5m, settle: 2m,
           raise_after: 3, clear_after: 3}
inventory:
  - name: Lai Châu
    communes:
      - name: Sìn Hồ
        operator: VNPT
        devices:
          - {name: ubnd-router, kind: ping, host: 127.0.0.1}
        villages:
          - {name: Tả Phìn, operator: Viettel, location: {lat: 22.36, lon: 103.24},
             devices: [{name: bts-ta-phin, kind: bts, host: 127.0.0.2, parent: ubnd-router}]}
          - {name: Nậm Tăm, operator: MobiFone, location: {lat: 22.30, lon: 103.30},
             devices: [{name: bts-nam-tam, kind: bts, host: 127.0.0.3, parent: ubnd-router}]}
          - {name: "Pa Tần, bản 2", operator: Viettel,
             devices: [{name: bts-pa-tan, kind: bts, host: 127.0.0.4, parent: ubnd-router}]}
          - {name: Làng Mô, operator: Viettel,
             devices: [{name: bts-lang-mo, kind: bts, host: 127.0.0.5, parent: ubnd-router}]}
"""
ROUTER = "lai-chau/sin-ho/ubnd-router"
TA_PHIN, NAM_TAM, PA_TAN, LANG_MO = (f"lai-chau/sin-ho/{v}" for v in ("ta-phin", "nam-tam", "pa-tan-ban-2", "lang-mo"))


@pytest.fixture(scope="module")
def filled(tmp_path_factory):
    """A config and a store after 3 h: Nậm Tăm lossy (MobiFone), Tả Phìn flapping (Viettel),
    Pa Tần power cut (Viettel), Làng Mô clean."""
    tmp = tmp_path_factory.mktemp("reports")
    (tmp / "netmon.yaml").write_text(CONFIG, encoding="utf-8")
    config = load_config(tmp / "netmon.yaml")
    store = Store.open(config.state_dir)
    ensure_schema(store)
    catalog = catalog_from_config(config)
    a = config.settings.analysis
    engine = RollupEngine(store, catalog, a.bucket_s, a.settle, OfficeHours(config.settings.agent.office_hours,
                          config.settings.agent.timezone), a.window_trend)
    evaluator = Evaluator(store, catalog, config.settings)
    end = T0 + 3 * 3600
    flaps = [(T0 + k * 900, T0 + k * 900 + 180) for k in range(1, 12)]
    cut = (end - 2400, end - 1200)
    results = (rounds(ROUTER, T0, end) + rounds(f"{TA_PHIN}/bts-ta-phin", T0, end, down=flaps)
               + rounds(f"{NAM_TAM}/bts-nam-tam", T0, end, loss=0.3, seed=5)
               + rounds(f"{PA_TAN}/bts-pa-tan", T0, end, down=[cut])
               + rounds(f"{LANG_MO}/bts-lang-mo", T0, end)
               + [snmp_uptime(f"{PA_TAN}/bts-pa-tan", cut[1] + 60, 90.0)])
    results.sort(key=lambda r: r.ts)
    store.mark_alive(T0, 1, end)
    now, i = T0 + 60, 0
    while now <= end:
        j = i
        while j < len(results) and results[j].ts < now:
            j += 1
        store.append(results[i:j])
        i = j
        engine.process(now)
        evaluator.evaluate(now)
        now += 60
    store.close()
    return config


def report(config, kind: str, fmt: str, **kw) -> str:
    console = Console(width=250, no_color=True, record=True, file=io.StringIO())
    code = run_report(kind, config, Namespace(format=fmt, month=kw.get("month"), days=7.0), console)
    assert code == 0
    return console.export_text()


def test_villages_markdown_groups_link_by_operator_and_keeps_power_apart(filled):
    md = report(filled, "villages", "md")
    viettel = md.index("## Unstable coverage, for Viettel")
    mobifone = md.index("## Unstable coverage, for MobiFone")
    power = md.index("## Power problems (not sent to the operator)")
    assert "Tả Phìn" in md[viettel:power] and "Nậm Tăm" in md[mobifone:viettel]
    assert "Pa Tần, bản 2" in md[power:] and "Làng Mô" not in md
    assert "22.36000, 103.24000" in md  # location for the operator's field team
    assert "| # | Village | Commune | Flagged since |" in md


def test_villages_json_and_csv_carry_evidence(filled):
    data = json.loads(report(filled, "villages", "json"))
    (nam_tam,) = data["link"]["MobiFone"]
    assert nam_tam["cause"] == "link" and nam_tam["loss_pct"] > 20 and nam_tam["commune"] == "Sìn Hồ"
    (ta_phin,) = data["link"]["Viettel"]
    # Evidence of the window that justified the flag (30 min: two 3-minute flaps), with its grounds.
    assert ta_phin["outages"] >= 2 and ta_phin["worst_hours"] and "availability" in ta_phin["grounds"]
    assert ta_phin["window"] == "30m"
    assert [r["village"] for r in data["power"]] == ["Pa Tần, bản 2"]
    rows = list(csv.DictReader(io.StringIO(report(filled, "villages", "csv"))))
    assert {(r["village"], r["cause"]) for r in rows} == {("Tả Phìn", "link"), ("Nậm Tăm", "link"),
                                                         ("Pa Tần, bản 2", "power")}
    table = report(filled, "villages", "table")
    assert "Unstable coverage, for MobiFone: 1 village(s)" in table


def test_availability_month(filled):
    month = datetime.fromtimestamp(T0, ZoneInfo("Asia/Ho_Chi_Minh")).strftime("%Y-%m")
    data = json.loads(report(filled, "availability", "json", month=month))
    by = {(r["level"], r["name"]): r for r in data["rows"]}
    clean = by[("village", "Sìn Hồ / Làng Mô")]
    assert clean["availability_pct"] == 100.0 and clean["outages"] == 0
    flappy = by[("village", "Sìn Hồ / Tả Phìn")]
    assert flappy["outages"] == 11 and 11 * 150 <= flappy["downtime_s"] <= 11 * 240
    assert flappy["mttr_s"] == pytest.approx(flappy["downtime_s"] / 11)
    assert by[("operator", "Viettel")]["outages"] == 11 + 1
    assert 0 < by[("commune", "Sìn Hồ")]["availability_pct"] < 100
    md = report(filled, "availability", "md", month=month)
    assert f"# Coverage availability, {month}" in md and "## Operators" in md
    empty = json.loads(report(filled, "availability", "json", month="2001-01"))
    assert all(r["availability_pct"] is None for r in empty["rows"])
