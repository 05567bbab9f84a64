"""The status view rendered to a fixed-width colourless console, compared as text."""

from __future__ import annotations

import io
from pathlib import Path
from zoneinfo import ZoneInfo

from rich.cells import cell_len
from rich.console import Console

from netmon.analysis.status_view import Source, State
from netmon.config import load_config
from netmon.store import Store
from netmon.ui.status import StatusSource
from netmon.ui.status_layout import Filter, View, body_lines, paginate, parse_states
from netmon.ui.status_render import render_once, render_screen, sparklines

from .conftest import NOW, ping

TZ = ZoneInfo("Asia/Ho_Chi_Minh")

EXPECTED_100 = """\
netmon lai-chau-01 · 16 targets · 3.5 probes/s · last round 15:52:50 (30s ago) · lag 0.01s
InfluxDB backlog: influxdb 5 · at 15:53:20 · * provisional: latest pings, no analysis yet
7 villages: ✓ 1 good, ▲ 2 degraded, ≈ 2 unstable, ✗ 1 down, ? 1 unknown
place                        state       avail% loss% p95ms last hour    flag / operator
Lai Châu
  Sìn Hồ                     office 2/4 up, down: ketoan-pc, 1 unknown
    Tả Phìn                  ✓ good         100   0.0    12 ████████████
    Làng Mô, Nậm Tăm         ▲ degraded   99.31   1.6   180 █_███_███_██
    Nậm Cuổi                 ≈ unstable   96.50   7.2   320 █_███_███_██ ⚑ link Viettel
  Phong Thổ                  office 1/1 up
    Sì Lở Lầu                ✗ down       41.00 100.0     - ██████______ ⚑ power MobiFone
    Mù Sang                  ≈ unstable   98.20   0.4    45 ████████████ ⚑ upstream VNPT
    Huổi Luông               ? unknown*       -     -     - ············
Điện Biên
  Mường Nhé
    Chung Chải               ▲ degraded*      -     -     - ███████████▄
⚑ flagged 3: MobiFone 1, VNPT 1, Viettel 1
worst PCs: ketoan-pc 75, motcua-pc-1 25
"""


def snapshot_text(config_path: Path, width: int, flt: Filter | None = None) -> str:
    """Render `--once` for the store next to `config_path` as plain text."""
    flt = flt or Filter()
    store = Store.open(config_path.parent / "state", readonly=True)
    try:
        source = StatusSource(load_config(config_path), store)
        snap = source.snapshot(NOW)
        shown = [r for r in snap.villages if flt.matches(r)]
        sparklines(store, shown, NOW)
        console = Console(width=width, color_system=None, file=io.StringIO(), record=True)
        console.print(render_once(snap, flt, TZ, width, body_lines(snap, flt), shown), soft_wrap=True)
        return console.export_text()
    finally:
        store.close()


def test_snapshot_at_100_columns_matches(filled: Path) -> None:
    assert snapshot_text(filled, 100) == EXPECTED_100


def test_vietnamese_names_line_up(filled: Path) -> None:
    villages = [line for line in snapshot_text(filled, 100).splitlines() if line.startswith("    ")]
    assert len(villages) == 7
    # The state symbol sits at the same terminal cell on every line, diacritics or not.
    offsets = {cell_len(line[:min(line.index(s) for s in "✓▲≈✗?" if s in line)]) for line in villages}
    assert offsets == {29}
    spark_cells = {cell_len(line[:line.index(" ", 55)]) for line in villages}
    assert len(spark_cells) == 1


def test_narrow_terminals_drop_columns_not_wrap(filled: Path) -> None:
    for width in (80, 60, 40):
        text = snapshot_text(filled, width)
        assert max(cell_len(line) for line in text.splitlines()) <= width
        assert "    Sì Lở Lầu" in text and "✗ down" in text
    assert "last hour" in snapshot_text(filled, 80)
    assert "last hour" not in snapshot_text(filled, 60)
    assert "flag / operator" not in snapshot_text(filled, 40)


def test_filters_by_state_flag_text_and_place(filled: Path) -> None:
    text = snapshot_text(filled, 100, Filter(states=parse_states("down,unstable")))
    assert "3 villages" in text and "Tả Phìn" not in text and "Nậm Cuổi" in text and "Mù Sang" in text
    text = snapshot_text(filled, 100, Filter(flagged=True, province="lai-chau"))
    assert "3 villages" in text and "Điện Biên" not in text
    text = snapshot_text(filled, 100, Filter(text="ta phin"))
    assert "1 villages" in text and "Tả Phìn" in text and "Phong Thổ" not in text
    text = snapshot_text(filled, 100, Filter(commune="Phong Thổ"))
    assert "Sìn Hồ" not in text and "Mù Sang" in text and "Huổi Luông" in text


def test_fresh_store_is_provisional_from_pings(province: Path) -> None:
    store = Store.open(province.parent / "state")
    store.append([ping("lai-chau/sin-ho/ta-phin/cpe-nha-van-hoa", True, NOW - 30),
                  ping("lai-chau/sin-ho/ta-phin/bts-ta-phin", True, NOW - 30),
                  ping("lai-chau/sin-ho/nam-cuoi/cpe-nha-van-hoa", False, NOW - 30),
                  ping("lai-chau/sin-ho/ubnd-router", True, NOW - 30)])
    store.close()
    ro = Store.open(province.parent / "state", readonly=True)
    snap = StatusSource(load_config(province), ro).snapshot(NOW)
    states = {r.info.id: (r.state, r.source) for r in snap.villages}
    ro.close()
    assert states["lai-chau/sin-ho/ta-phin"] == (State.GOOD, Source.PROVISIONAL)
    assert states["lai-chau/sin-ho/nam-cuoi"] == (State.DOWN, Source.PROVISIONAL)
    assert states["lai-chau/phong-tho/mu-sang"] == (State.UNKNOWN, Source.PROVISIONAL)
    assert not snap.flag_table and not any(r.flagged for r in snap.villages)
    assert snap.header.heartbeat_ts is None
    text = snapshot_text(province, 100)
    assert "agent has not run yet" in text and "✓ good*" in text and "✗ down*" in text
    assert "office 1/4 up, 3 unknown" in text


def test_flags_come_from_village_status_without_the_table(filled: Path) -> None:
    store = Store.open(filled.parent / "state")
    store.conn.execute("DROP TABLE flags")
    store.close()
    text = snapshot_text(filled, 100)
    assert "⚑ flagged 3" in text and "⚑ power MobiFone" in text


def test_pages_repeat_headings_and_fit_the_screen(filled: Path) -> None:
    store = Store.open(filled.parent / "state", readonly=True)
    source = StatusSource(load_config(filled), store)
    snap = source.snapshot(NOW)
    lines = body_lines(snap, Filter())
    pages = paginate(lines, 5)
    assert all(len(p) <= 5 for p in pages)
    assert sum(1 for p in pages for line in p if line.kind == "village") == 7
    second = pages[1]
    assert second[0].kind == "province" and second[0].context
    view = View(page=1)
    console = Console(width=80, color_system=None, file=io.StringIO(), record=True)
    console.print(render_screen(snap, view, pages, TZ, 80, snap.villages))
    text = console.export_text()
    store.close()
    assert "(cont.)" in text and f"n/p page 2/{len(pages)}" in text
