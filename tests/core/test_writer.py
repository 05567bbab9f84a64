"""The result writer: bounded commits off the event loop, a stop that always returns, a bounded queue."""

from __future__ import annotations

import asyncio
import sqlite3
import time

import pytest

from netmon.model import ProbeResult, Sample, Status
from netmon.store import Store
from netmon.writer import DROPPED_COUNTER, ResultWriter, describe_error


def result(i: int) -> ProbeResult:
    return ProbeResult(f"dev-{i % 500}", "reachability", "icmp", Status.OK, "3/3 replies", 1e9 + i, 0.01,
                       (Sample("ping", {"packets_received": 3, "average_response_ms": 0.05}),))


@pytest.fixture
def store(tmp_path):
    s = Store.open(tmp_path)
    yield s
    s.close()


@pytest.mark.parametrize("queued", [1999, 2000, 10_000])
def test_stop_commits_everything_queued_and_returns(store, queued):
    """Once 2,000 results were queued, `stop()` used to spin forever (a cancel swallowed by wait_for)."""
    seen: list[int] = []

    async def main() -> None:
        writer = ResultWriter(store)
        writer.listeners.append(lambda batch: seen.append(len(batch)))
        writer.start()
        await asyncio.sleep(0.01)
        for i in range(queued):
            writer.emit(result(i))
        await asyncio.wait_for(writer.stop(), 20)
        assert writer.committed == queued and writer.queued == 0

    asyncio.run(main())
    assert store.count() == queued
    assert [r.ts for r in store.iter_results()] == [1e9 + i for i in range(queued)]
    assert sum(seen) == queued and max(seen) <= 2000  # bounded commits, listeners told of each


def test_commits_do_not_block_the_event_loop(store):
    """A commit waiting on a lock held by another connection leaves the loop free to run."""
    other = sqlite3.connect(store.path, isolation_level=None)

    async def main() -> float:
        writer = ResultWriter(store, flush_s=0.05)
        writer.start()
        other.execute("BEGIN IMMEDIATE")  # the writer thread's commit now waits in busy_timeout
        for i in range(100):
            writer.emit(result(i))
        worst, last = 0.0, time.monotonic()
        for _ in range(40):  # 0.4 s of 10 ms ticks while the commit is blocked
            await asyncio.sleep(0.01)
            now = time.monotonic()
            worst, last = max(worst, now - last), now
        assert writer.committed == 0
        other.execute("COMMIT")
        await asyncio.wait_for(writer.stop(), 20)
        assert writer.committed == 100
        return worst

    worst = asyncio.run(main())
    other.close()
    assert worst < 0.2, f"the event loop stalled {worst:.3f} s behind a blocked commit"


def test_stop_gives_up_after_its_grace_when_the_store_refuses(store, caplog):
    """SIGTERM finishes even if the store never takes the queue; the loss is said, once."""
    other = sqlite3.connect(store.path, isolation_level=None)
    other.execute("BEGIN EXCLUSIVE")

    async def main() -> float:
        writer = ResultWriter(store)
        writer.stop_grace_s = 1.0
        writer.start()
        for i in range(50):
            writer.emit(result(i))
        await asyncio.sleep(0)
        t0 = time.monotonic()
        await asyncio.wait_for(writer.stop(), 60)
        return time.monotonic() - t0

    # Each attempt waits out the store's 10 s busy_timeout; the grace bounds how many are made.
    took = asyncio.run(main())
    other.execute("ROLLBACK")
    other.close()
    assert took < 40
    assert caplog.text.count("queued results are lost") == 1


def test_queue_is_bounded_and_drops_are_counted(store, caplog):
    """Past `max_queued`, the oldest results go first, are counted, and it is logged once."""
    writer = ResultWriter(store, max_batch=10, max_queued=100)
    for i in range(250):
        writer.emit(result(i))
    assert writer.queued == 100 and writer.dropped == 150
    assert caplog.text.count("dropping the oldest") == 1
    assert writer.flush() == 100
    assert [r.ts for r in store.iter_results()] == [1e9 + i for i in range(150, 250)]
    assert store.counters()[DROPPED_COUNTER] == 150


def test_error_descriptions_are_never_empty():
    assert describe_error(TimeoutError()) == "TimeoutError"
    assert describe_error(sqlite3.OperationalError("database or disk is full")) == "disk full"
    assert describe_error(OSError(28, "No space left on device")) == "disk full"
    assert describe_error(sqlite3.OperationalError("database is locked")) == "OperationalError: database is locked"
