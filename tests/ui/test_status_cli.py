"""`netmon status` as a user runs it: --once on a pipe, --format json, and live in tmux at 80x24."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from netmon.config import load_config
from netmon.store import Store
from tests.fixtures.need import missing

from .conftest import big_config, fill_big, fill_store

REPO = Path(__file__).resolve().parents[2]
ENV = {**os.environ, "PYTHONPATH": str(REPO), "NO_COLOR": ""}


def netmon(*args: str) -> subprocess.CompletedProcess[str]:
    """Run the CLI with its stdout on a pipe."""
    return subprocess.run([sys.executable, "-m", "netmon", *args], capture_output=True, text=True,
                          env=ENV, timeout=60, check=False)


@pytest.fixture
def live_store(province: Path) -> Path:
    """The known results, written relative to the real clock (the CLI reads `now`)."""
    store = Store.open(province.parent / "state")
    fill_store(store, time.time())
    store.close()
    return province


def test_once_on_a_pipe_has_no_escape_codes(live_store: Path) -> None:
    out = netmon("status", "-c", str(live_store), "--once")
    assert out.returncode == 0, out.stderr
    assert "\x1b" not in out.stdout
    assert "    Nậm Cuổi" in out.stdout and "⚑ link Viettel" in out.stdout
    assert "worst PCs: ketoan-pc 75" in out.stdout


def test_once_filters_from_the_command_line(live_store: Path) -> None:
    out = netmon("status", "-c", str(live_store), "--once", "--state", "down", "--province", "Lai Châu")
    assert out.returncode == 0, out.stderr
    assert "1 villages: ✗ 1 down" in out.stdout and "Tả Phìn" not in out.stdout
    bad = netmon("status", "-c", str(live_store), "--once", "--state", "broken")
    assert bad.returncode == 2 and "unknown state 'broken'" in bad.stderr


def test_json_parses(live_store: Path) -> None:
    out = netmon("status", "-c", str(live_store), "--format", "json", "--flagged")
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    assert {v["village"]: v["cause"] for v in doc["villages"]} == {
        "Nậm Cuổi": "link", "Sì Lở Lầu": "power", "Mù Sang": "upstream"}
    assert doc["flagged_by_operator"] == {"MobiFone": 1, "VNPT": 1, "Viettel": 1}
    assert doc["agent"]["backlog"] == {"influxdb": 5}
    assert doc["villages"][0]["last_hour"] == "█_███_███_██"


# ---------------------------------------------------------------- live, in a real terminal


class Tmux:
    """One detached tmux session that this test created, killed by name at teardown."""

    def __init__(self, name: str) -> None:
        self.name = name

    def run(self, *args: str) -> str:
        """Run a tmux command against this session's server."""
        return subprocess.run(["tmux", *args], capture_output=True, text=True, check=True, timeout=10).stdout

    def screen(self) -> str:
        """The visible 80x24 screen as text."""
        return self.run("capture-pane", "-p", "-t", self.name)

    def wait_for(self, text: str, timeout_s: float = 15.0, absent: str | None = None) -> str:
        """Poll the screen until `text` shows (and `absent` does not: a frame caught mid-redraw
        still holds lines of the previous one); fail with the last screen otherwise."""
        deadline = time.monotonic() + timeout_s
        screen = ""
        while time.monotonic() < deadline:
            screen = self.screen()
            if text in screen and (absent is None or absent not in screen):
                return screen
            time.sleep(0.1)
        raise AssertionError(f"{text!r} never showed; screen was:\n{screen}")

    def keys(self, *keys: str) -> None:
        """Send keys as typed (`-l` literal for text, names like PageDown otherwise)."""
        self.run("send-keys", "-t", self.name, *keys)

    def alive(self) -> bool:
        """True while the session (and so the status process) exists."""
        return subprocess.run(["tmux", "has-session", "-t", self.name], capture_output=True,
                              check=False).returncode == 0


@pytest.fixture
def tmux() -> Iterator[Tmux]:
    """A tmux name for this test; the session is killed by that name afterwards."""
    if shutil.which("tmux") is None:
        missing("tmux is not installed")
    session = Tmux(f"netmon-ui-{uuid.uuid4().hex[:8]}")
    yield session
    if session.alive():
        subprocess.run(["tmux", "kill-session", "-t", session.name], check=False, timeout=10)


def test_live_view_filters_pages_and_quits(tmp_path: Path, tmux: Tmux) -> None:
    cfg = tmp_path / "big.yaml"
    cfg.write_text(big_config(60), encoding="utf-8")
    config = load_config(cfg)
    store = Store.open(config.state_dir)
    fill_big(store, sorted({d.id.rsplit("/", 1)[0] for d in config.devices if d.village}, key=lambda v: int(
        v.rsplit("-", 1)[1])), time.time())
    store.close()
    command = f"cd {REPO} && NO_COLOR=1 {sys.executable} -m netmon status -c {cfg}"
    tmux.run("new-session", "-d", "-s", tmux.name, "-x", "80", "-y", "24", command)
    first = tmux.wait_for("n/p page 1/")
    assert "Bản Nậm Lầu 0" in first and "60 villages" in first
    assert len(first.splitlines()) <= 24 and max(len(line) for line in first.splitlines()) <= 80
    pages = int(first.split("n/p page 1/")[1].split()[0])
    assert pages >= 4

    tmux.keys("PageDown")
    second = tmux.wait_for("n/p page 2/")
    assert "(cont.)" in second or "  Xã Mường" in second
    assert "Bản Nậm Lầu 0 " not in second

    tmux.keys("f")
    flagged = tmux.wait_for("8 villages: ✗ 8 down", absent="✓ good")
    assert "filter: flagged" in flagged and "⚑ link Viettel" in flagged

    tmux.keys("c", "/")
    tmux.keys("-l", "lau 42")
    tmux.wait_for("/lau 42▏")
    tmux.keys("Enter")
    found = tmux.wait_for("filter: /lau 42")
    assert "Bản Nậm Lầu 42" in found and "1 villages" in found

    tmux.keys("q")
    deadline = time.monotonic() + 10
    while tmux.alive() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not tmux.alive(), "q did not quit the live view"
