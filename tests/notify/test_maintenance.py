"""Maintenance windows: explicit timezones, crossing midnight, DST, and the flood guard's summary."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from netmon.analysis import flags as flagmod
from netmon.analysis.catalog import catalog_from_config
from netmon.analysis.db import ensure_schema as analysis_schema
from netmon.analysis.maintenance import occurrences, windows_at
from netmon.analysis.stability import Cause
from netmon.config import ConfigError
from netmon.config.notify_schema import MaintenanceSpec
from netmon.notify.component import Notifier
from netmon.store import Store
from tests.notify.conftest import load


def _ts(text: str, zone: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=ZoneInfo(zone)).timestamp()


def _covered_minutes(spec: MaintenanceSpec, start: float, hours: int) -> list[float]:
    return [start + 60 * m for m in range(hours * 60) if windows_at([spec], None, start + 60 * m)]


def test_nightly_window_in_vietnam_crossing_midnight_suppresses_exactly_its_minutes():
    spec = MaintenanceSpec(timezone="Asia/Ho_Chi_Minh", start="2026-12-01 22:30", duration="4h",
                           rrule="FREQ=DAILY", reason="EVN cắt điện", scope={"commune": "Sìn Hồ"})
    day = _ts("2026-12-05 12:00", "Asia/Ho_Chi_Minh")
    minutes = _covered_minutes(spec, day, 24)
    assert len(minutes) == 240
    assert minutes[0] == _ts("2026-12-05 22:30", "Asia/Ho_Chi_Minh")
    assert minutes[-1] == _ts("2026-12-06 02:29", "Asia/Ho_Chi_Minh")
    assert windows_at([spec], None, minutes[0])[0].covers({"province": "Lai Châu", "commune": "Sìn Hồ",
                                                           "village": "Tả Phìn", "device": "x"})
    assert not windows_at([spec], None, minutes[0])[0].covers({"province": "Lai Châu", "commune": "Phong Thổ",
                                                               "village": "", "device": "x"})
    # the same wall-clock window read in UTC: 15:30-19:30 UTC, not 22:30 UTC
    assert datetime.fromtimestamp(minutes[0], ZoneInfo("UTC")).strftime("%H:%M") == "15:30"


def test_a_window_with_two_frames_covers_both_and_not_the_gap():
    spec = MaintenanceSpec(timezone="Asia/Ho_Chi_Minh", start="2026-12-05 07:00", duration="3h",
                           frames=[{"start": "2026-12-05 13:30", "duration": "2h"}], reason="EVN")
    day = _ts("2026-12-05 00:00", "Asia/Ho_Chi_Minh")
    minutes = _covered_minutes(spec, day, 24)
    assert len(minutes) == 300
    assert not windows_at([spec], None, _ts("2026-12-05 12:00", "Asia/Ho_Chi_Minh"))
    assert windows_at([spec], None, _ts("2026-12-05 15:29", "Asia/Ho_Chi_Minh"))


def test_weekly_window_keeps_its_wall_clock_across_a_dst_change():
    # Berlin moves to summer time on 2027-03-28; the window stays at 01:00 local, two elapsed hours
    spec = MaintenanceSpec(timezone="Europe/Berlin", start="2027-03-14 01:00", duration="2h",
                           rrule="FREQ=WEEKLY;BYDAY=SU")
    for day in ("2027-03-21", "2027-03-28", "2027-04-04"):
        begin = _ts(f"{day} 01:00", "Europe/Berlin")
        (w,) = occurrences(spec, begin, begin)
        assert w.start_ts == begin and w.end_ts - w.start_ts == 7200
    before = _ts("2027-03-28 00:59", "Europe/Berlin")
    assert not windows_at([spec], None, before)
    assert windows_at([spec], None, before + 60)
    # 01:00 CET + 2 h = 04:00 CEST (the 02:00-03:00 hour does not exist that night)
    assert not windows_at([spec], None, _ts("2027-03-28 04:00", "Europe/Berlin"))
    assert windows_at([spec], None, _ts("2027-03-28 03:59", "Europe/Berlin"))


def test_place_in_maintenance_is_what_analysis_would_ask(tmp_path):
    from netmon.analysis.maintenance import place_in_maintenance
    from netmon.notify.component import open_conn
    from netmon.notify.maintenance import add_window

    store = open_conn(tmp_path)
    with store.transaction() as conn:
        add_window(conn, {"province": "Lai Châu", "commune": "Sìn Hồ"}, 3600, "EVN", start_ts=1000.0)
    assert place_in_maintenance([], store.conn, 1500.0, "Lai Châu", "Sìn Hồ", "Tả Phìn").reason == "EVN"
    assert place_in_maintenance([], store.conn, 4700.0, "Lai Châu", "Sìn Hồ", "Tả Phìn") is None
    assert place_in_maintenance([], store.conn, 1500.0, "Lai Châu", "Phong Thổ", "Mù Sang") is None


def test_bad_windows_are_config_errors_that_say_what_to_write(tmp_path):
    bad = """  channels: {}
  maintenance:
    - {timezone: Asia/Saigon_Typo, start: "2026-12-05 22:00", duration: 4h}
    - {timezone: Asia/Ho_Chi_Minh, start: "5/12 22h", duration: 4h}
    - {timezone: Asia/Ho_Chi_Minh, start: "2026-12-05 22:00", duration: 4h, rrule: "FREQ=SOMETIMES"}
