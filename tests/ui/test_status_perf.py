"""The status view with 5,000 villages: one snapshot and one frame stay well inside a redraw."""

from __future__ import annotations

import io
import time
from pathlib import Path

import pytest
from rich.console import Console

from netmon.analysis.status_view import State
from netmon.config import load_config
from netmon.store import Store
from netmon.ui.status import LiveStatus, StatusSource
from netmon.ui.status_layout import View

from .conftest import big_config, fill_big

VILLAGES = 5000


@pytest.mark.slow
def test_five_thousand_villages(tmp_path: Path) -> None:
    path = tmp_path / "big.yaml"
    path.write_text(big_config(VILLAGES), encoding="utf-8")
    config = load_config(path)
    ids = list(dict.fromkeys(d.id.rsplit("/", 1)[0] for d in config.devices if d.village))
    assert len(ids) == VILLAGES
    store = Store.open(config.state_dir)
    fill_big(store, ids, time.time())
    store.close()

    ro = Store.open(config.state_dir, readonly=True)
    source = StatusSource(config, ro)
    started = time.perf_counter()
    snap = source.snapshot()
    load_s = time.perf_counter() - started
    assert len(snap.villages) == VILLAGES
    assert snap.state_counts()[State.DOWN] == VILLAGES // 7

    console = Console(width=80, height=24, color_system=None, file=io.StringIO(), force_terminal=True)
    live = LiveStatus(source, View(), console)
    console.print(live.frame(snap))  # first frame warms rich's caches
    frame_s = []
    for key in ("n", "G", "f", "s", "p"):
        live.handle(key)
        started = time.perf_counter()
        console.print(live.frame(snap))
        frame_s.append(time.perf_counter() - started)
    ro.close()
    print(f"\n{VILLAGES} villages: snapshot {load_s * 1000:.0f} ms, frames {max(frame_s) * 1000:.1f} ms max")
    assert load_s < 10.0, f"reading 5,000 villages took {load_s:.2f} s"  # a guard, not a benchmark
    assert max(frame_s) < 2.5, f"a key press took {max(frame_s):.2f} s to draw"
