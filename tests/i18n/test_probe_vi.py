"""`netmon probe` in Vietnamese: the table, the thresholds and the ping summary, on loopback."""

from __future__ import annotations

import io
import json
import re
from argparse import Namespace
from pathlib import Path

import pytest
from rich.console import Console

from netmon import i18n
from netmon.config import load_config
from netmon.probe_cmd import run_probe
from tests.ui.conftest import province  # noqa: F401  (the loopback province's config)
from tests.ui.test_probe import icmp_allowed  # noqa: F401  (skips where ICMP is not permitted)


@pytest.fixture(autouse=True)
def _english_after():
    yield
    i18n.setup("en")


def probe(config_path: Path, target: str, fmt: str, lang: str) -> tuple[int, str]:
    i18n.setup(lang)
    console = Console(width=160, color_system=None, file=io.StringIO(), record=True)
    rc = run_probe(load_config(config_path), Namespace(target=target, format=fmt), console)
    return rc, console.export_text()


def test_probe_in_vietnamese(province: Path) -> None:  # noqa: F811
    rc, text = probe(province, "cpe-truong-hoc", "text", "vi")
    assert rc == 0, text
    assert "phép kiểm tra" in text and "✓ đạt" in text and "3/3 gói có phản hồi, trung bình" in text
    assert "thôn suy giảm: mất gói > 1 %, p95 > 150 ms, khả dụng < 99,5 %" in text
    assert "trong ngưỡng tốt" in text and "1/1 phép kiểm tra đạt trong" in text
    rc, text = probe(province, "không-có-thiết-bị", "text", "vi")
    assert rc == 2 and "không có thiết bị nào có mã, tên hoặc địa chỉ" in text


def test_probe_json_keeps_english_reasons_and_dot_decimals(province: Path) -> None:  # noqa: F811
    docs = [json.loads(probe(province, "cpe-truong-hoc", "json", lang)[1]) for lang in ("en", "vi")]
    for doc in docs:
        result = doc["results"][0]
        assert result["status"] == "ok" and result["reason"].startswith("3/3 replies, avg ")
        assert isinstance(result["duration_s"], float)
    assert docs[0].keys() == docs[1].keys()
    en, vi = (doc["results"][0]["thresholds"] for doc in docs)
    assert en[:2] == vi[:2] and "avail < 99.5 %" in vi[0]  # the limits, word for word
    # the measured line differs only by the measurement (two real pings)
    assert re.fullmatch(r"this probe: loss 0 %, max RTT \d+\.\d ms: within the good limits", vi[2]), vi[2]
