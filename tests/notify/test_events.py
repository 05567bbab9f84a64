"""Events from what analysis records: one message per commune router outage, flapping grouped, muting."""

from __future__ import annotations

import json

from netmon.analysis import flags as flagmod
from netmon.analysis.catalog import catalog_from_config
from netmon.analysis.db import ensure_schema as analysis_schema
from netmon.analysis.officehours import OfficeHours
from netmon.analysis.rollups import RollupEngine
from netmon.analysis.stability import Cause
from netmon.cli import main
from netmon.notify.component import Notifier
from netmon.store import Store
from tests.analysis.helpers import T0, rounds
from tests.notify.conftest import VILLAGES, load

NOTIFY = """  group_wait: 30s
  group_interval: 5m
  down_after: 3m
  channels:
    hook: {url: "json://127.0.0.1:9/never-used"}
  routes:
    - {channels: [hook]}
"""


def _rig(tmp_path, notify=NOTIFY):
    config = load(tmp_path, notify)
    store = Store.open(config.state_dir)
    analysis_schema(store)
    store.sync_devices(config.all_devices)
    a = config.settings.analysis
    engine = RollupEngine(store, catalog_from_config(config), a.bucket_s, a.settle or 120,
                          OfficeHours(config.settings.agent.office_hours, "UTC"), a.window_trend)
    notifier = Notifier(config)
    notifier.open()
    return config, store, engine, notifier


def _outbox(store):
    return store.conn.execute("SELECT channel, subject, body, payload FROM notify_outbox ORDER BY id").fetchall()


def test_commune_router_outage_is_one_message_naming_the_villages_behind_it(tmp_path):
    config, store, engine, notifier = _rig(tmp_path)
    router = "lai-chau/sin-ho/ubnd-router"
    cpes = [d.id for d in config.all_devices if d.commune == "Sìn Hồ" and d.kind == "cpe"]
    assert len(cpes) == len(VILLAGES)
    down = [(T0 + 600, T0 + 1500)]
    results = rounds(router, T0, T0 + 2400, down=down)
    for i, cpe in enumerate(cpes):
        results += rounds(cpe, T0 + 5 + i, T0 + 2400, down=down, seed=i)
    store.append(sorted(results, key=lambda r: r.ts))
    engine.process(T0 + 2700)
    new, _ = notifier.tick(T0 + 2700)
    assert new >= 2  # router down and up at least
    notifier.tick(T0 + 2700 + 31)
    rows = _outbox(store)
    assert len(rows) == 1, [r[1] for r in rows]
    _channel, _subject, body, payload = rows[0]
    assert "ubnd-router" in body and "Sìn Hồ" in body
    for village in VILLAGES:
        assert village in body  # the "also unreachable behind it" line
    assert "Phía sau cũng mất kết nối" in body and "Việc cần làm" in body
    assert len(json.loads(payload)["events"]) == 2  # the router's down and up, grouped
    muted = store.conn.execute("SELECT count(*) FROM notify_events WHERE muted = 'upstream'").fetchone()[0]
    assert muted == 2 * len(cpes)  # every village outage recorded, none sent


def test_flapping_village_gives_at_most_one_message_per_group_interval(tmp_path):
    config, store, _engine, notifier = _rig(tmp_path)
    v = catalog_from_config(config).villages["lai-chau/sin-ho/ta-phin"]
    now, messages = T0, []
    for minute in range(20):  # raise / clear every minute for 20 minutes
        with store.transaction() as conn:
            if minute % 2 == 0:
                fid = flagmod.raise_flag(conn, v, Cause.LINK, {"availability_pct": 97.0, "loss_pct": 8.0}, now)
            else:
                flagmod.clear_flag(conn, v, fid, now)
        for step in range(2):
            notifier.tick(now + 30 * step)
        now += 60
        messages = _outbox(store)
    notifier.tick(now + 300)
    messages = _outbox(store)
    events = store.conn.execute("SELECT count(*) FROM notify_events WHERE kind = 'flag'").fetchone()[0]
    assert events == 20
    assert 1 <= len(messages) <= 20 * 60 // 300 + 1
    keys = [k for m in messages for k in json.loads(m[3])["events"]]
    assert len(keys) == len(set(keys)) == 20  # every event in exactly one message