"""
    with pytest.raises(ConfigError) as err:
        load(tmp_path, bad)
    text = str(err.value)
    assert "not a known timezone" in text and "not a date and time" in text and "RRULE" in text


def test_config_window_mutes_events_inside_it_and_flood_guard_summarises(tmp_path):
    notify = """  group_wait: 1ms
  group_interval: 10m
  flood: {max_messages: 2, per: 1h}
  channels:
    it: {url: "json://127.0.0.1:9/x"}
  routes:
    - {channels: [it]}
  maintenance:
    - {timezone: Asia/Ho_Chi_Minh, start: "2027-01-15 14:00", duration: 2h, scope: {village: Hồng Thu},
       reason: "thay thiết bị"}
"""
    config = load(tmp_path, notify)
    store = Store.open(config.state_dir)
    analysis_schema(store)
    notifier = Notifier(config)
    notifier.open()
    villages = catalog_from_config(config).villages
    t = _ts("2027-01-15 15:00", "Asia/Ho_Chi_Minh")
    with store.transaction() as conn:
        for v in villages.values():  # six villages in two communes flagged at once
            flagmod.raise_flag(conn, v, Cause.LINK, {"availability_pct": 90.0}, t)
    notifier.tick(t + 1)
    notifier.tick(t + 2)
    muted = store.conn.execute("SELECT village, muted FROM notify_events WHERE composed = 2").fetchall()
    assert [m[0] for m in muted] == ["Hồng Thu"] and "thay thiết bị" in muted[0][1]
    assert store.conn.execute("SELECT count(*) FROM notify_outbox").fetchone()[0] == 2  # one per commune
    with store.transaction() as conn:  # more trouble: the channel is at its flood limit
        for fid in range(1, 7):
            conn.execute("UPDATE flags SET cleared_ts = ?, updated_ts = ? WHERE id = ?", (t + 60, t + 60, fid))
    notifier.tick(t + 700)
    notifier.tick(t + 701)
    rows = store.conn.execute("SELECT commune, subject, body FROM notify_outbox ORDER BY id").fetchall()
    assert len(rows) == 3 and rows[2][0] == "*"
    assert rows[2][1] == "Quá nhiều cảnh báo: 5 sự kiện ở 2 xã"
    assert rows[2][2].count("ổn định trở lại") == 5


def test_power_cut_csv_imports_as_windows_all_or_nothing_and_mutes_its_commune(tmp_path, capsys):
    from netmon.cli import main

    config = load(tmp_path, """  group_wait: 1ms
  channels:
    it: {url: "json://127.0.0.1:9/x"}
  routes:
    - {channels: [it]}
""")
    bad = tmp_path / "bad.csv"
    bad.write_text("commune,start,end,reason\nSìn Hồ,2027-01-15 07:00,2027-01-15 17:00,EVN\n"
                   "Phong Thổ,15/01/2027 7h,2027-01-15 17:00,EVN\n", encoding="utf-8")
    assert main(["maintenance", "import", str(bad), "-c", str(config.path)]) == 2
    assert "bad.csv:3:" in capsys.readouterr().out
    good = tmp_path / "evn.csv"
    good.write_text("xã,bắt đầu,kết thúc,lý do\nSìn Hồ,2027-01-15 07:00,2027-01-15 17:00,EVN cắt điện bảo trì\n",
                    encoding="utf-8")
    assert main(["maintenance", "import", str(good), "-c", str(config.path)]) == 0
    assert main(["maintenance", "import", str(good), "-c", str(config.path)]) == 0
    assert "imported 0 window(s) (1 already known)" in capsys.readouterr().out
    store = Store.open(config.state_dir)
    analysis_schema(store)
    assert store.conn.execute("SELECT count(*) FROM maintenance").fetchone()[0] == 1
    notifier = Notifier(config)
    notifier.open()
    villages = catalog_from_config(config).villages
    t = _ts("2027-01-15 16:59", "Asia/Ho_Chi_Minh")
    with store.transaction() as conn:
        flagmod.raise_flag(conn, villages["lai-chau/sin-ho/ta-phin"], Cause.POWER, {}, t)
        flagmod.raise_flag(conn, villages["lai-chau/sin-ho/lang-mo"], Cause.LINK, {}, t + 120)  # after the window
    notifier.tick(t + 200)
    notifier.tick(t + 201)
    muted = store.conn.execute("SELECT village, muted FROM notify_events WHERE composed = 2").fetchall()
    assert [m[0] for m in muted] == ["Tả Phìn"] and "EVN cắt điện bảo trì" in muted[0][1]
    assert [r[0] for r in store.conn.execute("SELECT subject FROM notify_outbox")] == [
        "Thôn Làng Mô mất ổn định (đường truyền nhà mạng)"]


def test_cron_window_matches_its_minutes_and_bad_cron_is_explained():
    from netmon.config.cron import cron_to_rrule

    assert cron_to_rrule("30 22 * * 6") == "FREQ=DAILY;BYDAY=SA;BYHOUR=22;BYMINUTE=30;BYSECOND=0"
    spec = MaintenanceSpec(timezone="Asia/Ho_Chi_Minh", cron="30 22 * * 6", duration="4h", reason="EVN")
    saturday = _ts("2026-12-05 12:00", "Asia/Ho_Chi_Minh")
    minutes = _covered_minutes(spec, saturday, 24)
    assert len(minutes) == 240 and minutes[0] == _ts("2026-12-05 22:30", "Asia/Ho_Chi_Minh")
    assert not _covered_minutes(spec, _ts("2026-12-06 12:00", "Asia/Ho_Chi_Minh"), 24)  # Sunday noon on
    for bad, words in (("30 22 * *", "five fields"), ("61 * * * *", "outside 0-59"), ("0 1 15 * 1", "ORs them"),
                       ("0 1 * * MON", "names like MON")):
        with pytest.raises(ValueError, match=words):
            MaintenanceSpec(timezone="UTC", cron=bad, duration="1h")
    with pytest.raises(ValueError, match="start: is required"):
        MaintenanceSpec(timezone="UTC", duration="1h")
