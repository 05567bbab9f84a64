"""Agent trouble (an output stalled, no results) and services behind a commune router that is down."""

from __future__ import annotations

import time

from netmon.analysis.db import ensure_schema as analysis_schema
from netmon.model import ProbeResult, Status
from netmon.notify.component import Notifier
from netmon.store import Store
from tests.notify.conftest import load

NOTIFY = """  group_wait: 1ms
  group_interval: 1ms
  language: en
  output_stalled_after: 30m
  no_results_after: 10m
  channels:
    it: {url: "json://127.0.0.1:9/x"}
  routes:
    - {channels: [it]}
"""
SERVICE = "lai-chau/sin-ho/dichvucong"
ROUTER = "lai-chau/sin-ho/ubnd-router"


def _rig(tmp_path):
    config = load(tmp_path, NOTIFY)
    store = Store.open(config.state_dir)
    analysis_schema(store)
    notifier = Notifier(config)
    notifier.open()
    notifier.started_ts -= 3600  # running for an hour
    return store, notifier


def _subjects(store):
    return [r[0] for r in store.conn.execute("SELECT subject FROM notify_outbox ORDER BY id")]


def _http(ts: float, ok: bool) -> ProbeResult:
    return ProbeResult(SERVICE, "http", "http", Status.OK if ok else Status.REFUSED,
                       "200 OK" if ok else "connection refused", ts, 0.01)


def test_stalled_output_and_silent_scheduler_are_told_once_and_when_they_recover(tmp_path):
    store, notifier = _rig(tmp_path)
    now = time.time()
    store.append([_http(now - 60 + i, True) for i in range(5)])
    with store.transaction() as conn:
        conn.execute("INSERT INTO cursors VALUES ('province-influx', 0, ?)", (now - 3600,))
    for step in range(3):
        notifier.tick(now + step)
    assert _subjects(store) == ["Output province-influx of agent test-agent stopped sending"]
    with store.transaction() as conn:
        conn.execute("UPDATE cursors SET seq = ?, updated_ts = ?", (store.max_seq(), now + 5))
    notifier.tick(now + 900)  # the output caught up, but nothing new was stored for 15 minutes
    notifier.tick(now + 901)
    assert _subjects(store)[1:] == ["Lai Châu: 2 events"]
    body = store.conn.execute("SELECT body FROM notify_outbox ORDER BY id DESC").fetchone()[0]
    assert "Output province-influx of agent test-agent sends again" in body
    assert "Agent test-agent stores no results" in body and "journalctl" in body


def test_service_behind_a_down_commune_router_is_recorded_not_sent(tmp_path):
    store, notifier = _rig(tmp_path)
    now = time.time()
    with store.transaction() as conn:  # the rollups recorded the commune router's outage
        conn.execute("INSERT INTO analysis_outages (device_id, village_id, start_ts, cause) VALUES (?, '', ?, 'link')",
                     (ROUTER, now - 600))
    notifier.tick(now - 400)  # the notifier was already watching when the service checks failed
    store.append([_http(now - 300 + 60 * i, False) for i in range(4)])
    notifier.tick(now)
    notifier.tick(now + 1)
    assert store.conn.execute("SELECT muted FROM notify_events WHERE kind = 'service'").fetchall() == [("upstream",)]
    subjects = _subjects(store)
    assert subjects == ["ubnd-router is down"]  # the router's message, not the service's
