"""Store-and-forward to InfluxDB (DESIGN.md §6): the store is the queue, a cursor is the truth.

Each output has a cursor in the store (`Store.cursor(name)`). Its forwarder reads whole results
after the cursor, sends them as one line-protocol batch, and advances the cursor only after the
server acknowledged the batch. Batches go out in order; the next one is built in a worker
thread while the current one is on the wire. Any failure but a data rejection is retried with
exponential backoff and jitter, forever (ceiling: the output's `max_backoff`), so an outage of
an hour or a week ends with a catch-up, and a restart resumes from the cursor.

A batch refused as bad data (HTTP 400, e.g. a field type conflict) is bisected: halves are
resent until the single bad lines are found; those go to the `dead_letters` table with the
server's message and are counted (`dead_lettered:<output>`). Resending the good points is
harmless: a point is identified by series + timestamp, so a resend overwrites itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time

from netmon.config import Config
from netmon.config.schema import InfluxOutput
from netmon.daemon import Agent, Component
from netmon.schema import migrate
from netmon.sinks.batches import Batch, BatchReader, TagResolver
from netmon.sinks.transport import Answer, Outcome, Transport, describe_target, make_transport
from netmon.store import Store

log = logging.getLogger(__name__)

IDLE_POLL_S = 1.0
REJECT_STREAK_LIMIT = 50
"""Single points refused in a row, with nothing accepted between, before a 400 is taken for a
server or proxy fault (retried with backoff) rather than bad data (set aside)."""
FIRST_BACKOFF_S = 1.0


def ensure_schema(store: Store) -> None:
    """Bring the store to the current schema, `dead_letters` included (owned by `netmon.schema`)."""
    migrate(store.conn, str(store.path))


def dead_letter_counter(output: str) -> str:
    """Name of the persistent counter of points an output set aside."""
    return f"dead_lettered:{output}"


def dead_letters(store: Store, output: str | None = None) -> list[tuple[str, int, str, int, str]]:
    """(output, seq, line, status, message) of every point set aside, oldest first."""
    sql = "SELECT output, seq, line, status, message FROM dead_letters"
    rows = store.conn.execute(sql + (" WHERE output = ?" if output else "") + " ORDER BY id",
                              (output,) if output else ())
    return list(rows)


def backoff_s(attempt: int, ceiling_s: float) -> float:
    """Exponential backoff with jitter: 1, 2, 4 ... s capped at `ceiling_s`, each scaled by 0.5-1."""
    return min(ceiling_s, FIRST_BACKOFF_S * 2 ** min(attempt, 30)) * random.uniform(0.5, 1.0)


class Forwarder:
    """Drains one output's backlog from the store, in order, for as long as it runs."""

    def __init__(self, output: InfluxOutput, store: Store, resolver: TagResolver,
                 transport: Transport | None = None) -> None:
        self.output = output
        self.name = output.name
        self.store = store
        self.reader = BatchReader(store.path, resolver)
        self.transport = transport or make_transport(output)
        self.wakeup = asyncio.Event()
        self.sent_points = 0
        self.sent_batches = 0
        self.failing_since: float | None = None
        self.reject_streak = 0
        self._stopping = asyncio.Event()
        self._task: asyncio.Task | None = None

    # ------------------------------------------------------------ life cycle

    def start(self) -> None:
        """Start draining in a background task."""
        ensure_schema(self.store)
        self._task = asyncio.create_task(self.run(), name=f"forward-{self.name}")

    async def stop(self, grace_s: float = 5.0) -> None:
        """Let the batch on the wire finish briefly, then abandon it (the cursor stays put)."""
        self._stopping.set()
        self.wakeup.set()
        if self._task is not None:
            try:
                await asyncio.wait_for(asyncio.shield(self._task), grace_s)
            except TimeoutError:
                self._task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._task
        await self.transport.close()
        self.reader.close()

    # ------------------------------------------------------------ the loop

    async def run(self) -> None:
        """Forward until stopped; an unexpected failure is logged and forwarding resumes from the cursor."""
        attempt = 0
        while not self._stopping.is_set():
            try:
                await self._drain()
                return
            except Exception:
                attempt += 1
                delay = backoff_s(attempt, self.output.max_backoff)
                log.exception("output %s: forwarding failed; resuming from the cursor in %.0f s", self.name, delay)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), delay)

    async def _drain(self) -> None:
        """Send batch after batch until stopped; reads the next batch while one is on the wire."""
        limit = self.output.batch_size
        cursor = self.store.cursor(self.name)
        log.info("output %s: forwarding to %s from result %d", self.name, describe_target(self.output), cursor)
        pending = asyncio.create_task(asyncio.to_thread(self.reader.read, cursor, limit))
        try:
            while not self._stopping.is_set():
                batch = await pending
                if batch.empty:
                    await self._idle()
                    pending = asyncio.create_task(asyncio.to_thread(self.reader.read, batch.after_seq, limit))
                    continue
                pending = asyncio.create_task(asyncio.to_thread(self.reader.read, batch.last_seq, limit))
                if not await self.deliver(batch):
                    break
                self.store.set_cursor(self.name, batch.last_seq)
        finally:
            if not pending.done():
                pending.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                try:
                    await pending
                except Exception:
                    log.exception("output %s: reading the next batch failed", self.name)

    async def _idle(self) -> None:
        self.wakeup.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.wakeup.wait(), IDLE_POLL_S)

    async def deliver(self, batch: Batch) -> bool:
        """Send a batch until every line is acknowledged or dead-lettered; False if stopped first."""
        ranges = [(0, len(batch.lines))]
        while ranges:
            lo, hi = ranges.pop()
            if lo == hi:
                continue
            answer = await self._send_until_answered(batch.body(batch.lines[lo:hi]))
            if answer is None:
                return False
            if answer.outcome is Outcome.ACKED:
                self.sent_points += hi - lo
                self.reject_streak = 0
                continue
            if hi - lo == 1 and self.reject_streak >= REJECT_STREAK_LIMIT:
                ranges.append((lo, hi))
                if not await self._pause(answer):
                    return False
            elif hi - lo == 1:
                self.reject_streak += 1
                self._dead_letter(batch, lo, answer)
            else:
                mid = (lo + hi) // 2
                ranges += [(mid, hi), (lo, mid)]
        self.sent_batches += 1
        return True

    async def _send_until_answered(self, body: bytes) -> Answer | None:
        """Send until the server acknowledges or rejects the data; None if stopped meanwhile."""
        attempt = 0
        while True:
            answer = await self.transport.send(body)
            if answer.outcome is Outcome.ACKED:
                self._recovered(answer)
            if answer.outcome is not Outcome.RETRY:
                return answer
            self._failed(answer)
            delay = backoff_s(attempt, self.output.max_backoff)
            attempt += 1
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), delay)
            if self._stopping.is_set():
                return None

    async def _pause(self, answer: Answer) -> bool:
        """Every point is being refused: keep them and wait, as for an outage; False if stopped.

        The streak stays at its limit, so single points are kept until an acknowledged write
        shows the server accepts data again.
        """
        self._failed(answer, systemic=True)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), backoff_s(30, self.output.max_backoff))
        return not self._stopping.is_set()

    # ------------------------------------------------------------ bookkeeping

    def _failed(self, answer: Answer, systemic: bool = False) -> None:
        if self.failing_since is not None:
            return
        self.failing_since = time.time()
        what = f"HTTP {answer.status}: {answer.message}" if answer.status else answer.message
        if systemic:
            what += f" (the last {REJECT_STREAK_LIMIT} points were all refused: a server or proxy fault, not data)"
        level = logging.ERROR if answer.status in (401, 403, 404) else logging.WARNING
        hint = " (check the output's credentials, org/bucket or database)" if level == logging.ERROR else ""
        log.log(level, "output %s: cannot write to %s: %s%s; results stay in the store and are retried "
                "with backoff up to %.0f s", self.name, describe_target(self.output), what[:300], hint,
                self.output.max_backoff)

    def _recovered(self, answer: Answer) -> None:
        if self.failing_since is None:
            return
        down_s = time.time() - self.failing_since
        self.failing_since = None
        log.info("output %s: writing again after %.0f s (HTTP %d); catching up", self.name, down_s, answer.status)

    def _dead_letter(self, batch: Batch, index: int, answer: Answer) -> None:
        line, seq = batch.lines[index], batch.seqs[index]
        with self.store.transaction() as conn:
            conn.execute("INSERT INTO dead_letters (output, seq, line, status, message, created_ts)"
                         " VALUES (?, ?, ?, ?, ?, ?)", (self.name, seq, line, answer.status, answer.message,
                                                        time.time()))
            self.store.add_counter(dead_letter_counter(self.name), 1)
        log.error("output %s: server refused a point of result %d (HTTP %d: %s); set aside in dead_letters: %s",
                  self.name, seq, answer.status, answer.message[:300], line[:200])

    async def backlog(self) -> tuple[int, int, float | None]:
        """(results, points, oldest ts) not yet acknowledged; counted in a worker thread."""
        return await asyncio.to_thread(self.reader.backlog, self.store.cursor(self.name))


