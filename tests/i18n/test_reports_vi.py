"""Reports in Vietnamese: the follow-up Markdown line by line against an expected file, tables and
Markdown in Vietnamese conventions, CSV and JSON byte-identical in both languages."""

from __future__ import annotations

import io
import re
from argparse import Namespace
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from rich.console import Console

from netmon import i18n
from netmon.analysis.village_report import village_report
from netmon.store import Store
from netmon.ui.report_villages import render_villages
from netmon.ui.reports import run_report
from tests.analysis.helpers import T0
from tests.analysis.test_reports import filled  # noqa: F401  (the module fixture: a store after 3 h)

EXPECTED = Path(__file__).resolve().parents[1] / "testdata" / "i18n" / "villages_vi.md"
END = T0 + 3 * 3600


@pytest.fixture(autouse=True)
def _english_after():
    yield
    i18n.setup("en")


def _console() -> Console:
    return Console(width=250, no_color=True, record=True, file=io.StringIO())


def villages_md(config, lang: str) -> str:
    """The follow-up list as `netmon report villages --format md` prints it, at a fixed time."""
    i18n.setup(lang)
    tz = config.settings.agent.timezone
    store = Store.open(config.state_dir, readonly=True)
    try:
        report = village_report(store, tz, now=END)
    finally:
        store.close()
    console = _console()
    title = i18n._("Villages flagged for follow-up: {agent}, {time}").format(
        agent=config.settings.agent.name, time=i18n.datetime(datetime.fromtimestamp(END, ZoneInfo(tz))))
    render_villages(report, "md", console, title=title)
    return console.export_text()


def test_follow_up_markdown_in_vietnamese_matches_the_expected_file_line_by_line(filled) -> None:  # noqa: F811
    got = villages_md(filled, "vi").splitlines()
    want = EXPECTED.read_text(encoding="utf-8").splitlines()
    for number, (g, w) in enumerate(zip(got, want, strict=False), 1):
        assert g == w, f"{EXPECTED.name}:{number}\n got: {g}\nwant: {w}"
    assert len(got) == len(want)
    english = villages_md(filled, "en")
    assert "## Unstable coverage, for Viettel" in english and "Vùng phủ sóng" not in english


def _run(config, kind: str, fmt: str, lang: str, **kw) -> str:
    i18n.setup(lang)
    console = _console()
    assert run_report(kind, config, Namespace(format=fmt, month=kw.get("month"), days=7.0), console) == 0
    return console.export_text()


@pytest.mark.parametrize("kind", ["villages", "availability"])
@pytest.mark.parametrize("fmt", ["csv", "json"])
def test_csv_and_json_are_the_same_in_both_languages(filled, kind: str, fmt: str) -> None:  # noqa: F811
    month = datetime.fromtimestamp(T0, ZoneInfo("Asia/Ho_Chi_Minh")).strftime("%Y-%m")
    en, vi = (_run(filled, kind, fmt, lang, month=month) for lang in ("en", "vi"))
    assert en == vi
    assert len(en.splitlines()) > 3 and en.isascii() is False  # real rows, with the Vietnamese names
    if fmt == "csv":
        assert en.splitlines()[0].isascii()  # ASCII keys
    else:
        assert re.search(r'": \d+\.\d+', vi)  # dot decimals


def test_availability_tables_follow_vietnamese_conventions(filled) -> None:  # noqa: F811
    month = datetime.fromtimestamp(T0, ZoneInfo("Asia/Ho_Chi_Minh")).strftime("%Y-%m")
    csv_text = _run(filled, "availability", "csv", "vi", month=month)
    md = _run(filled, "availability", "md", "vi", month=month)
    year, mon = month.split("-")
    assert f"# Độ khả dụng vùng phủ sóng, tháng {mon}/{year}" in md and "## Nhà mạng" in md
    assert f"# Coverage availability, {month}" in _run(filled, "availability", "md", "en", month=month)
    assert "| # | Tên | Độ khả dụng % |" in md
    # a figure with decimals: a dot in the CSV, a comma in the Markdown
    row = next(line for line in csv_text.splitlines() if line.startswith("village,") and "." in line.split(",")[4])
    value = row.split(",")[4]
    assert f"| {value.replace('.', ',')} |" in md


def dump_expected(filled) -> None:  # noqa: F811  (run only by hand, to rewrite the expected file)
    EXPECTED.write_text(villages_md(filled, "vi"), encoding="utf-8")
