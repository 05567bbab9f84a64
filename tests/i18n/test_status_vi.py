"""`netmon status --once` in Vietnamese at 80 and 120 columns: translated, NFC, and columns aligned
by terminal cells with precomposed, decomposed (NFD) and wide (CJK) letters in the names."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import unicodedata
from pathlib import Path

import pytest
from rich.cells import cell_len

from netmon.store import Store
from tests.ui.conftest import CONFIG, fill_store
from tests.ui.test_status_cli import tmux  # noqa: F401  (a tmux session killed by name afterwards)

REPO = Path(__file__).resolve().parents[2]
SYMBOLS = "✓▲≈✗?"
WIDE_VILLAGE = "Bản 富 Xuân"


@pytest.fixture
def decomposed(tmp_path: Path) -> Path:
    """The loopback province written in NFD (as some spreadsheets export it), plus a village with a wide letter."""
    extra = (f"          - name: {WIDE_VILLAGE}\n            devices:\n"
             "              - {name: cpe-c, kind: cpe, profile: ping, host: 127.0.31.3}\n")
    text = unicodedata.normalize("NFD", CONFIG + extra)
    assert text != CONFIG + extra  # really decomposed
    path = tmp_path / "netmon.yaml"
    path.write_text(text, encoding="utf-8")
    store = Store.open(tmp_path / "state")
    try:
        fill_store(store, time.time())
    finally:
        store.close()
    return path


def status(config: Path, width: int, *lang: str) -> str:
    env = {**os.environ, "PYTHONPATH": str(REPO), "NO_COLOR": "1", "COLUMNS": str(width), "LINES": "40"}
    env.pop("NETMON_LANG", None)
    out = subprocess.run([sys.executable, "-m", "netmon", *lang, "status", "-c", str(config), "--once"],
                         capture_output=True, text=True, env=env, timeout=60, check=False)
    assert out.returncode == 0, out.stderr
    return out.stdout


def _cells_before(line: str, index: int) -> int:
    return cell_len(line[:index])


def _village_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith("    ") and any(s in line for s in SYMBOLS)]


@pytest.mark.parametrize("width", [80, 120])
def test_status_once_in_vietnamese_is_aligned(decomposed: Path, width: int) -> None:
    text = status(decomposed, width, "--lang", "vi")
    assert unicodedata.is_normalized("NFC", text)
    assert "7 thôn" not in text and "8 thôn: ✓ 1 tốt, ▲ 2 suy giảm, ≈ 2 chập chờn, ✗ 1 mất mạng, ? 2 chưa rõ" in text
    assert "⚑ có cờ 3" in text and "máy tính kém nhất: ketoan-pc 75" in text
    for line in text.splitlines():
        assert cell_len(line) <= width, line
    title = next(line for line in text.splitlines() if line.startswith("địa điểm"))
    state_at = _cells_before(title, title.index("trạng thái"))
    avail_end = _cells_before(title, title.index("k.dụng%") + len("k.dụng%"))
    villages = _village_lines(text)
    names = ("Tả Phìn", "Làng Mô, Nậm Tăm", "Nậm Cuổi", "Sì Lở Lầu", "Mù Sang", "Huổi Luông", "Chung Chải",
             WIDE_VILLAGE)
    assert [next(n for n in names if n in line) for line in villages] == list(names)
    for line in villages:
        symbol = min(line.index(s) for s in SYMBOLS if s in line)
        assert _cells_before(line, symbol) == state_at, line
        # the availability figure sits right-aligned under its title, with a decimal comma
        column = _slice_cells(line, avail_end - len("k.dụng%"), avail_end)
        assert column.strip() in ("100", "99,31", "96,50", "41,00", "98,20", "-"), (column, line)
        assert column.endswith(column.strip()), (column, line)
    nam_cuoi = next(line for line in villages if "Nậm Cuổi" in line)
    assert "96,50" in nam_cuoi and "7,2" in nam_cuoi
    # the operator comes first in Vietnamese so that a narrow flag column still shows who to call
    assert "⚑ Viettel: đường truyền" in nam_cuoi if width >= 120 else "⚑ Viettel:" in nam_cuoi


def _slice_cells(line: str, start: int, end: int) -> str:
    """The characters of `line` occupying terminal cells [start, end)."""
    out, at = [], 0
    for ch in line:
        w = cell_len(ch)
        if at >= start and at + w <= end:
            out.append(ch)
        at += w
    return "".join(out)


def test_status_once_in_english_is_unchanged_in_words(decomposed: Path) -> None:
    text = status(decomposed, 120)
    assert "8 villages: ✓ 1 good, ▲ 2 degraded, ≈ 2 unstable, ✗ 1 down, ? 2 unknown" in text
    assert "⚑ link Viettel" in text and "96.50" in text and unicodedata.is_normalized("NFC", text)


@pytest.mark.parametrize(("width", "height"), [(80, 24), (120, 40)])
def test_live_view_in_vietnamese_in_tmux(decomposed: Path, tmux, width: int, height: int) -> None:  # noqa: F811
    command = f"cd {REPO} && NO_COLOR=1 {sys.executable} -m netmon --lang vi status -c {decomposed}"
    tmux.run("new-session", "-d", "-s", tmux.name, "-x", str(width), "-y", str(height), command)
    screen = tmux.wait_for("q thoát · / tìm")
    lines = screen.splitlines()
    assert len(lines) <= height and all(cell_len(line) <= width for line in lines)
    assert "8 thôn: ✓ 1 tốt" in screen and WIDE_VILLAGE in screen and "Nậm Cuổi" in screen
    title = next(line for line in lines if line.startswith("địa điểm"))
    state_at = _cells_before(title, title.index("trạng thái"))
    villages = _village_lines(screen)
    assert len(villages) == 8
    for line in villages:
        symbol = min(line.index(s) for s in SYMBOLS if s in line)
        assert _cells_before(line, symbol) == state_at, line
    tmux.keys("q")
    deadline = time.monotonic() + 10
    while tmux.alive() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not tmux.alive(), "q did not quit the live view"


def test_commune_service_problems_are_shown_in_vietnamese(tmp_path: Path) -> None:
    from netmon import i18n
    from netmon.analysis.status_view import Inventory, load_snapshot
    from netmon.ui.status_words import service_words
    from tests.ui.test_status_services import PROFILES, devices, http, tcp

    devs = devices()
    store = Store.open(tmp_path / "state")
    ts = time.time() // 60 * 60 + 5
    portals, ports = [d for d in devs if d.kind == "service"], [d for d in devs if d.kind == "port"]
    store.append([http(portals[0], False, ts), http(portals[1], True, ts), http(portals[2], True, ts)]
                 + [tcp(d, False, ts) for d in ports])
    texts = [t for row in load_snapshot(store, Inventory(devs, PROFILES), "t", [], now=ts + 1).communes.values()
             for t in row.services]
    store.close()
    assert texts
    try:
        assert [service_words(t) for t in texts] == texts  # English as the model wrote it
        i18n.setup("vi")
        shown = [service_words(t) for t in texts]
    finally:
        i18n.setup("en")
    assert "dichvucong lúc được lúc không (thấy từ một nơi)" in shown
    assert "mot-cua: dịch vụ ngừng (thấy từ một nơi)" in shown
    assert not set(shown) & set(texts)  # every shape the model writes has a translation


def test_status_json_is_the_same_in_both_languages(decomposed: Path) -> None:
    import json

    docs = []
    for lang in ("en", "vi"):
        env = {**os.environ, "PYTHONPATH": str(REPO), "NO_COLOR": "1", "NETMON_LANG": lang}
        out = subprocess.run([sys.executable, "-m", "netmon", "status", "-c", str(decomposed), "--format", "json",
                              "--state", "unstable,down", "--flagged"], capture_output=True, text=True, env=env,
                             timeout=60, check=False)
        assert out.returncode == 0, out.stderr
        docs.append(json.loads(out.stdout))
    en, vi = docs
    assert en["filter"] == vi["filter"] == "state=unstable,down flagged"
    assert en["state_counts"] == vi["state_counts"] and en["villages"] == vi["villages"]
    assert en["communes"] == vi["communes"] and en.keys() == vi.keys()