def test_flag_cause_settling_and_english_texts(tmp_path):
    notify = NOTIFY.replace("group_wait: 30s", "group_wait: 1ms\n  language: en")
    config, store, _engine, notifier = _rig(tmp_path, notify)
    v = catalog_from_config(config).villages["lai-chau/phong-tho/si-lo-lau"]
    with store.transaction() as conn:
        fid = flagmod.raise_flag(conn, v, Cause.LINK, {"availability_pct": 96.5, "loss_pct": 9.2, "outages": 4}, T0)
    notifier.tick(T0 + 1)
    notifier.tick(T0 + 2)  # group_wait over: the raise goes out alone
    with store.transaction() as conn:
        conn.execute("UPDATE flags SET cause = 'power', updated_ts = ? WHERE id = ?", (T0 + 400, fid))
    notifier.tick(T0 + 401)
    notifier.tick(T0 + 402)
    rows = _outbox(store)
    assert [r[1] for r in rows] == ["Village Sì Lở Lầu unstable (operator link)",
                                    "Village Sì Lở Lầu: cause settled as power cut"]
    assert "Where: Lai Châu / Phong Thổ / Sì Lở Lầu" in rows[0][2] and "Operator: MobiFone" in rows[0][2]
    assert "availability 96.5" in rows[0][2]
    assert "power/UPS" in rows[1][2]


def test_muted_village_sends_nothing_and_others_still_do(tmp_path, capsys):
    config, store, _engine, notifier = _rig(tmp_path, NOTIFY.replace("30s", "1ms"))
    assert main(["mute", "Tả Phìn", "4h", "--reason", "EVN cắt điện", "-c", str(config.path)]) == 0
    assert "EVN cắt điện" in capsys.readouterr().out
    import time

    now = time.time()
    villages = catalog_from_config(config).villages
    with store.transaction() as conn:
        flagmod.raise_flag(conn, villages["lai-chau/sin-ho/ta-phin"], Cause.LINK, {"availability_pct": 90.0}, now)
        flagmod.raise_flag(conn, villages["lai-chau/phong-tho/si-lo-lau"], Cause.LINK, {"availability_pct": 90.0},
                           now)
    notifier.tick(now + 1)
    notifier.tick(now + 2)
    rows = _outbox(store)
    assert len(rows) == 1 and "Sì Lở Lầu" in rows[0][1]
    muted = store.conn.execute("SELECT village, muted FROM notify_events WHERE composed = 2").fetchall()
    assert muted == [("Tả Phìn", muted[0][1])] and "EVN cắt điện" in muted[0][1]
    assert main(["maintenance", "list", "-c", str(config.path)]) == 0
    assert "Tả Phìn" in capsys.readouterr().out
    # the window ends; the held-back problem's cause change and clear stay held back
    assert main(["maintenance", "end", "1", "-c", str(config.path)]) == 0
    with store.transaction() as conn:
        conn.execute("UPDATE flags SET cause = 'power', updated_ts = ? WHERE village = 'Tả Phìn'", (now + 10,))
    notifier.tick(now + 11)
    with store.transaction() as conn:
        conn.execute("UPDATE flags SET cleared_ts = ?, updated_ts = ? WHERE village = 'Tả Phìn'", (now + 20, now + 20))
    notifier.tick(now + 21)
    notifier.tick(now + 22)
    assert len(_outbox(store)) == 1
    assert store.conn.execute("SELECT count(*) FROM notify_events WHERE village = 'Tả Phìn' AND composed = 2"
                              ).fetchone()[0] == 3  # raise, cause, clear: recorded, not sent
    capsys.readouterr()
    assert main(["notify", "log", "--events", "-c", str(config.path)]) == 0
    shown = capsys.readouterr().out
    assert shown.count("not sent: maintenance: EVN cắt điện (mute #1)") == 3 and "in message #1" in shown


def test_prune_keeps_pending_messages_and_drops_old_sent_ones(tmp_path):
    from netmon.notify.db import prune

    config, store, _engine, notifier = _rig(tmp_path, NOTIFY.replace("30s", "1ms"))
    villages = list(catalog_from_config(config).villages.values())
    with store.transaction() as conn:
        flagmod.raise_flag(conn, villages[0], Cause.LINK, {}, T0)
        flagmod.raise_flag(conn, villages[-1], Cause.LINK, {}, T0)
    notifier.tick(T0 + 1)
    notifier.tick(T0 + 2)
    with store.transaction() as conn:
        conn.execute("UPDATE notify_outbox SET status = 'sent', sent_ts = ? WHERE id = 1", (T0 + 3,))
        assert prune(conn, T0 + 100 * 86400) >= 2
    left = store.conn.execute("SELECT id, status FROM notify_outbox").fetchall()
    assert left == [(2, "pending")]
    assert store.conn.execute("SELECT count(*) FROM notify_events").fetchone()[0] == 1


