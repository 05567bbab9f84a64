"""The notifier: a daemon component that turns store records into messages and delivers them.

Every `TICK_S`: derive events and compose messages (one transaction, off the event loop), then
drain each channel's queue in a worker thread, channels in parallel so one dead receiver never
holds up another. The component has its own SQLite connection; a lock keeps its two threads
from using it at once. It reads ad-hoc maintenance windows from the store on every tick, so
`netmon mute` takes effect without a reload.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

from netmon.analysis.maintenance import muting, windows_at
from netmon.component import Host
from netmon.config import Config
from netmon.notify import outbox
from netmon.notify.agent_events import agent_events
from netmon.notify.channels import Channel, SendError, build_channel
from netmon.notify.compose import compose
from netmon.notify.db import ensure_schema, prune
from netmon.notify.digests import queue_digests
from netmon.notify.events import Deriver, insert_events
from netmon.store import Store

log = logging.getLogger(__name__)

TICK_S = 2.0
PRUNE_EVERY_S = 3600.0


def open_conn(state_dir: Path | str) -> Store:
    """A store connection usable from the notifier's worker threads (guarded by its lock)."""
    path = Path(state_dir)
    if path.is_dir() or path.suffix == "":
        path = path / "netmon.db"
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path, timeout=10, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA busy_timeout=10000")
    store = Store(conn, path)
    ensure_schema(conn)
    return store


