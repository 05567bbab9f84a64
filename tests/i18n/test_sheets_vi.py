"""`netmon inventory import` explains bad rows in Vietnamese (file:row: column: what and how to fix)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

SHEET = """\
Tỉnh,Xã,Thôn/Bản,Thiết bị,Loại,Địa chỉ IP,Cổng,Vĩ độ,Kinh độ
Lai Châu,Sìn Hồ,Tả Phìn,cpe-1,ping,127.0.11.2,,22.36,103.24
Lai Châu,Sìn Hồ,Nậm Cuổi,cpe-2,ping,127.0.13.2,99999,,
Lai Châu,,Mù Sang,cpe-3,ping,127.0.22.2,,91,
"""


def _import(tmp_path: Path, lang: str) -> subprocess.CompletedProcess[str]:
    sheet = tmp_path / "kiem-ke.csv"
    sheet.write_text(SHEET, encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(REPO), "NETMON_LANG": lang}
    return subprocess.run([sys.executable, "-m", "netmon", "inventory", "import", str(sheet), "-o",
                           str(tmp_path / "inventory.yaml")], capture_output=True, text=True, env=env, timeout=60,
                          check=False)


def test_bad_rows_are_explained_in_vietnamese_and_nothing_is_written(tmp_path: Path) -> None:
    out = _import(tmp_path, "vi")
    assert out.returncode == 2
    lines = out.stderr.splitlines()
    assert any(line.startswith(f"{tmp_path / 'kiem-ke.csv'}:3: Cổng: '99999' không phải số cổng") for line in lines)
    assert any(":4: Xã: ô trống; mỗi dòng phải ghi Xã" in line for line in lines)
    assert any(":4: Vĩ độ: '91' không phải vĩ độ; ghi số độ thập phân từ -90 đến 90" in line for line in lines)
    assert any(":4: Kinh độ: ô trống trong khi có tọa độ kia" in line for line in lines)
    assert lines[-1].endswith("có 4 lỗi; chưa ghi gì cả.")
    assert not (tmp_path / "inventory.yaml").exists()
    english = _import(tmp_path, "en")
    assert "is not a port; write a whole number from 1 to 65535" in english.stderr
    assert "4 problems in" in english.stderr


def test_problems_the_config_loader_finds_land_on_the_right_column_in_both_languages(tmp_path: Path) -> None:
    # Two rows that make one device id, and a router whose profile needs an SNMP auth: found by
    # the config loader, whose message (now in the language in use) names the column to fix.
    sheet = tmp_path / "trung.csv"
    sheet.write_text("Tỉnh,Xã,Thôn/Bản,Thiết bị,Loại,Địa chỉ IP\nLai Châu,Sìn Hồ,Tả Phìn,CPE 1,ping,127.0.11.2\n"
                     "Lai Châu,Sìn Hồ,Tả Phìn,cpe-1,ping,127.0.11.3\nLai Châu,Sìn Hồ,Tả Phìn,r,router,127.0.11.4\n",
                     encoding="utf-8")
    found = {}
    for lang in ("vi", "en"):
        env = {**os.environ, "PYTHONPATH": str(REPO), "NETMON_LANG": lang}
        found[lang] = subprocess.run([sys.executable, "-m", "netmon", "inventory", "import", str(sheet), "-o",
                                      str(tmp_path / "inventory.yaml")], capture_output=True, text=True, env=env,
                                     timeout=60, check=False).stderr.splitlines()
    assert found["vi"][0] == (f"{sheet}:3: Thiết bị: mã thiết bị 'lai-chau/sin-ho/ta-phin/cpe-1' bị dùng hai lần, "
                              "tại dòng 2 và dòng 3 (tên thiết bị 'CPE 1' và 'cpe-1' cho cùng một mã); hãy đổi tên "
                              "một thiết bị")
    assert found["vi"][1].startswith(f"{sheet}:4: Xác thực SNMP: hồ sơ đo 'router' có phép kiểm tra snmp")
    assert found["en"][0].startswith(f"{sheet}:3: Thiết bị: device id 'lai-chau/sin-ho/ta-phin/cpe-1' is used "
                                     "twice, at row 2 and row 3")
    assert found["en"][1].startswith(f"{sheet}:4: Xác thực SNMP: profile 'router' has snmp checks")
    assert not (tmp_path / "inventory.yaml").exists()