class Forwarding:
    """Daemon component running one `Forwarder` per configured InfluxDB output."""

    name = "forwarding"

    def __init__(self, config: Config) -> None:
        self.config = config
        self.forwarders: dict[str, Forwarder] = {}
        self.agent: Agent | None = None

    async def start(self, agent: Agent) -> None:
        """Open a forwarder per output and wake them after every committed batch of results."""
        self.agent = agent
        ensure_schema(agent.store)
        agent.writer.listeners.append(self._on_commit)
        await self._sync(self.config)

    def _on_commit(self, _results: object) -> None:
        for forwarder in self.forwarders.values():
            forwarder.wakeup.set()

    async def _sync(self, config: Config) -> None:
        assert self.agent is not None
        wanted = {o.name: o for o in config.settings.outputs.influxdb}
        resolver = TagResolver(config.settings.agent.name, config.all_devices)
        for name, forwarder in list(self.forwarders.items()):
            if wanted.get(name) != forwarder.output:
                await forwarder.stop()
                del self.forwarders[name]
            else:
                forwarder.reader.resolver = resolver
        for name, output in wanted.items():
            if name not in self.forwarders:
                forwarder = Forwarder(output, self.agent.store, resolver)
                forwarder.start()
                self.forwarders[name] = forwarder

    async def reload(self, config: Config) -> None:
        """Restart outputs whose settings changed; new device names apply to the next batch."""
        self.config = config
        await self._sync(config)

    async def stop(self) -> None:
        """Stop every forwarder; unacknowledged results wait in the store for the next run."""
        for forwarder in self.forwarders.values():
            await forwarder.stop()
        self.forwarders.clear()


def components_for(config: Config) -> list[Component]:
    """Daemon factory: forwarding (idle without outputs) and self-monitoring."""
    from netmon.sinks.selfmon import SelfMonitor

    forwarding = Forwarding(config)
    return [forwarding, SelfMonitor(config, forwarding)]

