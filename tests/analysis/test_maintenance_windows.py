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
