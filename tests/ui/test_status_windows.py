"""The status view follows the configured analysis windows, whatever their names and lengths."""

from __future__ import annotations

from netmon.analysis.status_view import Inventory, load_snapshot
from netmon.config.schema import IcmpCheck, Profile
from netmon.model import Device, ProbeResult, Sample, Status
from netmon.store import Store

VID = "lab/sin-ho/lossy"
DEV = Device(id=f"{VID}/cpe", name="cpe", kind="cpe", profile="cpe", province="Lab", commune="Sìn Hồ",
             village="Lossy", host="127.0.0.1", operator="Viettel")
PROFILES = {"cpe": Profile(kind="cpe", coverage=True, checks=[IcmpCheck(name="reachability", prober="icmp")])}


def status(ts: float, windows: dict[str, dict]) -> ProbeResult:
    samples = tuple(Sample("village_status", f, {"window": w}) for w, f in windows.items())
    return ProbeResult(VID, "village-status", "analysis", Status.OK, "Lossy: unstable (link) over 60s", ts, 0.0,
                       samples)


def test_windows_named_as_configured_are_shown(tmp_path):
    store = Store.open(tmp_path / "state")
    now = 1_800_000_000.0
    store.append([status(now - 5, {
        "60s": {"state": "unstable", "cause": "link", "loss_pct": 25.0, "availability_pct": 100.0, "flagged": 1},
        "10m": {"state": "degraded", "cause": "none", "loss_pct": 3.0, "availability_pct": 100.0, "flagged": 1}})])
    for windows in (("60s", "10m"), None):  # configured, or no config: short window first as stored
        snap = load_snapshot(store, Inventory([DEV], PROFILES, windows), "t", [], now=now)
        (row,) = snap.villages
        assert row.state.value == "unstable" and row.loss_pct == 25.0, windows
        assert (row.window, row.trend_window) == ("60s", "10m")
        assert row.trend["loss_pct"] == 3.0
        d = row.as_dict()
        assert d["window"] == "60s" and d["trend"]["state"] == "degraded"
    store.close()
