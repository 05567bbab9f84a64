"""Which place a maintenance window holds, and for how long: the pure functions analysis shares."""

from __future__ import annotations

from netmon.analysis.availability import _widths
from netmon.analysis.maintenance import Window, device_hold, merge, overlap_s, village_hold, village_spans

PLACE = ("Lai Châu", "Sìn Hồ", "Tả Phìn")
CPE, BTS = "lai-chau/sin-ho/ta-phin/cpe", "lai-chau/sin-ho/ta-phin/bts"


def _w(start: float, end: float, reason: str = "", **scope: str) -> Window:
    return Window(start, end, scope, reason, "test")


def test_village_held_by_its_place_or_by_windows_on_every_coverage_device():
    commune = _w(0, 100, "EVN", commune="Sìn Hồ")
    assert village_hold([commune], *PLACE, [CPE]) is commune
    assert village_hold([_w(0, 100, commune="Phong Thổ")], *PLACE, [CPE]) is None
    one = _w(0, 100, "thay CPE", device=CPE)
    assert village_hold([one], *PLACE, [CPE]) is one
    assert village_hold([one], *PLACE, [CPE, BTS]) is None  # the BTS still measures the village
    both = [one, _w(0, 300, "thay BTS", device=BTS)]
    assert village_hold(both, *PLACE, [CPE, BTS]).reason == "thay BTS"  # the last to end
    assert device_hold([one], "Lai Châu", "Sìn Hồ", CPE) is one
    assert device_hold([one], "Lai Châu", "Sìn Hồ", BTS) is None


def test_village_spans_union_of_place_windows_and_intersection_over_devices():
    windows = [_w(0, 50, village="Tả Phìn"), _w(40, 120, village="Tả Phìn"), _w(200, 400, device=CPE),
               _w(300, 500, device=BTS), _w(0, 1000, village="Làng Mô")]
    assert village_spans(windows, *PLACE, [CPE, BTS], 0, 450) == [(0, 120), (300, 400)]
    assert village_spans(windows, *PLACE, [CPE], 0, 450) == [(0, 120), (200, 400)]
    assert overlap_s(merge([(0, 10), (5, 20), (30, 40)]), 15, 35) == 10


def test_bucket_widths_read_merged_hours():
    assert _widths([0.0, 3600.0, 3900.0, 4200.0, 10800.0], 300.0) == [3600.0, 300.0, 300.0, 300.0, 3600.0]
    assert _widths([0.0, 3600.0], 3600.0) == [3600.0, 3600.0]


def test_the_flag_stays_held_while_the_cut_is_inside_the_judged_window(tmp_path):
    """A 10-minute window judged every minute: a village dark through its maintenance window is not flagged
    the minute the window ends (its cut is still in the figures), only once the cut has left them."""
    from netmon.analysis.status import flags_since
    from netmon.notify.maintenance import add_window
    from netmon.store import Store

    from .helpers import ROUTER, T0, Rig, rounds, router, village_device

    store = Store.open(tmp_path / "state")
    held, control = village_device("ta-phin"), village_device("nam-tam")
    rig = Rig(store, [router(), held, control], window_now=600, raise_after=2, clear_after=500)
    dark, end = (T0 + 600, T0 + 3600), T0 + 2700
    with store.transaction() as conn:
        add_window(conn, {"province": "Lai Châu", "commune": "Sìn Hồ", "village": "Ta Phin"}, 900, "EVN",
                   start_ts=dark[0])  # the window ends at +25 min; the village stays dark (a real fault)
    results = sorted(rounds(ROUTER, T0, end) + rounds(held.id, T0, end, down=[dark])
                     + rounds(control.id, T0, end, down=[dark]), key=lambda r: r.ts)
    rig.alive(T0, end)
    now, i = T0 + 60, 0
    while now <= end:
        j = i
        while j < len(results) and results[j].ts < now:
            j += 1
        rig.feed(results[i:j], now)
        i = j
        rig.evaluate(now)
        now += 60
    raised = {f.village: f.raised_ts for f in flags_since(store, 0)}
    store.close()
    assert raised["Nam Tam"] < T0 + 1500  # the control: flagged within minutes of going dark
    # held through the window (to +25 min) and the 10 minutes its cut stays in the judged window
    assert T0 + 600 + 900 + 600 <= raised["Ta Phin"] <= T0 + 600 + 900 + 600 + 300
