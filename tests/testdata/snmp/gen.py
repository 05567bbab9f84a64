"""Regenerate the .snmprec files here (`python3 tests/testdata/snmp/gen.py`); community = file stem.

snmprec lines are `OID|type|value`, sorted by OID; types: 2 INTEGER, 4 OCTET STRING,
6 OBJECT IDENTIFIER, 65 Counter32, 66 Gauge32, 67 TimeTicks, 70 Counter64.
`pc-wrong` and `router-absurd` are agents gone wrong: values of the wrong type or absurd size.
"""

from __future__ import annotations

from pathlib import Path

HERE = Path(__file__).parent
SYS = "1.3.6.1.2.1.1"
HR = "1.3.6.1.2.1.25"
IF = "1.3.6.1.2.1.2.2.1"
IFX = "1.3.6.1.2.1.31.1.1.1"
FIXED_DISK, RAM, VIRTUAL = "1.3.6.1.2.1.25.2.1.4", "1.3.6.1.2.1.25.2.1.2", "1.3.6.1.2.1.25.2.1.3"


def system(descr: str, name: str, uptime_ticks: int) -> list[tuple[str, int, object]]:
    return [(f"{SYS}.1.0", 4, descr), (f"{SYS}.2.0", 6, "1.3.6.1.4.1.311.1.1.3.1.1"),
            (f"{SYS}.3.0", 67, uptime_ticks), (f"{SYS}.4.0", 4, "it@example.vn"),
            (f"{SYS}.5.0", 4, name), (f"{SYS}.6.0", 4, "UBND xa"), (f"{SYS}.7.0", 2, 76)]


def pc(descr: str, name: str, uptime_ticks: int, ram_kb: int, disk: tuple[int, int],
       loads: list[int]) -> list[tuple[str, int, object]]:
    size, used = disk
    rows = system(descr, name, uptime_ticks)
    rows += [(f"{HR}.1.1.0", 67, uptime_ticks + 500), (f"{HR}.2.2.0", 2, ram_kb)]
    storage = [(1, FIXED_DISK, "C:\\ Label:  Serial Number 5a3c9e10", 4096, size, used),
               (4, VIRTUAL, "Virtual Memory", 65536, ram_kb // 32, ram_kb // 64),
               (5, RAM, "Physical Memory", 65536, ram_kb // 64, ram_kb // 80)]
    for col in range(1, 8):
        for idx, typ, label, units, sz, us in storage:
            value = {1: (2, idx), 2: (6, typ), 3: (4, label), 4: (2, units), 5: (2, sz),
                     6: (2, us), 7: (65, 0)}[col]
            rows.append((f"{HR}.2.3.1.{col}.{idx}", *value))
    for i, load in enumerate(loads):
        rows.append((f"{HR}.3.3.1.2.{3 + i}", 2, load))
    return rows


def router(name: str, uptime_ticks: int, octets: tuple[int, int], hc_octets: tuple[int, int]):
    rows = system("RouterOS RB750Gr3", name, uptime_ticks)
    rows.append(("1.3.6.1.2.1.2.1.0", 2, 2))
    ifs = {1: ("ether1-wan", 100_000_000, octets), 2: ("ether2-lan", 1_000_000_000, (hc_octets[0] % (1 << 32),
                                                                                      hc_octets[1] % (1 << 32)))}
    cols = {1: 2, 2: 4, 3: 2, 4: 2, 5: 66, 6: 4, 7: 2, 8: 2, 10: 65, 14: 65, 16: 65, 20: 65}
    for col, typ in cols.items():
        for idx, (descr, speed, (in_o, out_o)) in ifs.items():
            value = {1: idx, 2: descr, 3: 6, 4: 1500, 5: speed, 6: "", 7: 1, 8: 1, 10: in_o,
                     14: 3 * idx, 16: out_o, 20: 0}[col]
            rows.append((f"{IF}.{col}.{idx}", typ, value))
    # ifXTable only for ifIndex 2: its rate must come from the 64-bit counters
    rows += [(f"{IFX}.1.2", 4, "ether2"), (f"{IFX}.6.2", 70, hc_octets[0]),
             (f"{IFX}.10.2", 70, hc_octets[1]), (f"{IFX}.15.2", 66, 1000)]
    return rows


def replace(rows: list[tuple[str, int, object]], changes: dict[str, tuple[int, object]]):
    """The rows with some OIDs served as another type or value."""
    return [(oid, *changes[oid]) if oid in changes else (oid, typ, value) for oid, typ, value in rows]


def write(name: str, rows: list[tuple[str, int, object]]) -> None:
    rows = sorted(rows, key=lambda r: tuple(int(p) for p in r[0].split(".")))
    text = "".join(f"{oid}|{typ}|{value}\n" for oid, typ, value in rows)
    (HERE / f"{name}.snmprec").write_text(text, encoding="utf-8")


WIN7 = ("Hardware: Intel64 Family 6 Model 42 Stepping 7 AT/AT COMPATIBLE - Software: Windows "
        "Version 6.1 (Build 7601 Multiprocessor Free)")
WIN11 = ("Hardware: Intel64 Family 6 Model 154 Stepping 3 AT/AT COMPATIBLE - Software: Windows "
         "Version 6.3 (Build 22631 Multiprocessor Free)")


def main() -> None:
    write("pc-healthy", pc(WIN11, "motcua-pc-2", 17_280_000, 16_671_088, (30_000_000, 12_000_000), [8, 12]))
    # old PC: 2 GB RAM, C: 97 % full, up for 3 hours, CPU pegged
    write("pc-old", pc(WIN7, "motcua-pc-1", 1_080_000, 2_097_152, (12_000_000, 11_640_000), [96, 91]))
    wrap = (1 << 32) - 1000
    write("router-wrap-a", router("ubnd-router", 500_000, (wrap, 5_000), (10_000_000_000, 20_000)))
    write("router-wrap-b", router("ubnd-router", 500_300, (2_000, 9_000), (10_000_004_000, 21_000)))
    write("router-boot-a", router("cpe-boot", 8_640_000, (900_000_000, 800_000_000),
                                  (900_000_000_000, 800_000_000)))
    write("router-boot-b", router("cpe-boot", 6_000, (1_000, 2_000), (3_000, 4_000)))
    # the healthy PC's agent gone wrong: uptime as text, RAM as a 2^64-1 Counter64, a negative
    # disk size, a CPU at 250 %, sysContact turned into a number (a field must not change type)
    write("pc-wrong", replace(pc(WIN11, "motcua-pc-9", 17_280_000, 16_671_088, (30_000_000, 12_000_000), [8, 250]),
                              {f"{SYS}.3.0": (4, "1728000"), f"{SYS}.4.0": (2, 7),
                               f"{HR}.2.2.0": (70, (1 << 64) - 1), f"{HR}.2.3.1.5.1": (2, -5)}))
    write("router-absurd", replace(router("cpe-absurd", 8_640_000, (900, 800), ((1 << 64) - 1, 800)),
                                   {f"{IF}.8.1": (2, 9)}))


if __name__ == "__main__":
    main()
