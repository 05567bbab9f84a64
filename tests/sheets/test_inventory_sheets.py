"""Inventory import/export against netmon's real loader: round trips, planted errors, header variants."""

from __future__ import annotations

import csv
import subprocess
import sys
import time
from pathlib import Path

import pytest
from openpyxl import Workbook

from netmon.config import load_config
from netmon.sheets.exporter import export_inventory
from netmon.sheets.importer import ImportRefused, import_inventory

REPO = Path(__file__).resolve().parents[2]
DEMO = REPO / "config" / "demo.yaml"

AGENT = """version: 1
agent: {{name: sheet-test, state_dir: state}}
auths: {{office: {{version: 2c, community: public}}}}
inventory: {{include: {inventory}}}
"""


def agent_config(folder: Path, inventory: Path) -> Path:
    path = folder / "netmon.yaml"
    path.write_text(AGENT.format(inventory=inventory), encoding="utf-8")
    return path


def device_fields(config) -> list[tuple]:
    return [(d.id, d.name, d.kind, d.profile, d.province, d.commune, d.village, d.host, d.url, d.port,
             d.snmp_port, d.auth, d.parent, d.operator, d.lat, d.lon) for d in config.all_devices]


@pytest.mark.parametrize("suffix", [".xlsx", ".csv"])
def test_export_then_import_gives_the_same_devices(tmp_path, suffix):
    original = load_config(DEMO)
    sheet = tmp_path / f"demo{suffix}"
    assert export_inventory(original, sheet) == len(original.all_devices)
    result = import_inventory(sheet, tmp_path / "inv.yaml", original)
    assert result.devices == len(original.all_devices)
    # The imported file used in place of the demo's inventory resolves to the very same devices.
    text = DEMO.read_text(encoding="utf-8").split("\ninventory:")[0]
    copy = DEMO.parent / f".sheet-roundtrip-{tmp_path.name}.yaml"
    try:
        copy.write_text(text + f"\ninventory: {{include: {tmp_path / 'inv.yaml'}}}\n", encoding="utf-8")
        assert device_fields(load_config(copy)) == device_fields(original)
    finally:
        copy.unlink()


def empty_inventory(folder: Path) -> Path:
    path = folder / "empty.yaml"
    path.write_text("[]\n")
    return path


def write_book(path: Path, header: list[str], rows: list[list[object]], title: str | None = None) -> None:
    book = Workbook()
    sheet = book.active
    if title:
        sheet.append([title])
    sheet.append(header)
    for row in rows:
        sheet.append(row)
    book.save(path)


HEADER = ["STT", "Tỉnh", "Xã", "Thôn/Bản", "Thiết bị", "Loại", "Địa chỉ IP", "Nhà mạng", "Vĩ độ", "Kinh độ",
          "Phụ thuộc", "Xác thực SNMP", "Ghi chú"]


def good_rows(communes: int = 30, villages: int = 20, per_village: int = 4) -> list[list[object]]:
    rows: list[list[object]] = []
    for c in range(communes):
        commune = f"Xã Số {c}"
        rows.append([len(rows) + 1, "Lai Châu", commune, None, "ubnd-router", "router", f"10.{c}.0.1", "VNPT",
                     None, None, None, "office", ""])
        for v in range(villages):
            for d in range(per_village):
                kind = "cpe" if d == 0 else "bts"
                rows.append([len(rows) + 1, "Lai Châu", commune, f"Bản Nậm {v}", f"{kind}-{d}", kind,
                             f"10.{c}.{v + 1}.{d + 1}", "Viettel", f"22,{v + 10}", 103.24,
                             "ubnd-router" if d == 0 else None, "office" if kind == "cpe" else None, "ghi chú"])
    return rows


