"""How long rollups wait for parents' rounds: only devices that are pinged have rounds to wait for."""

from __future__ import annotations

from netmon.analysis.catalog import build_catalog
from netmon.analysis.evaluator import default_settle_s
from netmon.config.schema import Profile
from netmon.model import Device

from .helpers import router, village_device


def profiles(icmp_interval: float) -> dict[str, Profile]:
    ping = {"name": "reachability", "prober": "icmp", "interval": icmp_interval, "timeout": 1, "count": 3,
            "packet_interval": 0.2}
    web = {"name": "portal", "prober": "http", "interval": 300, "timeout": 5}
    return {"cpe": Profile.model_validate({"kind": "cpe", "coverage": True, "checks": [ping]}),
            "router": Profile.model_validate({"kind": "router", "checks": [ping]}),
            "service": Profile.model_validate({"kind": "service", "checks": [web]})}


def portal() -> Device:
    return Device(id="lai-chau/dvc-portal", name="dvc-portal", kind="service", profile="service",
                  province="Lai Châu", commune="", village="", host="", url="http://127.0.0.1:9/")


def test_a_service_url_does_not_stretch_the_wait_of_a_short_interval_inventory():
    devices = [router(), village_device("ta-phin"), portal()]
    settle = default_settle_s(build_catalog(devices, profiles(5.0)))
    assert settle == 2 * (5.0 + 3 * 0.2 + 1.0)  # the pinged devices' round, not the 60 s default


def test_devices_of_unknown_profiles_still_count_at_the_default():
    settle = default_settle_s(build_catalog([router(), village_device("ta-phin")], profiles=None))
    assert settle == 120.0