class Notifier:
    """Derive, compose, deliver; safe to SIGKILL at any point (see outbox.py)."""

    name = "notify"
    tables = ("notify_events", "notify_outbox", "notify_links", "maintenance", "notify_meta")

    def __init__(self, config: Config) -> None:
        self.store: Store | None = None
        self.lock = threading.Lock()
        self._stop = asyncio.Event()
        self._task: asyncio.Task | None = None
        self.started_ts = time.time()
        self._pruned_ts = 0.0
        self._memo: dict[str, Any] = {}
        self._adopt(config)

    def _adopt(self, config: Config) -> None:
        assert config.settings.notify is not None
        self.config = config
        self.settings = config.settings.notify
        self.tz = config.settings.agent.timezone
        self.agent = config.settings.agent.name
        self.province = config.all_devices[0].province if config.all_devices else ""
        self.channels: dict[str, Channel | str] = {}
        for name, spec in self.settings.channels.items():
            try:
                self.channels[name] = build_channel(name, spec, config.path.parent)
            except SendError as exc:
                log.error("%s; its messages wait until the config is fixed", exc)
                self.channels[name] = str(exc)

    # ------------------------------------------------------------ component protocol

    async def start(self, host: Host | None = None) -> None:
        """Open the store, take over messages left in doubt by a crash, start the loop.

        The notifier's worker threads use a connection of their own (to the same file), not the host's.
        """
        self.open()
        self._task = asyncio.create_task(self._loop(), name="notify")

    def open(self) -> None:
        """Open the store and recover in-doubt rows (also used by the standalone runner and tests)."""
        self.store = open_conn(self.config.state_dir)
        with self.lock, self.store.transaction():
            n = outbox.recover(self.store.conn)
        if n:
            log.warning("notify: %d message(s) were being sent when the agent stopped; sending again, marked"
                        " as possible repeats", n)

    async def reload(self, config: Config) -> None:
        """Adopt new channels, routes and windows."""
        if config.settings.notify is not None:
            self._adopt(config)

    async def stop(self) -> None:
        """Let the current sends finish (bounded by their timeouts), then close."""
        self._stop.set()
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError, TimeoutError):
                await asyncio.wait_for(self._task, 30.0)
        if self.store is not None:
            with self.lock:
                self.store.close()

    async def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                await asyncio.to_thread(self.tick)
                await self.deliver()
            except Exception:
                log.exception("notify tick failed; trying again in %.0f s", TICK_S)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), TICK_S)

    # ------------------------------------------------------------ work

    def tick(self, now: float | None = None) -> tuple[int, int]:
        """Record new events and compose ready messages; returns (new events, new messages)."""
        assert self.store is not None
        now = time.time() if now is None else now
        devices = self.config.device_by_id
        with self.lock, self.store.transaction() as conn:
            events = Deriver(conn, self.settings, devices, self._memo).derive(now)
            if now - self.started_ts > self.settings.no_results_after:  # a fresh start has no results yet
                events += agent_events(conn, self.settings, self.agent, self.province, self.config.state_dir, now)
            for ev in events:
                if ev.muted is None:
                    window = muting(windows_at(self.settings.maintenance, conn, ev.event_ts), ev.as_row())
                    if window is not None:
                        ev.muted = f"maintenance: {window.reason or '-'} ({window.source})"
            new = insert_events(conn, events, now)
            made = compose(conn, self.settings, now, self.tz)
            if self.settings.digests:
                made += queue_digests(conn, self.settings, self.tz, self.agent, now)
            if now - self._pruned_ts > PRUNE_EVERY_S:
                self._pruned_ts = now
                prune(conn, now)
        if new or made:
            log.info("notify: %d new event(s), %d message(s) queued", new, made)
        return new, made

    async def deliver(self) -> int:
        """Drain every channel (in parallel threads); returns how many messages were sent."""
        assert self.store is not None
        with self.lock:
            names = outbox.channels_with_pending(self.store.conn)
        if not names:
            return 0
        sent = await asyncio.gather(*(asyncio.to_thread(self.drain, n) for n in names))
        return sum(sent)

    def drain(self, channel: str, now_fn=time.time) -> int:
        """Send a channel's due messages in order until one fails or none is due."""
        assert self.store is not None
        sent = 0
        while not self._stop.is_set():
            with self.lock:
                row = outbox.head(self.store.conn, channel)
                if row is None or row.next_try_ts > now_fn():
                    return sent
                target = self.channels.get(channel)
                if target is None:
                    with self.store.transaction() as conn:
                        outbox.mark_failed(conn, row.id, f"channel {channel} is no longer in the config")
                    continue
                with self.store.transaction() as conn:
                    outbox.mark_sending(conn, row.id)
            error = self._send(channel, target, row, now_fn())
            with self.lock, self.store.transaction() as conn:
                if error is None:
                    outbox.mark_sent(conn, row.id, now_fn())
                    sent += 1
                else:
                    due = outbox.mark_retry(conn, row.id, now_fn(), error, self.settings.max_backoff)
                    log.warning("notify: %s; retrying in %.0f s (%d message(s) waiting behind it)", error,
                                due - now_fn(), self._waiting(conn, channel))
                    return sent
        return sent

    def _send(self, channel: str, target: Channel | str, row: outbox.Row, now: float) -> str | None:
        """Send one row; the error text, or None when delivered. Never raises: the row must leave `sending`."""
        if isinstance(target, str):
            return target
        try:
            spec = self.settings.channels[channel]
            target.send(outbox.outgoing(row, spec.language or self.settings.language, self.tz, now,
                                        self.settings.late_after, self.agent))
            return None
        except SendError as exc:
            return str(exc)
        except Exception as exc:  # a bug (ours or a library's) must not strand the message
            log.exception("notify: channel %s raised", channel)
            return f"channel {channel}: {type(exc).__name__}: {exc}"

    @staticmethod
    def _waiting(conn: sqlite3.Connection, channel: str) -> int:
        return conn.execute("SELECT count(*) - 1 FROM notify_outbox WHERE channel = ? AND status = 'pending'",
                            (channel,)).fetchone()[0]


def components_for(config: Config) -> list[Notifier]:
    """The daemon's factory: a notifier when the config has a `notify:` section."""
    return [Notifier(config)] if config.settings.notify is not None else []


def run_standalone(config_path: str, seconds: float) -> None:
    """Run only the notifier for `seconds` (used by the crash test; the daemon runs it as a component)."""
    from netmon.config import load_config

    async def main() -> None:
        n = Notifier(load_config(config_path))
        await n.start()
        await asyncio.sleep(seconds)
        await n.stop()

    asyncio.run(main())