def test_three_thousand_rows_with_twenty_planted_errors(tmp_path):
    rows = good_rows()
    assert len(rows) >= 2400
    rows += good_rows(communes=8, villages=20, per_village=4)[: 3000 - len(rows)]
    for i, row in enumerate(rows[len(good_rows()):], start=len(good_rows())):
        row[2] = f"Phường {i // 81}"  # the second block: other communes, so ids stay unique
    first_data_row = 3  # a title row, then the header
    plants = {  # index into rows -> (column header, new value)
        5: ("Địa chỉ IP", "10.0.300.1"), 17: ("Thiết bị", None), 29: ("Loại", None), 41: ("Loại", "cpee"),
        53: ("Vĩ độ", "222"), 65: ("Kinh độ", "abc"), 77: ("Địa chỉ IP", None), 89: ("Phụ thuộc", "no-such"),
        101: ("Xác thực SNMP", "ofice"), 113: ("Tỉnh", None), 125: ("Xã", None), 137: ("Vĩ độ", None),
        149: ("Địa chỉ IP", "http://x"), 161: ("Loại", "routr"), 173: ("Kinh độ", "-190"),
        185: ("Địa chỉ IP", "999.1.1.1"), 197: ("Phụ thuộc", "bts-9"), 209: ("Xác thực SNMP", "nope"),
        233: ("Thiết bị", "bts-1"), 245: ("Địa chỉ IP", "10.0.0"),
    }
    assert len(plants) == 20
    for index, (column, value) in plants.items():
        rows[index][HEADER.index(column)] = value
    book = tmp_path / "lai-chau.xlsx"
    write_book(book, HEADER, rows, title="DANH SÁCH THIẾT BỊ CẦN GIÁM SÁT")
    context = load_config(agent_config(tmp_path, empty_inventory(tmp_path)), environ={})
    target = tmp_path / "out" / "inventory.yaml"
    started = time.perf_counter()
    with pytest.raises(ImportRefused) as refused:
        import_inventory(book, target, context)
    elapsed = time.perf_counter() - started
    print(f"3,000 rows, {len(plants)} planted errors: refused in {elapsed:.2f} s")
    assert not target.exists() and not target.parent.exists()
    reported = {issue.row for issue in refused.value.issues}
    planted = {index + first_data_row for index in plants}
    assert planted <= reported, sorted(planted - reported)
    # Nothing but the planted rows is blamed.
    assert reported - planted == set(), [str(i) for i in refused.value.issues if i.row not in planted]
    for issue in refused.value.issues:
        assert str(issue).startswith(f"{book}:{issue.row}: ")
        index = issue.row - first_data_row
        assert issue.column == plants[index][0], str(issue)


def test_fixed_sheet_imports_and_checks(tmp_path):
    book = tmp_path / "ok.xlsx"
    write_book(book, HEADER, good_rows(communes=2, villages=3))
    inventory = tmp_path / "inventory" / "lai-chau.yaml"
    config = agent_config(tmp_path, inventory)
    # Auth names come from the agent config given with -c; its own inventory is not needed for that.
    inventory.parent.mkdir()
    inventory.write_text("[]\n")
    result = import_inventory(book, inventory, load_config(config, environ={}))
    assert result.ignored_columns == ("STT", "Ghi chú")
    loaded = load_config(config, environ={})
    assert len(loaded.all_devices) == 2 * (1 + 3 * 4)
    cpe = next(d for d in loaded.all_devices if d.name == "cpe-0")
    assert (cpe.operator, cpe.lat, cpe.lon) == ("Viettel", 22.10, 103.24)
    assert cpe.parent == "lai-chau/xa-so-0/ubnd-router"
    check = subprocess.run([sys.executable, "-m", "netmon", "check", "-c", str(config)], cwd=REPO,
                           capture_output=True, text=True, timeout=60)
    assert check.returncode == 0, check.stderr


def test_english_csv_headers_and_cli_exit_codes(tmp_path):
    sheet = tmp_path / "villages.csv"
    with sheet.open("w", newline="", encoding="utf-8-sig") as handle:
        out = csv.writer(handle)
        out.writerow(["Province", "Commune", "Village", "Device", "Kind", "Host", "Operator", "Latitude"])
        out.writerow(["Điện Biên", "Mường Nhé", "Chung Chải", "bts-2", "bts", "10.1.1.2", "MobiFone", ""])
        out.writerow(["Điện Biên", "Mường Nhé", "Chung Chải", "bts-1", "bts", "10.1.1.1", "MobiFone", "22.1"])
    target = tmp_path / "inv.yaml"
    run = subprocess.run([sys.executable, "-m", "netmon", "inventory", "import", str(sheet), "-o", str(target)],
                         cwd=REPO, capture_output=True, text=True, timeout=60)
    assert run.returncode == 2 and not target.exists()
    assert f"{sheet}:3: Longitude: empty while the other coordinate is given" in run.stderr
    assert "nothing was written" in run.stderr
