"""An evaluation of many villages never holds the write lock long enough to make the writer give up."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

from netmon.analysis.catalog import build_catalog
from netmon.analysis.db import ensure_schema, pack_hist
from netmon.analysis.evaluator import EVAL_BATCH, Evaluator
from netmon.schema import HIST_BUCKETS
from netmon.store import Store
from tests.analysis.helpers import T0, settings, village_device

VILLAGES = 2000
BUSY_MS = 250
"""The writer's busy timeout here. One batch holds the lock for milliseconds; the old single
transaction held it for the whole evaluation (seconds here). The margin is for a loaded machine."""


def _store_with_bad_villages(path: Path) -> tuple[list, object]:
    devices = [village_device(f"ban-{k:04d}", parent=None) for k in range(VILLAGES)]
    conf = settings(raise_after=1)
    store = Store.open(path)
    ensure_schema(store)
    store.sync_devices(devices)
    catalog = build_catalog(devices, None, conf)
    hist = [0] * HIST_BUCKETS
    hist[8] = 40
    rows = [(T0 - b * 300.0, vid, 5, 2, 15, 6, *pack_hist(hist)) for b in range(1, 25) for vid in catalog.villages]
    with store.transaction() as conn:
        conn.executemany("INSERT INTO rollup_village (bucket_ts, village_id, rounds, rounds_up, sent, received,"
                         " p0, p1, p2, p3, p4, p5, p6, p7) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)", rows)
        store.mark_alive(T0 - 3 * 3600, 1, T0)
    store.close()
    return devices, conf


def test_a_writer_commits_while_an_evaluation_of_many_villages_runs(tmp_path: Path):
    path = tmp_path / "netmon.db"
    devices, conf = _store_with_bad_villages(path)
    writer = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    writer.execute(f"PRAGMA busy_timeout={BUSY_MS}")
    flags_seen, refused, failed = [], [], []
    ready, done = threading.Event(), threading.Event()

    def evaluate() -> None:  # as the bookkeeping process does, with its own connection
        store = Store.open(path)
        try:
            evaluator = Evaluator(store, build_catalog(devices, None, conf), conf)
            evaluator.metrics(T0)  # warm the page cache
            ready.set()
            evaluator.evaluate(T0)
        except Exception as exc:  # reported by the assertion below
            failed.append(repr(exc))
        finally:
            store.close()
            ready.set()
            done.set()

    thread = threading.Thread(target=evaluate)
    thread.start()
    assert ready.wait(60)
    k = 0
    while not done.wait(0.005):  # the daemon's writer commits every 0.25 s; this one far more often
        k += 1
        try:
            writer.execute("BEGIN IMMEDIATE")
            writer.execute("INSERT INTO counters VALUES (?, 1)", (f"writer-{k}",))
            writer.execute("COMMIT")
        except sqlite3.OperationalError as exc:
            refused.append(str(exc))
            writer.execute("ROLLBACK") if writer.in_transaction else None
            continue
        # How far the evaluation had got when this commit went in (its flags are committed per batch).
        flags_seen.append(writer.execute("SELECT count(*) FROM flags").fetchone()[0])
    thread.join()
    flags = writer.execute("SELECT count(*) FROM flags WHERE cleared_ts IS NULL").fetchone()[0]
    writer.close()

    assert failed == []
    assert flags == VILLAGES  # every village was judged bad and flagged: the evaluation did its writes
    assert refused == []  # no commit waited past the busy timeout
    # Commits went in while the evaluation was writing, not only before or after it.
    assert any(EVAL_BATCH <= n < VILLAGES for n in flags_seen)
