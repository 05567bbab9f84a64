"""Delivery to real receivers on loopback: SMTP (aiosmtpd) via Apprise mailto://, HTTP via json:// and
the templated webhook; the receivers go away (uplink outage) and come back."""

from __future__ import annotations

import asyncio
import time

from netmon.analysis import flags as flagmod
from netmon.analysis.catalog import catalog_from_config
from netmon.analysis.db import ensure_schema as analysis_schema
from netmon.analysis.stability import Cause
from netmon.cli import main
from netmon.notify.component import Notifier
from netmon.store import Store
from tests.notify.conftest import HttpReceiver, SmtpReceiver, load, wait_for

SMTP_PASS, ZALO_TOKEN = "mat-khau-9", "zalo-bi-mat-123"


def _notify_yaml(smtp_port: int, http_port: int) -> str:
    return f"""  group_wait: 1ms
  group_interval: 1ms
  late_after: 2s
  max_backoff: 1s
  channels:
    mail: {{url: "mailto://kythuat:${{SMTP_PASS}}@127.0.0.1:{smtp_port}?from=netmon@tinh.example&to=kt@xa.example"}}
    hook: {{url: "json://127.0.0.1:{http_port}/apprise"}}
    zalo:
      webhook:
        url: "http://127.0.0.1:{http_port}/zalo"
        headers: {{Authorization: "Bearer ${{ZALO_TOKEN}}"}}
        template: {{recipient: kt-sin-ho, message: {{text: "{{subject}}\\n{{body}}"}}, id: "{{key}}", late: "{{late}}"}}
  routes:
    - {{channels: [mail, hook, zalo]}}
"""


def _setup(tmp_path, smtp, http, monkeypatch):
    monkeypatch.setenv("SMTP_PASS", SMTP_PASS)
    monkeypatch.setenv("ZALO_TOKEN", ZALO_TOKEN)
    config = load(tmp_path, _notify_yaml(smtp.port, http.port), env={"SMTP_PASS": SMTP_PASS, "ZALO_TOKEN": ZALO_TOKEN})
    store = Store.open(config.state_dir)
    analysis_schema(store)
    notifier = Notifier(config)
    notifier.open()
    return config, store, notifier, catalog_from_config(config).villages


def _raise(store, village, ts: float) -> None:
    with store.transaction() as conn:
        flagmod.raise_flag(conn, village, Cause.LINK, {"availability_pct": 95.0, "loss_pct": 7.5, "outages": 3}, ts)


def _cycle(notifier) -> int:
    notifier.tick()
    time.sleep(0.01)
    notifier.tick()
    return asyncio.run(notifier.deliver())


def test_messages_arrive_with_content_then_survive_an_outage_in_order_once_marked_late(tmp_path, capsys, monkeypatch):
    smtp, http = SmtpReceiver(password=SMTP_PASS).start(), HttpReceiver().start()
    try:
        config, store, notifier, villages = _setup(tmp_path, smtp, http, monkeypatch)
        _raise(store, villages["lai-chau/sin-ho/ta-phin"], time.time() - 5)
        assert _cycle(notifier) == 3
        (subject, body), = smtp.texts()
        assert subject == "Thôn Tả Phìn mất ổn định (đường truyền nhà mạng)"
        assert "Địa điểm: Lai Châu / Sìn Hồ / Tả Phìn" in body and "Nhà mạng: Viettel" in body
        assert "khả dụng 95.0%" in body and "Việc cần làm: gửi phản ánh cho Viettel" in body
        (apprise_post,) = http.on("/apprise")
        assert apprise_post["json"]["title"] == subject and "Tả Phìn" in apprise_post["json"]["message"]
        (zalo,) = http.on("/zalo")
        assert zalo["headers"]["Authorization"] == f"Bearer {ZALO_TOKEN}"
        assert zalo["json"]["recipient"] == "kt-sin-ho" and zalo["json"]["message"]["text"].startswith(subject)
        assert zalo["json"]["id"] == zalo["headers"]["Idempotency-Key"] and zalo["json"]["late"] == "0"

        # the uplink goes down; three problems happen meanwhile, the first two long before delivery
        smtp.stop()
        http.stop()
        now = time.time()
        _raise(store, villages["lai-chau/sin-ho/lang-mo"], now - 1200)
        _raise(store, villages["lai-chau/phong-tho/si-lo-lau"], now - 1100)
        assert _cycle(notifier) == 0
        _raise(store, villages["lai-chau/sin-ho/nam-tam"], time.time())
        assert _cycle(notifier) == 0
        pending = store.conn.execute("SELECT count(*) FROM notify_outbox WHERE status = 'pending'").fetchone()[0]
        assert pending == 9  # three messages for each of three channels, none given up
        assert main(["notify", "log", "-c", str(config.path)]) == 0
        shown = capsys.readouterr().out
        assert "pending" in shown and "reason:" in shown
        assert SMTP_PASS not in shown and ZALO_TOKEN not in shown
        monkeypatch.delenv("SMTP_PASS")  # a technician without the service's secrets can still read the log
        monkeypatch.delenv("ZALO_TOKEN")
        assert main(["notify", "log", "--status", "pending", "-c", str(config.path)]) == 0
        assert capsys.readouterr().out.count("pending ") == 9

        created = store.conn.execute("SELECT max(created_ts) FROM notify_outbox").fetchone()[0]
        wait_for(lambda: time.time() - created > 2.5, 10, "the outage to outlast late_after")
        # the uplink is back on the same addresses
        smtp.start()
        http.start()
        wait_for(lambda: asyncio.run(notifier.deliver()) is not None and not store.conn.execute(
            "SELECT count(*) FROM notify_outbox WHERE status != 'sent'").fetchone()[0], 30, "every message sent")
        late_subjects = ["Thôn Làng Mô mất ổn định (đường truyền nhà mạng)",
                         "Thôn Sì Lở Lầu mất ổn định (đường truyền nhà mạng)",
                         "Thôn Nậm Tăm mất ổn định (đường truyền nhà mạng)"]
        mails = smtp.texts()[1:]
        assert [s for s, _ in mails] == late_subjects  # in order, each once
        assert all("gửi muộn" in b for _, b in mails) and "gửi muộn" not in smtp.texts()[0][1]
        assert "Sự kiện lúc" in mails[0][1]
        assert [p["json"]["title"] for p in http.on("/apprise")][1:] == late_subjects
        zalos = http.on("/zalo")[1:]
        assert [z["json"]["message"]["text"].split("\n")[0] for z in zalos] == late_subjects
        assert [z["json"]["late"] for z in zalos] == ["1", "1", "1"]
        assert len({z["json"]["id"] for z in http.on("/zalo")}) == 4
    finally:
        smtp.stop()
        http.stop()


def test_notify_test_command_reaches_the_channel_and_a_dead_one_says_why(tmp_path, capsys, monkeypatch):
    smtp, http = SmtpReceiver(password=SMTP_PASS).start(), HttpReceiver().start()
    try:
        config, _store, _notifier, _ = _setup(tmp_path, smtp, http, monkeypatch)
        assert main(["notify", "test", "mail", "-c", str(config.path)]) == 0
        wait_for(lambda: smtp.messages, 10, "the test mail")
        assert "tin thử" in smtp.texts()[0][0]
        http.stop()
        assert main(["notify", "test", "zalo", "-c", str(config.path)]) == 1
        out = capsys.readouterr().out
        assert "FAILED: channel zalo" in out and ZALO_TOKEN not in out
    finally:
        smtp.stop()
        http.stop()