def test_severity_route_gets_the_recovery_of_what_it_was_told(tmp_path):
    notify = NOTIFY.replace("    - {channels: [hook]}", "    - {channels: [hook], village: [Tả Phìn]}\n"
                            "    - {channels: [lead], severity: [critical]}").replace(
        "  channels:\n", "  channels:\n    lead: {url: \"json://127.0.0.1:9/lead\"}\n")
    _config, store, engine, notifier = _rig(tmp_path, notify)
    router = "lai-chau/phong-tho/ubnd-router"
    results = rounds(router, T0, T0 + 2400, down=[(T0 + 600, T0 + 1500)])
    results += rounds("lai-chau/sin-ho/ta-phin/cpe", T0 + 3, T0 + 2400, down=[(T0 + 900, T0 + 1300)])
    store.append(sorted(results, key=lambda r: r.ts))
    engine.process(T0 + 2700)
    notifier.tick(T0 + 2700)
    notifier.tick(T0 + 2731)
    rows = store.conn.execute("SELECT channel, payload FROM notify_outbox ORDER BY id").fetchall()
    by_channel = {c: json.loads(p)["events"] for c, p in rows}
    assert sorted(by_channel) == ["hook", "lead"]
    assert len(by_channel["lead"]) == 2  # the commune router's down and its recovery
    assert len(by_channel["hook"]) == 2  # the village CPE's down and up, routed by village


def test_flag_raised_by_the_real_evaluator_becomes_one_message_with_its_evidence(tmp_path):
    from netmon.analysis.evaluator import Evaluator

    config, store, engine, notifier = _rig(tmp_path, NOTIFY.replace("30s", "1ms"))
    evaluator = Evaluator(store, catalog_from_config(config), config.settings)
    cpes = [d.id for d in config.all_devices if d.kind == "cpe"]
    lossy = "lai-chau/sin-ho/ta-phin/cpe"
    results = []
    for i, cpe in enumerate(cpes):
        results += rounds(cpe, T0 + i, T0 + 7200, loss=0.35 if cpe == lossy else 0.0, seed=i)
    store.append(sorted(results, key=lambda r: r.ts))
    store.mark_alive(T0, 1, T0 + 7200)
    for k in range(6):  # evaluations every minute at the end of two lossy hours
        now = T0 + 6900 + 60 * k
        engine.process(now)
        evaluator.evaluate(now)
        notifier.tick(now)
    rows = _outbox(store)
    assert len(rows) == 1, [r[1] for r in rows]
    _channel, subject, body, _payload = rows[0]
    assert subject.startswith("Thôn Tả Phìn mất ổn định")
    assert "Nhà mạng: Viettel" in body and "mất gói" in body and "Việc cần làm" in body


def test_no_flag_rises_during_maintenance_and_measurement_goes_on(tmp_path):
    from netmon.analysis.evaluator import Evaluator
    from netmon.notify.maintenance import add_window

    config, store, engine, notifier = _rig(tmp_path, NOTIFY.replace("30s", "1ms"))
    evaluator = Evaluator(store, catalog_from_config(config), config.settings)
    lossy = "lai-chau/sin-ho/ta-phin/cpe"
    store.append(rounds(lossy, T0, T0 + 10000, loss=0.35, seed=3))
    store.mark_alive(T0, 1, T0 + 10000)
    with store.transaction() as conn:  # `netmon mute Tả Phìn` for the last evaluations' time
        add_window(conn, {"province": "Lai Châu", "commune": "Sìn Hồ", "village": "Tả Phìn"}, 600, "EVN",
                   start_ts=T0 + 6850)
    flagged_at = []
    for k in range(46):
        now = T0 + 6900 + 60 * k
        engine.process(now)
        _, evals = evaluator.evaluate(now)
        notifier.tick(now)
        if any(e.flagged for e in evals):
            flagged_at.append(now)
    # only once the window has ended and left the 30-minute judged window (its minutes are in the figures)
    assert flagged_at and T0 + 6850 + 600 + 1800 <= min(flagged_at) <= T0 + 6850 + 600 + 1800 + 300
    status = store.conn.execute("SELECT state FROM village_status WHERE village = 'Tả Phìn'").fetchone()[0]
    assert status in ("unstable", "down")  # measured and judged all along
    assert [r[1] for r in _outbox(store)] == ["Thôn Tả Phìn mất ổn định (đường truyền nhà mạng)"]
