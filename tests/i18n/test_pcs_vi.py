"""The office-PC report in Vietnamese: every reason shape aging.py writes is translated for people,
and the CSV/JSON keep the stored English reasons and dot decimals."""

from __future__ import annotations

import io
import sys
from pathlib import Path

import pytest
from rich.console import Console

from netmon import i18n
from netmon.analysis.aging import score_pc
from netmon.model import ProbeResult, Sample, Status
from netmon.ui.pc_words import reason_words, unknown_words
from netmon.ui.report_pcs import render_pcs

# tests/probers/snmp is not a package: its modules import their helpers by plain name, as pytest runs them there.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "probers" / "snmp"))
from test_pc_aging import MONDAY_9, NOW, OFFICE, RULES, _office_day, _rows, ping, snmp


@pytest.fixture(autouse=True)
def _english_after():
    yield
    i18n.setup("en")


def _healths():
    busy = "p/c/pc-busy"
    busy_results = []
    for day in range(4):
        for hour in (1, 3):
            ts = MONDAY_9 + day * 86400 + (hour - 1) * 3600
            busy_results.append(snmp(busy, ts, uptime_s=86400.0 * 30 + ts - MONDAY_9, cpu=95.0))
        busy_results += [ping(busy, MONDAY_9 + day * 86400 + m * 60, m % 4 != 0) for m in range(40)]
    crashy = "p/c/pc-crashy"
    crashy_results = (_office_day(crashy, 0, [7.75]) + _office_day(crashy, 1, [7.75], crash=((10.0, 10.05),))
                      + _office_day(crashy, 2, [7.75], crash=((15.0, 15.1),))
                      + _office_day(crashy, 3, [7.75, 14.0], off_at=17.25))
    lunch = ProbeResult("p/c/l", "host-resources", "snmp", Status.OK, "", MONDAY_9 + 3 * 3600, 0.1,
                        (Sample("snmp", {"sys_descr": "Linux pc", "cpu_load_avg_pct": 99.0}),))
    return [score_pc(busy, busy_results, RULES, NOW, OFFICE), score_pc(crashy, crashy_results, RULES, NOW, OFFICE),
            score_pc("p/c/pc", [snmp("p/c/pc", MONDAY_9, 3600.0, 5.0, ram_kb=2900 * 1024,
                                     descr="Microsoft Windows XP Professional")], RULES, NOW, OFFICE),
            score_pc("p/c/l", [lunch], RULES, NOW, OFFICE), score_pc("p/c/none", [], RULES, NOW, OFFICE),
            *(row.health for row in _rows())]


def test_every_aging_reason_has_vietnamese_words() -> None:
    healths = _healths()
    reasons = [r for h in healths for r in h.reasons]
    unknown = [u for h in healths for u in h.not_assessed]
    assert len(reasons) >= 6 and len(unknown) >= 5
    assert [reason_words(r) for r in reasons] == reasons and [unknown_words(u) for u in unknown] == unknown
    i18n.setup("vi")
    for text in reasons:
        assert reason_words(text) != text, f"no Vietnamese for the reason {text!r}"
    for text in unknown:
        assert unknown_words(text) != text, f"no Vietnamese for {text!r}"
    words = " | ".join(reason_words(r) for r in reasons)
    assert "CPU bận trung bình 95% trong giờ hành chính" in words
    assert "RAM 3 GB (2.900 MB dùng được), dưới mức 4 GB" in words
    assert "3 lần khởi động lại bất thường trong 7 ngày qua" in words
    assert "ổ đĩa C:\\ đầy 97% (ngưỡng" in words
    assert "Windows 7 (6.1 build 7601), đã ngừng hỗ trợ từ 14/01/2020" in words


def test_pcs_report_in_vietnamese_and_machine_formats_unchanged() -> None:
    out = {}
    for lang in ("en", "vi"):
        i18n.setup(lang)
        for fmt in ("table", "md", "csv", "json"):
            buf = io.StringIO()
            render_pcs(_rows(), fmt, Console(file=buf, width=200, color_system=None))
            out[lang, fmt] = buf.getvalue()
    assert out["en", "csv"] == out["vi", "csv"] and out["en", "json"] == out["vi", "json"]
    assert "end-of-life OS: Windows 7" in out["vi", "csv"]
    assert "| điểm | thiết bị | xã | thôn | lý do |" in out["vi", "md"]
    assert "hệ điều hành hết hỗ trợ: Windows 7" in out["vi", "md"] and "end-of-life" not in out["vi", "md"]
    assert "Máy tính văn phòng, thứ tự ưu tiên thay thế" in out["vi", "table"]
