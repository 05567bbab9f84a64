"""A full disk, for real: the daemon's store on a small tmpfs that a test fills and then frees.

The daemon must keep probing (no healthy loopback target recorded as an error), say "disk full"
once rather than a traceback per attempt, commit in batches that fit once space returns, lose
none of the results it kept, and still stop cleanly.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import shutil
import sqlite3
import subprocess
import time
from pathlib import Path

import pytest

from netmon.store import Store
from netmon.writer import ResultWriter
from tests.core.test_daemon import start_daemon, stop, wait_for, write_config
from tests.core.test_writer import result
from tests.fixtures.need import missing


@pytest.fixture
def small_disk(tmp_path):
    """A 6 MB tmpfs mounted at tmp_path/state, unmounted afterwards."""
    if os.geteuid() != 0 or shutil.which("mount") is None:
        missing("mounting a tmpfs needs root and mount(8)")
    state = tmp_path / "state"
    state.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=6m", "tmpfs", str(state)], check=True)
    try:
        yield state
    finally:
        subprocess.run(["umount", "-l", str(state)], check=False)


def fill(folder: Path) -> Path:
    """Write a file until the file system refuses more; returns it."""
    filler = folder / "filler"
    with filler.open("wb") as f:
        try:
            while True:
                f.write(b"\0" * 65536)
                f.flush()
        except OSError:
            pass
    return filler


def rows(db: Path) -> list[tuple[str, float, str]]:
    if not db.exists():
        return []
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        try:
            return conn.execute("SELECT device_id, ts, status FROM results ORDER BY seq").fetchall()
        except sqlite3.OperationalError:
            return []


def test_full_disk_is_survived_and_recovered_from(tmp_path, small_disk):
    config = write_config(tmp_path, 100, interval="1s")
    log = tmp_path / "daemon.log"
    db = small_disk / "netmon.db"
    proc = start_daemon(config, log)
    try:
        wait_for(lambda: len(rows(db)) >= 300, 30, "the first rounds")
        filler = fill(small_disk)
        wait_for(lambda: "disk full:" in log.read_text(), 30, "the writer to notice the full disk")
        full_at = len(rows(db))
        # Keep it full long enough for many commit attempts and heartbeats (~8 rounds of 100).
        deadline = time.monotonic() + 8
        while time.monotonic() < deadline:
            assert proc.poll() is None, log.read_text()
            time.sleep(0.5)
        assert len(rows(db)) <= full_at + 200  # the store really refused them
        filler.unlink()
        wait_for(lambda: "store writable again" in log.read_text(), 30, "recovery")
        recovered_at = len(rows(db))
        wait_for(lambda: len(rows(db)) >= recovered_at + 300, 30, "probing results after recovery")
    finally:
        code = stop(proc)
    text = log.read_text()
    assert code == 0, text
    assert text.count("disk full:") == 1, text
    # A full disk is the environment, not a bug: every task says it in one line, none with a traceback.
    assert "Traceback" not in text, text
    for what in ("housekeeping (heartbeat, retention) failed", "analysis step failed"):
        assert text.count(what) <= 1, text
    assert "queued results are lost" not in text
    stored = rows(db)
    committed = int(text.split("stopped; ")[1].split(" results")[0])
    assert committed == len(stored)
    assert all(status == "ok" for _, _, status in stored), [r for r in stored if r[2] != "ok"][:5]
    # Every device kept probing through the full disk: no gap longer than a few rounds.
    by_device: dict[str, list[float]] = {}
    for device, ts, _ in stored:
        by_device.setdefault(device, []).append(ts)
    assert len(by_device) == 100
    for device, stamps in by_device.items():
        stamps.sort()
        worst = max(b - a for a, b in itertools.pairwise(stamps))
        assert worst < 3.5, (device, worst)


def test_a_little_space_commits_what_fits(small_disk):
    """After a full disk, freeing a little space commits part of the backlog (batches halve to fit)."""
    store = Store.open(small_disk)

    async def main() -> tuple[int, int]:
        writer = ResultWriter(store, flush_s=0.05)
        writer.start()
        filler = fill(small_disk)
        for i in range(5000):
            writer.emit(result(i))
        wait = asyncio.get_running_loop().time() + 30
        while writer.failure is None and asyncio.get_running_loop().time() < wait:
            await asyncio.sleep(0.05)
        assert writer.failure == "disk full" and writer.committed == 0
        with filler.open("r+b") as f:  # free ~256 KB: room for some hundreds of results, not 5,000
            f.truncate(filler.stat().st_size - 256 * 1024)
        while writer.committed == 0 and asyncio.get_running_loop().time() < wait:
            await asyncio.sleep(0.05)
        await asyncio.sleep(1.0)
        partial = writer.committed
        filler.unlink()
        while writer.queued and asyncio.get_running_loop().time() < wait + 30:
            await asyncio.sleep(0.05)
        await asyncio.wait_for(writer.stop(), 30)
        return partial, writer.committed

    partial, total = asyncio.run(main())
    assert 0 < partial < 5000, partial
    assert total == 5000
    assert [r.ts for r in store.iter_results()] == [1e9 + i for i in range(5000)]
    store.close()
