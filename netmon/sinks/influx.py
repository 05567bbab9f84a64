"""Store-and-forward to InfluxDB: the store is the queue, a cursor is the truth.

Each output has a cursor in the store (`Store.cursor(name)`). Its forwarder reads whole results
after the cursor, sends them as one line-protocol batch, and advances the cursor only after the
server acknowledged the batch. Batches go out in order, up to `max_in_flight` (default 2) on
the wire at once, and the next one is built in a worker thread meanwhile: InfluxDB parses one
batch while the next is already on its way. Answers are taken oldest first, so the cursor moves
strictly in store order: a batch acknowledged before an earlier one waits for it. Anything but an
acknowledgement ends the overlap: the other batches in flight are let finish, then each is
handled alone, oldest first, by the rules below. Any failure but a data rejection is retried
with exponential backoff and jitter, forever (ceiling: the output's `max_backoff`), so an outage
of an hour or a week ends with a catch-up, and a restart resumes from the cursor (batches that
were acknowledged past it are sent again: harmless, see below).

A batch refused as bad data (HTTP 400, e.g. a field type conflict) is bisected until the single
refused points are found. A proxy or a sick server can answer 400 to everything, so before
bisecting, and again before setting any point aside, the forwarder sends a canary: a fresh
`netmon_agent` point of its own (`canary=true`, tags agent and output) that no database can
refuse as data. Canary refused: a server fault; nothing is set aside, the batch is retried with
backoff. Canary accepted: each refused point is sent once more, and only a point refused again
goes to `dead_letters` with the server's message (deadletters.py); the rest flows. Resending good
points is harmless: a point is identified by series + timestamp, so a resend overwrites itself.
Letters refused for a transient reason are replayed while the output is healthy.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections import deque
from collections.abc import Sequence

from netmon.config.schema import InfluxOutput
from netmon.errors import OutputError
from netmon.model import ProbeResult
from netmon.schema import migrate
from netmon.sinks import deadletters
from netmon.sinks.batches import Batch, BatchReader, TagResolver
from netmon.sinks.health import OutputHealth, State
from netmon.sinks.lineproto import join_tags, line, tag_pairs, to_ms
from netmon.sinks.replay import replay_due, replay_letters
from netmon.sinks.transport import Answer, Outcome, Transport, describe_target, make_transport
from netmon.store import Store

log = logging.getLogger(__name__)

IDLE_POLL_S = 1.0
FIRST_BACKOFF_S = 1.0
REPLAY_CHECK_S = 30.0
"""How often a healthy output looks for transient dead letters that are due."""
SEND_NOW_TIMEOUT_S = 10.0


def ensure_schema(store: Store) -> None:
    """Bring the store to the current schema, `dead_letters` included (owned by `netmon.schema`)."""
    migrate(store.conn, str(store.path))


def dead_letter_counter(output: str) -> str:
    """Name of the persistent counter of points an output set aside."""
    return deadletters.counter(output)


def dead_letters(store: Store, output: str | None = None) -> list[tuple[str, int, str, int, str]]:
    """(output, seq, line, status, message) of every point set aside, oldest first."""
    sql = "SELECT output, seq, line, status, message FROM dead_letters"
    rows = store.conn.execute(sql + (" WHERE output = ?" if output else "") + " ORDER BY id",
                              (output,) if output else ())
    return list(rows)


def backoff_s(attempt: int, ceiling_s: float) -> float:
    """Exponential backoff with jitter: 1, 2, 4 ... s capped at `ceiling_s`, each scaled by 0.5-1."""
    return min(ceiling_s, FIRST_BACKOFF_S * 2 ** min(attempt, 30)) * random.uniform(0.5, 1.0)


class Halt(OutputError):
    """Delivery cannot go on now: a server fault (canary refused) or, when not patient, an outage."""

    def __init__(self, answer: Answer) -> None:
        super().__init__(answer.message)
        self.answer = answer


Refused = list[tuple[int, Answer]]


class Forwarder:
    """Drains one output's backlog from the store, in order, for as long as it runs.

    `patient=False` (the `netmon deadletters replay` command) gives up at the first outage
    instead of retrying forever.
    """

    def __init__(self, output: InfluxOutput, store: Store, resolver: TagResolver,
                 transport: Transport | None = None, patient: bool = True) -> None:
        self.output = output
        self.name = output.name
        self.store = store
        self.patient = patient
        self.reader = BatchReader(store.path, resolver)
        self.transport = transport or make_transport(output)
        self.health = OutputHealth(self.name, describe_target(output), output.max_backoff, store)
        ensure_schema(store)
        self.wakeup = asyncio.Event()
        self.sent_points = 0
        self.sent_batches = 0
        self.replayed_points = 0
        self._next_replay = 0.0
        self._announced = False
        self.replay_check_s = REPLAY_CHECK_S
        self.first_replay_s = deadletters.FIRST_REPLAY_S
        self._stopping = asyncio.Event()
        self._task: asyncio.Task | None = None

    @property
    def failing_since(self) -> float | None:
        """When the output stopped getting points through, or None while it is healthy."""
        return self.health.since if self.health.stalled else None

    # ------------------------------------------------------------ life cycle

    def start(self) -> None:
        """Start draining in a background task."""
        self.health.publish(dead_letters_pending=deadletters.pending_count(self.store, self.name))
        self._task = asyncio.create_task(self.run(), name=f"forward-{self.name}")

    async def stop(self, grace_s: float = 5.0) -> None:
        """Let the batches on the wire finish briefly, then abandon them (the cursor stays put)."""
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
        attempt, last_error = 0, ""
        while not self._stopping.is_set():
            try:
                await self._drain()
                return
            except Exception as exc:
                attempt += 1
                delay = backoff_s(attempt, self.output.max_backoff)
                error = f"{type(exc).__name__}: {exc}"
                if error != last_error:  # a traceback once per kind of failure, not per retry
                    log.exception("output %s: forwarding failed; resuming from the cursor (retried with"
                                  " backoff up to %.0f s)", self.name, self.output.max_backoff)
                    last_error = error
                await self._wait(delay)

    async def _drain(self) -> None:
        """Send batch after batch until stopped, up to `max_in_flight` at once; reads ahead meanwhile."""
        window, limit = self.output.max_in_flight, self.output.batch_size
        cursor = self.store.cursor(self.name)
        log.log(logging.DEBUG if self._announced else logging.INFO, "output %s: forwarding to %s from result %d",
                self.name, describe_target(self.output), cursor)
        self._announced = True  # a restart of the loop after a failure is not news
        flight: deque[tuple[Batch, asyncio.Task[Answer] | None]] = deque()
        pending = self._read_after(cursor, limit)
        try:
            while flight or not self._stopping.is_set():
                if len(flight) < window and not self._stopping.is_set():
                    batch = await pending
                    if batch.empty and not flight:
                        await self._maybe_replay()
                        await self._idle()
                        pending = self._read_after(batch.after_seq, limit)
                        continue
                    pending = self._read_after(batch.last_seq, limit)
                    if not batch.empty:
                        flight.append((batch, self._launch(batch)))
                        continue
                if not await self._settle_oldest(flight):
                    return
                await self._maybe_replay()
        finally:
            for task in [pending, *(sending for _batch, sending in flight if sending is not None)]:
                if not task.done():
                    task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    try:
                        await task
                    except Exception as exc:
                        # Read or sent again from the cursor; a failure that persists is logged
                        # once by run() when it reaches the loop, not once per retry here.
                        log.debug("output %s: a batch read or send ahead failed: %s", self.name, exc)

    def _read_after(self, after_seq: int, limit: int) -> asyncio.Task[Batch]:
        return asyncio.create_task(asyncio.to_thread(self.reader.read, after_seq, limit))

    def _launch(self, batch: Batch) -> asyncio.Task[Answer] | None:
        """Put a batch on the wire; None when it has no line to send (only unreadable rows)."""
        return asyncio.create_task(self.transport.send(batch.body())) if batch.lines else None

    async def _settle_oldest(self, flight: deque[tuple[Batch, asyncio.Task[Answer] | None]]) -> bool:
        """Take the oldest batch's answer and advance the cursor past it; False if stopped first.

        On anything but an acknowledgement, every batch in flight is let finish, then each is
        delivered alone, oldest first (retries, bisection, dead letters), as with one in flight.
        """
        batch, sending = flight.popleft()
        answer = None if sending is None else await sending
        if answer is None or answer.outcome is Outcome.ACKED:
            if answer is not None:
                self.health.recovered(answer)
            self._delivered(batch, [])
            return True
        settled = [(batch, answer)]
        while flight:
            later, sending = flight[0]
            settled.append((later, None if sending is None else await sending))
            flight.popleft()
        for later, first in settled:
            if not await self.deliver(later, first):
                return False
        return True

    async def _idle(self) -> None:
        self.health.tick()
        self.wakeup.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.wakeup.wait(), IDLE_POLL_S)

    async def _wait(self, delay_s: float) -> bool:
        """Sleep unless stopped; False when stopping."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), delay_s)
        return not self._stopping.is_set()

    async def deliver(self, batch: Batch, first: Answer | None = None) -> bool:
        """Send a batch until every line is acknowledged or set aside, then advance the cursor.

        `first` is the server's answer to the whole batch if it was already sent (in flight).
        False if stopped first (the cursor stays put).
        """
        attempt = 0
        while True:
            try:
                refused = await self.settle(batch.lines, first)
            except Halt as halt:
                first = None
                self.health.failed(halt.answer, server_fault=True)
                if not await self._wait(backoff_s(attempt, self.output.max_backoff)):
                    return False
                attempt += 1
                continue
            if refused is None:
                return False
            self._delivered(batch, refused)
            return True

    def _delivered(self, batch: Batch, refused: Refused) -> None:
        self._commit(batch, refused)
        self.sent_points += len(batch.lines) - len(refused)
        self.sent_batches += 1

    async def settle(self, lines: Sequence[bytes], first: Answer | None = None) -> Refused | None:
        """Send `lines` until each is acknowledged or refused on its own; the refused (index, answer).

        `first`: the answer to all of `lines` sent together, if they already were. None if stopped
        meanwhile; raises Halt on a server fault (or an outage when not patient).
        """
        refused: Refused = []
        ranges = [(0, len(lines))]
        canary_ok = False
        while ranges:
            lo, hi = ranges.pop()
            if lo == hi:
                continue
            answer = await self._send_until_answered(b"\n".join(lines[lo:hi]), first)
            first = None  # it answered the first range: all of `lines`
            if answer is None:
                return None
            if answer.outcome is Outcome.ACKED:
                continue
            if hi - lo > 1 and not canary_ok:
                # A server answering 400 to everything would otherwise cost 2n requests to bisect.
                if await self._canary_accepted(answer) is None:
                    return None
                canary_ok = True
            if hi - lo == 1:
                refused.append((lo, answer))
            else:
                mid = (lo + hi) // 2
                ranges += [(mid, hi), (lo, mid)]
        if not refused:
            return refused
        # Before anything is set aside: the server takes a known-good point right now, and refuses
        # a second time each point it did not blame on the point itself (a 400 burst that ended
        # meanwhile spares them; a named data fault such as a type conflict is definitive).
        if await self._canary_accepted(refused[0][1]) is None:
            return None
        confirmed: Refused = []
        for index, first in refused:
            if deadletters.kind_of(first.status, first.message) == deadletters.DATA:
                confirmed.append((index, first))
                continue
            answer = await self._send_until_answered(lines[index])
            if answer is None:
                return None
            if answer.outcome is not Outcome.ACKED:
                confirmed.append((index, answer))
        return confirmed

    async def _canary_accepted(self, refusal: Answer) -> bool | None:
        """True when the server accepts the canary, None if stopped; raises Halt when it refuses it."""
        resolver = self.reader.resolver
        tags = join_tags(resolver.agent_pairs + tag_pairs({"output": self.name}))
        text = line("netmon_agent", tags, {"canary": True}, to_ms(time.time()))
        assert text is not None
        answer = await self._send_until_answered(text.encode())
        if answer is None:
            return None
        if answer.outcome is Outcome.ACKED or deadletters.kind_of(answer.status, answer.message) == deadletters.DATA:
            # A server that names a fault of the canary itself (someone wrote `canary` with another
            # type) is judging data, not refusing everything: the verdict on the batch stands.
            return True
        raise Halt(refusal)

    async def _send_until_answered(self, body: bytes, first: Answer | None = None) -> Answer | None:
        """Send until the server acknowledges or rejects the data; None if stopped meanwhile.

        `first`: the answer to an attempt already made (a batch that was in flight).
        """
        attempt = 0
        answer = first
        while True:
            if answer is None:
                answer = await self.transport.send(body)
            if answer.outcome is Outcome.ACKED:
                self.health.recovered(answer)
            if answer.outcome is not Outcome.RETRY:
                return answer
            if not self.patient:
                raise Halt(answer)
            self.health.failed(answer)
            if not await self._wait(backoff_s(attempt, self.output.max_backoff)):
                return None
            attempt += 1
            answer = None

    # ------------------------------------------------------------ dead letters

    def _commit(self, batch: Batch, refused: Refused) -> None:
        """Set the refused and unreadable points aside and advance the cursor, in one transaction."""
        deadletters.set_aside(self.store, self.name, batch, refused, self.first_replay_s, self.health)

    async def replay(self, letters: Sequence[deadletters.Letter]) -> tuple[int, int, str]:
        """Send letters again: (accepted, refused again, why it stopped early or '')."""
        return await replay_letters(self, letters)

    async def _maybe_replay(self) -> None:
        """While healthy, send transient letters that are due (with a backoff per letter)."""
        now = time.time()
        if self.health.state is State.OK and now >= self._next_replay:
            self._next_replay = now + self.replay_check_s
            await replay_due(self, now)

    # ------------------------------------------------------------ out of band

    async def send_now(self, result: ProbeResult) -> bool:
        """One attempt to send `result` right away, beside the ordered stream (self-monitoring).

        The stored copy still goes out in order later; the resend overwrites itself.
        """
        tags_of, ts_ms = self.reader.resolver.tags, to_ms(result.ts)
        lines = [text for s in result.samples
                 if (text := line(s.measurement, tags_of(result.device_id, dict(s.tags), result.check),
                                  s.fields, ts_ms))]
        if not lines:
            return False
        try:
            answer = await asyncio.wait_for(self.transport.send("\n".join(lines).encode()),
                                            SEND_NOW_TIMEOUT_S)
        except TimeoutError:
            return False
        return answer.outcome is Outcome.ACKED

    async def backlog(self) -> tuple[int, int, float | None]:
        """(results, points, oldest ts) not yet acknowledged; counted in a worker thread."""
        return await asyncio.to_thread(self.reader.backlog, self.store.cursor(self.name))
