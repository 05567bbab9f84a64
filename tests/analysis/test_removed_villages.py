"""A village removed or renamed in the config: its open flag closes, and `netmon check` warns first."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from netmon.analysis.flags import REMOVED
from netmon.analysis.status import flags_since, latest_village_status, open_flags
from netmon.config import load_config
from netmon.store import Store
from netmon.ui.check import render_check

from .helpers import ROUTER, T0, Rig, rounds, router, village_device

CONFIG = """\
version: 1
agent: {{name: t, state_dir: {state}}}
inventory:
  - name: Lai Châu
    communes:
      - name: Sìn Hồ
        devices: [{{name: ubnd-router, kind: router, profile: ping, host: 127.0.0.1}}]
        villages:
          - {{name: {village}, devices: [{{name: cpe, kind: cpe, profile: ping, host: 127.0.0.2}}]}}
"""


@pytest.fixture
def store(tmp_path):
    s = Store.open(tmp_path / "state")
    yield s
    s.close()


def flag_lossy(store: Store) -> None:
    dev = village_device("lossy")
    rig = Rig(store, [router(), dev], window_now=1200)
    rig.alive(T0, T0 + 3600)
    rig.feed(rounds(ROUTER, T0, T0 + 3600) + rounds(dev.id, T0, T0 + 3600, loss=0.4), T0 + 3600)
    for k in range(4):
        rig.evaluate(T0 + 3000 + 60 * k)
    assert [f.village_id for f in open_flags(store)] == ["lai-chau/sin-ho/lossy"]


def test_renamed_village_has_its_flag_closed_at_the_next_evaluation(store):
    flag_lossy(store)
    renamed = Rig(store, [router(), village_device("lossy-ban-2")], window_now=1200)  # the reloaded config
    renamed.evaluate(T0 + 3600)
    assert open_flags(store) == []
    (flag,) = flags_since(store, 0)
    assert flag.cleared_ts == T0 + 3600 and flag.evidence["cleared_reason"] == REMOVED
    assert "lai-chau/sin-ho/lossy" not in latest_village_status(store)


def test_check_warns_about_a_rename_that_orphans_an_open_flag(store, tmp_path):
    flag_lossy(store)
    store.close()
    for village, warned in (("Lossy", False), ("Lossy bản 2", True)):
        path = tmp_path / f"{village}.yaml"
        path.write_text(CONFIG.format(state=tmp_path / "state", village=village), encoding="utf-8")
        console = Console(width=300, no_color=True, record=True, file=io.StringIO())
        render_check(load_config(path), console)
        text = console.export_text()
        assert ("warning: village 'Sìn Hồ / Lossy' (lai-chau/sin-ho/lossy) has an open link flag" in text) is warned


PROFILE = """kind: fastping
coverage: true
checks:
  - {name: reachability, prober: icmp, interval: 1s, count: 2, timeout: 500ms, packet_interval: 10ms}
"""
DAEMON_CONFIG = """\
version: 1
agent: {{name: t, state_dir: state}}
profiles: [profiles]
analysis: {{evaluate_every: 2s, window_now: 60s, window_trend: 10m, clear_after: 1000}}
inventory:
  - name: Lai Châu
    communes:
      - name: Sìn Hồ
        villages:
          - {{name: {village}, devices: [{{name: cpe, kind: fastping, host: 127.0.0.1}}]}}
"""


def test_renamed_village_on_sighup_closes_its_flag(tmp_path):
    import signal
    import subprocess
    import sys
    import time

    from netmon.analysis.catalog import VillageInfo
    from netmon.analysis.db import ensure_schema
    from netmon.analysis.flags import raise_flag
    from netmon.analysis.stability import Cause

    (tmp_path / "profiles").mkdir()
    (tmp_path / "profiles" / "fastping.yaml").write_text(PROFILE, encoding="utf-8")
    config = tmp_path / "netmon.yaml"
    config.write_text(DAEMON_CONFIG.format(village="Lossy"), encoding="utf-8")
    seeded = Store.open(tmp_path / "state")
    ensure_schema(seeded)
    with seeded.transaction() as conn:  # a flag left open by an earlier run
        raise_flag(conn, VillageInfo("lai-chau/sin-ho/lossy", "Lai Châu", "Sìn Hồ", "Lossy", "Viettel"),
                   Cause.LINK, {"grounds": ["loss 30 % > 5 %"]}, time.time() - 600)
    seeded.close()

    def flag() -> tuple:
        s = Store.open(tmp_path / "state", readonly=True)
        try:
            return s.conn.execute("SELECT cleared_ts, evidence FROM flags").fetchone()
        finally:
            s.close()

    log = tmp_path / "daemon.log"
    proc = subprocess.Popen([sys.executable, "-m", "netmon", "run", "-c", str(config)], stdout=subprocess.DEVNULL,
                            stderr=log.open("w"))
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and "village_status" not in log.read_text() and not _evaluated(tmp_path):
            time.sleep(0.5)
        assert _evaluated(tmp_path), log.read_text()[-2000:]
        assert flag()[0] is None  # still in the inventory: the flag stays open
        config.write_text(DAEMON_CONFIG.format(village="Lossy bản 2"), encoding="utf-8")
        proc.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and flag()[0] is None:
            time.sleep(0.5)
        cleared, evidence = flag()
        assert cleared is not None, log.read_text()[-2000:]
        assert REMOVED in evidence and f"flag closed: Sìn Hồ / Lossy: {REMOVED}" in log.read_text()
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)


def _evaluated(folder) -> bool:
    s = Store.open(folder / "state", readonly=True)
    try:
        return s.conn.execute("SELECT count(*) FROM village_status").fetchone()[0] > 0
    finally:
        s.close()
