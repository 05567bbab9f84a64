"""Daily operator digest by e-mail with its CSV attached, through a real SMTP server; once per day."""

from __future__ import annotations

import asyncio
import json
import time
from datetime import datetime
from zoneinfo import ZoneInfo

from netmon.analysis import flags as flagmod
from netmon.analysis.catalog import catalog_from_config
from netmon.analysis.db import ensure_schema as analysis_schema
from netmon.analysis.stability import Cause
from netmon.config.notify_schema import DigestSpec
from netmon.notify.component import Notifier
from netmon.notify.digests import last_occurrence
from netmon.store import Store
from tests.notify.conftest import SmtpReceiver, load, wait_for

TZ = "Asia/Ho_Chi_Minh"


def test_last_occurrence_daily_and_weekly_in_local_time():
    now = datetime(2026, 12, 2, 7, 0, tzinfo=ZoneInfo(TZ)).timestamp()  # a Wednesday, 07:00
    daily = last_occurrence(DigestSpec(kind="operator-daily", at="07:30", channels=["x"]), TZ, now)
    assert daily.strftime("%Y-%m-%d %H:%M %a") == "2026-12-01 07:30 Tue"
    weekly = last_occurrence(DigestSpec(kind="province-weekly", at="08:00", weekday="Mon", channels=["x"]), TZ, now)
    assert weekly.strftime("%Y-%m-%d %H:%M %a") == "2026-11-30 08:00 Mon"


def test_operator_daily_digest_arrives_once_per_operator_with_csv(tmp_path, monkeypatch):
    smtp = SmtpReceiver(password="pw-1").start()
    try:
        now = time.time()
        at = datetime.fromtimestamp(now - 600, ZoneInfo(TZ)).strftime("%H:%M")
        monkeypatch.setenv("SMTP_PASS", "pw-1")
        config = load(tmp_path, f"""  channels:
    mail: {{url: "mailto://kythuat:${{SMTP_PASS}}@127.0.0.1:{smtp.port}?from=netmon@tinh.example&to=tinh@x.example"}}
  digests:
    - {{kind: operator-daily, at: "{at}", channels: [mail]}}
""")
        store = Store.open(config.state_dir)
        analysis_schema(store)
        notifier = Notifier(config)
        notifier.open()
        notifier.tick(now - 1200)  # the notifier ran before the scheduled minute
        villages = catalog_from_config(config).villages
        with store.transaction() as conn:
            flagmod.raise_flag(conn, villages["lai-chau/sin-ho/ta-phin"], Cause.LINK,
                               {"availability_pct": 96.1, "loss_pct": 8.0, "outages": 5}, now - 900)
            flagmod.raise_flag(conn, villages["lai-chau/sin-ho/lang-mo"], Cause.POWER, {}, now - 900)
            flagmod.raise_flag(conn, villages["lai-chau/phong-tho/si-lo-lau"], Cause.LINK, {"loss_pct": 6.0},
                               now - 900)
        notifier.tick(now)
        notifier.tick(now + 1)  # the same day's digest is queued once
        assert store.conn.execute("SELECT count(*) FROM notify_outbox WHERE key LIKE 'digest:%'").fetchone()[0] == 2
        asyncio.run(notifier.deliver())
        wait_for(lambda: len(smtp.messages) >= 2, 20, "two digests")
        by_subject = {str(m["Subject"]): m for m in smtp.messages}
        viettel = by_subject["Danh sách thôn cần Viettel xử lý: 1 thôn"]
        assert "Sìn Hồ / Tả Phìn" in viettel.get_body(("plain",)).get_content()
        (csv_part,) = [p for p in viettel.iter_attachments()]
        assert csv_part.get_filename().startswith("flags-Viettel-")
        table = csv_part.get_payload(decode=True).decode("utf-8-sig")
        assert "Tả Phìn" in table and "Làng Mô" not in table  # a power cut is not the operator's matter
        assert "Danh sách thôn cần MobiFone xử lý: 1 thôn" in by_subject
    finally:
        smtp.stop()


def test_weekly_pc_list_ranks_the_latest_verdicts_and_queues_once(tmp_path):
    from netmon.analysis.aging import PcHealth

    config = load(tmp_path, """  language: en
  channels:
    it: {url: "json://127.0.0.1:9/x"}
  digests:
    - {kind: pc-weekly, at: "08:00", weekday: Mon, channels: [it]}
""")
    store = Store.open(config.state_dir)
    analysis_schema(store)
    store.sync_devices(config.all_devices)
    monday = datetime(2026, 11, 30, 8, 0, tzinfo=ZoneInfo(TZ)).timestamp()
    notifier = Notifier(config)
    notifier.open()
    notifier.tick(monday - 86400)  # running since the Sunday before
    old, new = "lai-chau/sin-ho/ubnd-router", "lai-chau/phong-tho/ubnd-router"  # any two devices of the store
    store.append([PcHealth(old, 80, ("disk 97% full", "Windows 7 past end of support")).to_result(monday - 7200),
                  PcHealth(new, 10, ()).to_result(monday - 7000),
                  PcHealth(old, 90, ("disk 99% full", "Windows 7 past end of support")).to_result(monday - 3600)])
    notifier.tick(monday + 60)
    notifier.tick(monday + 120)
    rows = store.conn.execute("SELECT subject, body, attach FROM notify_outbox").fetchall()
    assert len(rows) == 1
    subject, body, attach = rows[0]
    assert subject == "Office PCs to replace (test-agent): 1"
    assert "Sìn Hồ / ubnd-router (90): disk 99% full" in body and "97%" not in body
    (table,) = json.loads(attach).values()
    assert table.splitlines()[1].startswith("Lai Châu,Sìn Hồ,ubnd-router,127.0.0.1,90,")
