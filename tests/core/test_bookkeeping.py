"""The bookkeeping worker process: jobs run there, a killed worker is replaced, systemd's cgroup SIGTERM is survived."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from netmon.bookkeeping import Bookkeeper, WorkerLost
from netmon.store import Store
from tests.core.bookkeeping_jobs import worker_facts
from tests.core.test_daemon import start_daemon, stop, stored, wait_for, write_config


def worker_pid(store: Store) -> int:
    """Bookkeeping job: the worker's process id."""
    return os.getpid()


def remember(store: Store, value: str) -> str:
    """Setup job: keeps a value in the worker's agent_state."""
    store.set_state(setup_value=value)
    return value


def read_state(store: Store) -> dict:
    return store.state()


def test_jobs_run_in_another_process_and_a_killed_worker_is_replaced(tmp_path):
    Store.open(tmp_path).close()

    async def main() -> None:
        keeper = Bookkeeper(tmp_path / "netmon.db")
        try:
            first = await keeper.run(worker_pid)
            assert first != os.getpid()
            await keeper.setup("demo", remember, "one")
            os.kill(first, signal.SIGKILL)
            with pytest.raises(WorkerLost):
                for _ in range(50):  # until the executor notices the death
                    await keeper.run(worker_pid)
                    await asyncio.sleep(0.05)
            second = await keeper.run(worker_pid)
            assert second not in (first, os.getpid())
            assert (await keeper.run(read_state))["setup_value"] == "one"  # the setup job was replayed
        finally:
            await keeper.close()

    asyncio.run(main())


def children(pid: int) -> list[int]:
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True)
    return [int(x) for x in out.stdout.split()]


def test_sigterm_to_the_whole_group_still_stops_cleanly(tmp_path):
    """systemd (KillMode=control-group) sends SIGTERM to the daemon and its worker at once."""
    config = write_config(tmp_path, 50, interval="1s")
    log = tmp_path / "daemon.log"
    proc = start_daemon(config, log)
    try:
        wait_for(lambda: len(stored(config)) >= 100, 30, "first rounds")
        wait_for(lambda: bool(children(proc.pid)), 30, "the bookkeeping worker")
        for pid in [proc.pid, *children(proc.pid)]:
            os.kill(pid, signal.SIGTERM)
        code = proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            stop(proc)
    text = log.read_text()
    assert code == 0, text
    committed = int(text.split("stopped; ")[1].split(" results")[0])
    assert committed == len(stored(config))
    assert "Traceback" not in text and "bookkeeping process failed" not in text, text
    time.sleep(0.5)
    assert not children(proc.pid)


def own_children() -> list[int]:
    """This process's children (from /proc: `ps` would count itself)."""
    return sorted(int(pid) for task in Path("/proc/self/task").iterdir()
                  for pid in (task / "children").read_text().split())


def fail(store: Store, why: str) -> None:
    raise ValueError(why)


def slow(store: Store, seconds: float) -> str:
    time.sleep(seconds)
    return "slow"


def test_the_worker_is_light_niced_ignores_signals_and_has_no_tracker(tmp_path):
    Store.open(tmp_path).close()

    async def main() -> None:
        keeper = Bookkeeper(tmp_path / "netmon.db")
        try:
            facts = await keeper.run(worker_facts)
            assert facts["nice"] >= 10
            assert set(facts["signals"].values()) == {signal.SIG_IGN}
            heavy = {"yaml", "pydantic", "rich", "aiohttp", "asyncio", "multiprocessing", "netmon.config"}
            assert not heavy & facts["modules"], heavy & facts["modules"]
            # one child, the worker: no multiprocessing resource tracker beside it
            assert own_children() == [facts["pid"]]
        finally:
            await keeper.close()
        assert not own_children()

    asyncio.run(main())


def test_a_failing_job_raises_its_error_and_a_cancelled_one_keeps_the_order(tmp_path):
    Store.open(tmp_path).close()

    async def main() -> None:
        keeper = Bookkeeper(tmp_path / "netmon.db")
        try:
            with pytest.raises(ValueError, match="no such village") as info:
                await keeper.run(fail, "no such village")
            assert "in the bookkeeping process" in info.value.__notes__[0]
            with pytest.raises(TimeoutError):
                await asyncio.wait_for(keeper.run(slow, 0.5), 0.1)
            # the cancelled job's answer is read before the next job's: each caller gets its own
            assert await keeper.run(read_state) == (await keeper.run(read_state))
            assert await keeper.run(slow, 0.0) == "slow"
        finally:
            await keeper.close()

    asyncio.run(main())
