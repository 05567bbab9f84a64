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
