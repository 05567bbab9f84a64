"""Edge cases of the derived values that a live agent cannot easily produce on demand."""

from __future__ import annotations

from netmon.probers.snmp_derive import (
    HR_STORAGE_ENTRY,
    IF_ENTRY,
    derive,
    scalar_fields,
)

UPTIME = "1.3.6.1.2.1.1.3.0"


HR_UPTIME = "1.3.6.1.2.1.25.1.1.0"
WRAP_TICKS = 1 << 32


def _up(now: float, ticks: int, prev=None, hr_ticks: int | None = None):
    get, values = {"sys_uptime": UPTIME}, {UPTIME: ticks}
    if hr_ticks is not None:
        get["hr_uptime"], values[HR_UPTIME] = HR_UPTIME, hr_ticks
    return derive(get, values, [], {}, now, prev)


def test_reboot_rules() -> None:
    first = _up(1000.0, 500_000)  # up 5000 s
    assert first.reboot_ts is None  # first poll: nothing to compare
    assert _up(1300.0, 530_000, first.memory).reboot_ts is None  # 300 s later, 300 s more uptime
    assert _up(1300.0, 400_000, first.memory).reboot_ts == 1300.0 - 4000.0  # went backwards
    assert _up(1300.0, 10_000, first.memory).reboot_ts == 1200.0  # booted 100 s ago, since the last poll


def test_timeticks_wrap_is_never_a_reboot() -> None:
    """sysUpTime wraps to 0 every 497.1 days; the boot stays where it was, wrap after wrap."""
    boot = 1_000_000.0
    polls, prev = [], None
    # every 5 minutes across the first wrap, then across the second one 497 days later
    for wrap in (1, 2):
        edge = boot + wrap * WRAP_TICKS / 100
        for k in range(-3, 4):
            now = edge + k * 300.0 + 7.0
            ticks = round((now - boot) * 100) % WRAP_TICKS
            derived = _up(now, ticks, prev)
            polls.append(derived)
            prev = derived.memory
    assert [p.reboot_ts for p in polls] == [None] * len(polls)
    assert all(abs(p.memory.boot_ts - boot) < 1 for p in polls)
    assert all(next(s for s in p.samples if s.measurement == "snmp").fields["rebooted"] == 0 for p in polls)
    # a real reboot after a wrap is still seen
    after = _up(polls[-1].memory.ts + 300.0, 6_000, prev)
    assert after.reboot_ts == polls[-1].memory.ts + 300.0 - 60.0


def test_hr_system_uptime_is_the_host_and_an_agent_restart_is_not_a_reboot() -> None:
    first = _up(1000.0, 500_000, hr_ticks=9_000_000)  # agent up 5000 s, host up 90000 s
    restarted = _up(1300.0, 2_000, first.memory, hr_ticks=9_030_000)  # agent 20 s, host on
    assert restarted.reboot_ts is None
    assert any("SNMP agent restarted 20 s ago, the host was not rebooted" in n for n in restarted.notes)
    rebooted = _up(1600.0, 1_000, restarted.memory, hr_ticks=1_500)  # both reset: the host booted
    assert rebooted.reboot_ts == 1600.0 - 15.0 and rebooted.memory.boot_src == "hrSystemUptime"
    assert not any("agent restarted" in n for n in rebooted.notes)


def test_wrap_of_a_millisecond_based_host_uptime() -> None:
    """Agents that fill hrSystemUptime from a 32-bit millisecond counter wrap every 49.7 days."""
    boot, period = 5_000.0, WRAP_TICKS / 1000
    one = _up(boot + period - 100.0, 100, hr_ticks=round((period - 100.0) * 100))
    two = _up(boot + period + 200.0, 400, one.memory, hr_ticks=20_000)
    assert two.reboot_ts is None and abs(two.memory.boot_ts - boot) < 1


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


def test_generic_walk_field_has_one_type_per_name() -> None:
    """A table netmon has no schema for mixes integers and strings: `value` is always int, `value_text` str."""
    from netmon.probers.snmp_wire import RawValue

    root = "1.3.6.1.4.1.2021.13.15.1.1"  # e.g. UCD-DISKIO: index, device name, counters
    walked = [(f"{root}.1.1", 1), (f"{root}.2.1", b"sda"), (f"{root}.3.1", 123456789012),
              (f"{root}.2.2", b"sdb"), (f"{root}.4.1", "1.3.6.1.2.1.25.3.1.1"),
              (f"{root}.5.1", RawValue(0x44, b"\x9f\x78\x04\x42\x2a\x00\x00"))]
    samples = derive({}, {}, walked, {"diskio": root}, 1e9, None).samples
    by_index = {s.tags["index"]: s.fields for s in samples}
    assert by_index == {"1.1": {"value": 1}, "2.1": {"value_text": "sda"}, "3.1": {"value": 123456789012},
                        "2.2": {"value_text": "sdb"}, "4.1": {"value_text": "1.3.6.1.2.1.25.3.1.1"},
                        "5.1": {"value_text": "9f7804422a0000"}}
    types = {(name, type(v)) for s in samples for name, v in s.fields.items()}
    assert types == {("value", int), ("value_text", str)}
