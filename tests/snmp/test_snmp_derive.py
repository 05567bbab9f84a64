"""Edge cases of the derived values that a live agent cannot easily produce on demand."""

from __future__ import annotations

from netmon.probers.snmp_derive import (
    HR_STORAGE_ENTRY,
    IF_ENTRY,
    DeviceMemory,
    derive,
    detect_reboot,
    scalar_fields,
)

UPTIME = "1.3.6.1.2.1.1.3.0"


def test_reboot_rules() -> None:
    prev = DeviceMemory(ts=1000.0, uptime_s=5000.0)
    assert detect_reboot(4000.0, 1300.0, prev)  # went backwards
    assert detect_reboot(100.0 + 5000.0 - 5000.0, 1300.0, DeviceMemory(1000.0, 50.0))  # booted since
    assert not detect_reboot(5300.0, 1300.0, prev)
    assert not detect_reboot(10.0, 1300.0, None)  # first poll: nothing to compare


def _poll(in_octets: int, hc: int | None, speed: int, now: float, uptime_ticks: int, prev=None):
    walked = [(f"{IF_ENTRY}.5.1", speed), (f"{IF_ENTRY}.10.1", in_octets), (f"{IF_ENTRY}.16.1", 0)]
    if hc is not None:
        walked += [("1.3.6.1.2.1.31.1.1.1.6.1", hc), ("1.3.6.1.2.1.31.1.1.1.10.1", 0)]
    return derive({"sys_uptime": UPTIME}, {UPTIME: uptime_ticks}, walked, {}, now, prev)


def test_counter_jump_above_link_speed_is_not_a_rate() -> None:
    one = _poll(4_000_000_000, None, 10_000_000, 100.0, 10_000)
    two = _poll(1_000, None, 10_000_000, 110.0, 11_000, one.memory)  # "wrap" = 300 Mb/s on 10 Mb/s
    iface = next(s for s in two.samples if s.measurement == "interface")
    assert "in_bps" not in iface.fields
    assert any("above link speed" in n for n in two.notes)


def test_hc_counter_going_back_is_a_reset_not_a_wrap() -> None:
    one = _poll(0, 10**12, 0, 100.0, 10_000)
    two = _poll(0, 10**6, 0, 110.0, 11_000, one.memory)
    iface = next(s for s in two.samples if s.measurement == "interface")
    assert "in_bps" not in iface.fields and any("reset" in n for n in two.notes)


def test_field_types_are_fixed() -> None:
    get = {"sys_uptime": UPTIME, "rsrp_dbm": "1.3.6.1.4.1.1.1.0", "ifaces": "1.3.6.1.2.1.2.1.0",
           "sys_descr": "1.3.6.1.2.1.1.1.0"}
    fields = scalar_fields(get, {UPTIME: 12345, "1.3.6.1.4.1.1.1.0": -97, "1.3.6.1.2.1.2.1.0": 3,
                                 "1.3.6.1.2.1.1.1.0": b"Linux \xc4\x91"})
    assert fields == {"uptime_s": 123.45, "rsrp_dbm": -97.0, "ifaces": 3, "sys_descr": "Linux đ"}
    assert isinstance(fields["rsrp_dbm"], float) and isinstance(fields["ifaces"], int)


def test_storage_without_size_has_no_used_pct() -> None:
    walked = [(f"{HR_STORAGE_ENTRY}.2.9", "1.3.6.1.2.1.25.2.1.7"), (f"{HR_STORAGE_ENTRY}.3.9", b"D:\\"),
              (f"{HR_STORAGE_ENTRY}.4.9", 2048), (f"{HR_STORAGE_ENTRY}.5.9", 0), (f"{HR_STORAGE_ENTRY}.6.9", 0)]
    (sample,) = derive({}, {}, walked, {}, 1.0, None).samples
    assert sample.fields["hrStorageType"] == "compact_disc" and "used_pct" not in sample.fields
    assert sample.tags == {"hrStorageIndex": "9", "hrStorageDescr": "D:\\"}


def test_values_checked_against_their_declared_type() -> None:
    from netmon.probers.snmp_wire import RawValue

    get = {"sys_uptime": UPTIME, "rsrp_dbm": "1.3.6.1.4.1.1.1.0", "load_pct": "1.3.6.1.4.1.1.2.0",
           "serial": "1.3.6.1.4.1.1.3.0", "hr_uptime": "1.3.6.1.2.1.25.1.1.0"}
    values = {UPTIME: RawValue(0x47, b"\x01"), "1.3.6.1.4.1.1.1.0": b" -97.5 ", "1.3.6.1.4.1.1.2.0": 101,
              "1.3.6.1.4.1.1.3.0": RawValue(0x45, b"\x49\x00"), "1.3.6.1.2.1.25.1.1.0": (1 << 32)}
    problems: list[str] = []
    fields = scalar_fields(get, values, problems)
    # a vendor level sent as text is still a number; an opaque value of a free field is its hex
    assert fields == {"rsrp_dbm": -97.5, "serial": "4900"}
    assert problems == [
        "sysUpTime (1.3.6.1.2.1.1.3.0): got UInteger32 0x01, expected TimeTicks 0..4294967295",
        "load_pct (1.3.6.1.4.1.1.2.0): got number 101, expected a number 0..100",
        "hrSystemUptime (1.3.6.1.2.1.25.1.1.0): got number 4294967296, expected TimeTicks 0..4294967295"]


def test_storage_used_above_size_is_a_problem_not_a_ratio() -> None:
    walked = [(f"{HR_STORAGE_ENTRY}.2.1", "1.3.6.1.2.1.25.2.1.4"), (f"{HR_STORAGE_ENTRY}.4.1", 4096),
              (f"{HR_STORAGE_ENTRY}.5.1", 100), (f"{HR_STORAGE_ENTRY}.6.1", 120)]
    derived = derive({}, {}, walked, {}, 1.0, None)
    (sample,) = derived.samples
    assert "used_pct" not in sample.fields and "hrStorageUsed" not in sample.fields
    assert sample.fields["size_bytes"] == 409600
    assert derived.problems == ["hrStorageUsed.1 (1.3.6.1.2.1.25.2.3.1.6.1): got number 120, expected at most "
                                "hrStorageSize.1 = 100"]
