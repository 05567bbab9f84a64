"""Services in the status view: one agent is one vantage point, so a failure is never blamed on a link."""

from __future__ import annotations

import time

from netmon.analysis.status_view import Inventory, load_snapshot
from netmon.config.schema import HttpCheck, Profile, TcpCheck
from netmon.model import Device, ProbeResult, Sample, Status
from netmon.store import Store

COMMUNES = ["Sìn Hồ", "Phong Thổ", "Tam Đường"]
PORTAL = "https://dichvucong.example/"


def devices() -> list[Device]:
    out = []
    for i, commune in enumerate(COMMUNES):
        base = f"lai-chau/c{i}"
        out.append(Device(id=f"{base}/dichvucong", name="dichvucong", kind="service", profile="service",
                          province="Lai Châu", commune=commune, village="", url=PORTAL))
        out.append(Device(id=f"{base}/mot-cua", name="mot-cua", kind="port", profile="port",
                          province="Lai Châu", commune=commune, village="", host="127.0.0.1", port=8443))
    return out


PROFILES = {
    "service": Profile(kind="service", checks=[HttpCheck(name="http", prober="http", interval=60)]),
    "port": Profile(kind="port", checks=[TcpCheck(name="tcp", prober="tcp", interval=60)]),
}


def http(device: Device, ok: bool, ts: float) -> ProbeResult:
    fields = {"response_time": 0.2, "result_code": 0 if ok else 3}
    tags = {"server": PORTAL, "method": "GET", "result": "success" if ok else "connection_failed"}
    return ProbeResult(device.id, "http", "http", Status.OK if ok else Status.TIMEOUT, "r", ts, 0.2,
                       (Sample("http_response", fields, tags),))


def tcp(device: Device, ok: bool, ts: float) -> ProbeResult:
    tags = {"server": "127.0.0.1", "port": "8443", "protocol": "tcp", "result": "success" if ok else "timeout"}
    return ProbeResult(device.id, "tcp", "tcp", Status.OK if ok else Status.TIMEOUT, "r", ts, 0.1,
                       (Sample("net_response", {"response_time": 0.1, "result_code": 0 if ok else 1}, tags),))


def test_one_vantage_point_says_service_down_never_commune_link(tmp_path):
    devs = devices()
    store = Store.open(tmp_path / "state")
    now = time.time()
    ts = now - now % 60 + 5  # inside the current 60 s round
    portals = [d for d in devs if d.kind == "service"]
    ports = [d for d in devs if d.kind == "port"]
    store.append([http(portals[0], False, ts), http(portals[1], True, ts), http(portals[2], True, ts)]
                 + [tcp(d, False, ts) for d in ports])
    snap = load_snapshot(store, Inventory(devs, PROFILES), "t", [], now=ts + 1)
    by_name = {row.info.name: row.services for row in snap.communes.values()}
    # The portal failed for one check of the three, all from this agent's box: no link to blame.
    assert by_name["Sìn Hồ"] == ["dichvucong failing now and then (seen from one place)",
                                 "mot-cua: service down (seen from one place)"]
    assert by_name["Phong Thổ"] == by_name["Tam Đường"] == ["mot-cua: service down (seen from one place)"]
    assert not any("link" in text for texts in by_name.values() for text in texts)
    # All well in the next round: nothing to report.
    store.append([http(d, True, ts + 60) for d in portals] + [tcp(d, True, ts + 60) for d in ports])
    snap = load_snapshot(store, Inventory(devs, PROFILES), "t", [], now=ts + 61)
    assert all(not row.services for row in snap.communes.values())
