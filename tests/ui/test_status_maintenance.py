"""`netmon status` during maintenance: a place inside a window shows `maintenance` with its reason and end,
instead of down or flagged; the measured state stays in the JSON (measurement goes on)."""

from __future__ import annotations

import json
from pathlib import Path

from netmon.analysis.status_view import State
from netmon.config import load_config
from netmon.notify.component import open_conn
from netmon.notify.maintenance import add_window
from netmon.store import Store
from netmon.ui.status import StatusSource
from netmon.ui.status_layout import Filter, parse_states
from netmon.ui.status_render import snapshot_json

from .conftest import NOW
from .test_status_render import snapshot_text

SI_LO_LAU, MU_SANG = "lai-chau/phong-tho/si-lo-lau", "lai-chau/phong-tho/mu-sang"
# A config window over Mù Sang from 15:00 for 2 h (NOW is 15:53:20 in Asia/Ho_Chi_Minh).
NOTIFY = """notify:
  maintenance:
    - {timezone: Asia/Ho_Chi_Minh, start: "2025-10-09 15:00", duration: 2h, reason: nâng cấp trạm,
       scope: {village: Mù Sang}}
"""


def _announce(config: Path) -> None:
    """The planned power cut of Sì Lở Lầu (ad hoc, in the store) and a PC under repair; Mù Sang from config."""
    config.write_text(config.read_text(encoding="utf-8") + NOTIFY, encoding="utf-8")
    store = open_conn(config.parent / "state")
    with store.transaction() as conn:
        add_window(conn, {"province": "Lai Châu", "commune": "Phong Thổ", "village": "Sì Lở Lầu"}, 7200,
                   "EVN cắt điện", start_ts=NOW - 600)
        add_window(conn, {"province": "Lai Châu", "commune": "Sìn Hồ", "device": "lai-chau/sin-ho/ketoan-pc"},
                   3600, "thay ổ cứng", start_ts=NOW - 60)
        add_window(conn, {"province": "Lai Châu", "commune": "Sìn Hồ", "village": "Nậm Cuổi"}, 600, "xong rồi",
                   start_ts=NOW - 1200)  # ended before NOW: changes nothing
    store.close()


def test_text_view_shows_maintenance_with_reason_and_end(filled: Path) -> None:
    before = snapshot_text(filled, 100)
    assert "✗ down" in before and "⚑ power MobiFone" in before
    _announce(filled)
    text = snapshot_text(filled, 100)
    si_lo = next(line for line in text.splitlines() if "Sì Lở Lầu" in line)
    assert "⚒ maint." in si_lo and "until 17:43: EVN cắt điện" in si_lo and "⚑" not in si_lo
    mu_sang = next(line for line in text.splitlines() if "Mù Sang" in line)
    assert "⚒ maint." in mu_sang and "until 17:00: nâng cấp trạm" in mu_sang
    cuoi = next(line for line in text.splitlines() if "Nậm Cuổi" in line)
    assert "≈ unstable" in cuoi and "⚑ link Viettel" in cuoi  # its window ended: judged as before
    office = next(line for line in text.splitlines() if line.startswith("  Sìn Hồ"))
    assert "office 2/4 up, 1 unknown, maintenance: ketoan-pc" in office and "down:" not in office
    assert "7 villages: ✓ 1 good, ▲ 2 degraded, ≈ 1 unstable, ? 1 unknown, ⚒ 2 maint." in text
    assert "✗" not in text.split("\n", 3)[3]  # nothing shows down any more


def test_filter_and_json_carry_maintenance(filled: Path) -> None:
    _announce(filled)
    assert parse_states("maintenance") == frozenset({State.MAINTENANCE})
    only = snapshot_text(filled, 100, Filter(states=frozenset({State.MAINTENANCE})))
    assert "Sì Lở Lầu" in only and "Mù Sang" in only and "Tả Phìn" not in only
    store = Store.open(filled.parent / "state", readonly=True)
    try:
        snap = StatusSource(load_config(filled), store).snapshot(NOW)
        doc = json.loads(snapshot_json(snap, Filter(), snap.villages))
    finally:
        store.close()
    villages = {v["id"]: v for v in doc["villages"]}
    held = villages[SI_LO_LAU]
    assert held["state"] == "maintenance" and held["flagged"] is True  # the flag is held, not cleared
    assert held["maintenance"]["reason"] == "EVN cắt điện" and held["maintenance"]["measured_state"] == "down"
    assert held["maintenance"]["end_ts"] == NOW - 600 + 7200 and held["maintenance"]["source"].startswith("mute #")
    assert villages[MU_SANG]["maintenance"]["source"] == "config: nâng cấp trạm"
    assert villages["lai-chau/sin-ho/ta-phin"]["maintenance"] is None
    assert doc["state_counts"]["maintenance"] == 2
    sin_ho = next(c for c in doc["communes"] if c["commune"] == "Sìn Hồ")
    assert sin_ho["maintenance"] == ["ketoan-pc"] and sin_ho["down"] == []
