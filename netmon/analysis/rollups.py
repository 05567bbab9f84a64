"""Incremental rollups: per device and per village per bucket (an hour by default).

The engine follows the `results` log by sequence number with its own cursor, committed in the
same transaction as the rollup rows and the per-device state, so a crash or restart neither
loses nor double-counts a round. It judges a round only once it is `settle_s` old, so that the
parent's round of the same moment is already known when deciding whether a child's failure
was upstream. Results with timestamps far in the future or far in the past (clock jumps) are
counted in `analysis_rejected_ts` and logged, never rolled up.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass

from netmon.analysis.attribution import HISTORY_S, POWER_SLACK_S, RecentRounds, rebooted_during
from netmon.analysis.catalog import Catalog
from netmon.analysis.db import (
    HIST_BUCKETS,
    HIST_COLUMNS,
    ROLLUP_COUNTERS,
    ROLLUP_STORAGE,
    RollupKeys,
    meta,
    pack_hist,
    set_meta,
)
from netmon.analysis.officehours import OfficeHours
from netmon.analysis.power import booted_inside, sentence
from netmon.analysis.stability import hist_bucket
from netmon.model import ProbeResult, Status
from netmon.store import Store
from netmon.uptime import host_uptime, next_boot

log = logging.getLogger(__name__)

CURSOR_KEY = "rollup_cursor"
MAX_FUTURE_S = 300.0
"""A result stamped further ahead than this is a clock jump, not a round."""
MAX_AGE_S = 7 * 86400.0
"""Results older than this when first seen are not rolled up (a clock that jumped back)."""
CHUNK = 20_000
LISTEN_EVERY_S = 5.0
"""The analysis loop also runs `process()` at least this often, so nothing waits longer."""


@dataclass(slots=True)
class _DevState:
    up: bool
    since_ts: float
    last_ts: float
    boot_ts: float | None = None
    outage_id: int | None = None
    last_up_ts: float | None = None
    prev_up_ts: float | None = None
    """The last up round before the open outage (None: no up round seen before it)."""


class _Acc:
    """Rollup increments of one processing step, flushed with one UPSERT per row."""

    def __init__(self) -> None:
        self.rows: dict[tuple[str, float, str], list[float]] = {}

    def row(self, table: str, bucket: float, key: str) -> list[float]:
        """The mutable counters + histogram of one (table, bucket, key)."""
        k = (table, bucket, key)
        row = self.rows.get(k)
        if row is None:
            row = self.rows[k] = [0.0] * (len(ROLLUP_COUNTERS) + HIST_BUCKETS)
        return row


_IDX = {name: i for i, name in enumerate(ROLLUP_COUNTERS)}
_H0 = len(ROLLUP_COUNTERS)


def _upsert_sql(view: str) -> str:
    table, key = ROLLUP_STORAGE[view].table, ROLLUP_STORAGE[view].key
    cols = [*ROLLUP_COUNTERS, *HIST_COLUMNS.split(", ")]
    sets = ", ".join(f"{c} = {c} + excluded.{c}" for c in cols)
    return (f"INSERT INTO {table} (bucket_ts, {key}, {', '.join(cols)}) VALUES (?, ?, {', '.join('?' * len(cols))})"
            f" ON CONFLICT(bucket_ts, {key}) DO UPDATE SET {sets}")


_SQL = {view: _upsert_sql(view) for view in ROLLUP_STORAGE}


def _ping(result: ProbeResult) -> tuple[int, int, float | None]:
    """(sent, received, rtt_ms) of an icmp result, from Telegraf's `ping` field names."""
    for s in result.samples:
        if s.measurement == "ping":
            f = s.fields
            rtt = f.get("average_response_ms")
            return (int(f.get("packets_transmitted", 0) or 0), int(f.get("packets_received", 0) or 0),
                    float(rtt) if isinstance(rtt, int | float) else None)
    return 0, 0, None


def _uptime(result: ProbeResult) -> float | None:
    """The host's uptime: hrSystemUptime where the agent has it, sysUpTime otherwise (netmon.uptime)."""
    for s in result.samples:
        if s.measurement == "snmp":
            found = host_uptime(s.fields)
            return found[0] if found is not None else None
    return None


class RollupEngine:
    """Turns committed results into rollup rows, device state and outages; resumable."""

    def __init__(self, store: Store, catalog: Catalog, bucket_s: float, settle_s: float,
                 office: OfficeHours, start_lookback_s: float = 86400.0) -> None:
        self.store = store
        self.catalog = catalog
        self.bucket_s = bucket_s
        self.settle_s = settle_s
        self.office = office
        self.recent = RecentRounds(catalog)
        self.keys = RollupKeys(store.conn)
        self.states = self._load_states()
        self.rejected = 0
        self._cursor = self._initial_cursor(start_lookback_s)
        self._seen_seq = self._cursor
        self._ready = self._cursor
        self._last_listen = 0.0

    def _load_states(self) -> dict[str, _DevState]:
        states = {}
        for dev, up, since, last, boot, outage, last_up, prev_up in self.store.conn.execute(
                "SELECT s.device_id, s.up, s.since_ts, s.last_ts, s.boot_ts, s.outage_id, s.last_up_ts, o.prev_up_ts"
                " FROM analysis_device_state s LEFT JOIN analysis_outages o ON o.id = s.outage_id"):
            states[dev] = _DevState(bool(up), since, last, boot, outage, last_up, prev_up)
            if not up:
                self.recent.seed_down(dev, since)
        return states

    def _initial_cursor(self, lookback_s: float) -> int:
        cursor = meta(self.store, CURSOR_KEY)
        if cursor is not None:
            return int(cursor)
        # First start on an existing store: roll up only the recent past, once.
        row = self.store.conn.execute("SELECT min(seq) FROM results WHERE ts >= ?",
                                      (time.time() - lookback_s,)).fetchone()
        return int(row[0]) - 1 if row and row[0] else self.store.max_seq()

    def __call__(self, results: Sequence[ProbeResult]) -> None:
        """ResultWriter listener: roll up what has settled, at most every LISTEN_EVERY_S.

        The writer commits every quarter second; rounds settle only after `settle_s`, so
        looking more often finds nothing new and costs a scan each time.
        """
        now = time.monotonic()
        if now - self._last_listen >= LISTEN_EVERY_S:
            self._last_listen = now
            self.process()

    def process(self, now: float | None = None, max_rows: int | None = None) -> int:
        """Roll up settled results after the cursor (at most `max_rows`); returns how many were consumed.

        With `max_rows` one call is a bounded step: the daemon calls it repeatedly from its
        bookkeeping thread, so a 24 h catch-up never holds the write lock or the thread for long.
        """
        now = time.time() if now is None else now
        self._remember_new_rounds(now, max_rows)
        if max_rows is None or self._cursor >= self._ready:
            # Found once per pass, not per step: the query scans from the cursor to the first
            # unsettled row, which during a catch-up is millions of rows away.
            self._ready = self._settled_upto(now)
        # Only rows whose rounds are remembered: a parent's round of the same moment may come later.
        ready = min(self._ready, self._seen_seq)
        total = 0
        while self._cursor < ready and (max_rows is None or total < max_rows):
            step = CHUNK if max_rows is None else min(CHUNK, max_rows - total)
            rows = self.store.results_between(self._cursor, ready, step)
            if not rows:
                break
            last_seq = rows[-1][0]
            self._apply([r for _seq, r in rows], last_seq, now)
            total += len(rows)
        if total:
            self.recent.prune(now - HISTORY_S)
        return total

    def _remember_new_rounds(self, now: float, max_rows: int | None = None) -> None:
        """Record every ICMP round the first time it is seen, settled or not, for parent lookups.

        Reads plain columns only: decoding samples of unsettled rows again and again was what
        made a 100k-target agent fall behind.
        """
        top = self.store.max_seq()
        if max_rows is not None:
            top = min(top, self._seen_seq + 4 * max_rows)  # plain columns: cheaper than a rollup row
        for device_id, ts, status in self.store.conn.execute(
                "SELECT device_id, ts, status FROM results WHERE seq > ? AND seq <= ? AND prober = 'icmp'",
                (self._seen_seq, top)):
            if abs(ts - now) <= MAX_FUTURE_S + HISTORY_S:
                self.recent.add(device_id, ts, status == "ok")
        self._seen_seq = max(self._seen_seq, top)

    def _settled_upto(self, now: float) -> int:
        """Highest sequence number before the first result that is not settled yet."""
        row = self.store.conn.execute(
            "SELECT min(seq) FROM results WHERE seq > ? AND ts > ? AND ts <= ?",
            (self._cursor, now - self.settle_s, now + MAX_FUTURE_S)).fetchone()
        return int(row[0]) - 1 if row and row[0] is not None else self.store.max_seq()

    # ------------------------------------------------------------ one step

    def _apply(self, batch: list[ProbeResult], last_seq: int, now: float) -> None:
        try:
            self._apply_in_transaction(batch, last_seq, now)
        except BaseException:
            self.keys.forget()  # keys given in the rolled-back transaction do not exist
            raise
        self._cursor = last_seq
        self.rejected = 0

    def _apply_in_transaction(self, batch: list[ProbeResult], last_seq: int, now: float) -> None:
        acc = _Acc()
        touched: set[str] = set()
        with self.store.transaction() as conn:
            for r in batch:
                if r.prober not in ("icmp", "snmp") or r.device_id not in self.catalog.devices:
                    continue
                if not now - MAX_AGE_S <= r.ts <= now + MAX_FUTURE_S:
                    self._reject(r, now)
                    continue
                if r.prober == "icmp":
                    # An error is the agent failing to probe (overrun, socket), not the link failing.
                    if r.status is not Status.ERROR:
                        self._round(conn, acc, r)
                else:
                    self._snmp(conn, r)
                touched.add(r.device_id)
            for (table, bucket, key), values in acc.rows.items():
                conn.execute(_SQL[table], (bucket, self.keys.key(table, key), *values[:_H0],
                                           *pack_hist(values[_H0:])))
            conn.executemany(
                "INSERT INTO analysis_device_state VALUES (?,?,?,?,?,?,?) ON CONFLICT(device_id) DO UPDATE SET"
                " up=excluded.up, since_ts=excluded.since_ts, last_ts=excluded.last_ts,"
                " boot_ts=excluded.boot_ts, outage_id=excluded.outage_id, last_up_ts=excluded.last_up_ts",
                [(d, int(s.up), s.since_ts, s.last_ts, s.boot_ts, s.outage_id, s.last_up_ts)
                 for d in touched if (s := self.states.get(d)) is not None])
            set_meta(self.store, CURSOR_KEY, last_seq)
            if self.rejected:
                self.store.add_counter("analysis_rejected_ts", self.rejected)

    def _reject(self, r: ProbeResult, now: float) -> None:
        if not self.rejected:
            log.warning("ignoring results stamped %+.0f s from now (first: %s %s); is the clock jumping?",
                        r.ts - now, r.device_id, r.check)
        self.rejected += 1

    def _round(self, conn, acc: _Acc, r: ProbeResult) -> None:
        info = self.catalog.devices[r.device_id]
        up = r.up
        excused = not up and self.recent.excused(r.device_id, r.ts)
        sent, received, rtt = _ping(r)
        st = self.states.get(r.device_id)
        if st is None:
            st = self.states[r.device_id] = _DevState(True, r.ts, r.ts)
        down_s, started, late = 0.0, False, False
        if r.ts < st.last_ts:
            if st.last_ts - r.ts > 3 * info.interval_s:
                # The clock jumped back: restart the timeline here instead of ignoring every round.
                st.last_ts = r.ts
            else:
                late = True  # a late round: count it, but it must not move the state backwards
        if not late:
            gap = r.ts - st.last_ts
            # A gap much longer than the interval means the agent was not watching: no down time.
            if not st.up and gap <= 3 * info.interval_s:
                down_s = gap
            started = self._transition(conn, r, st, excused)
        bucket = r.ts - r.ts % self.bucket_s
        office = self.office.contains(r.ts)
        row = acc.row("rollup_device", bucket, r.device_id)
        self._count(row, up, sent, received, rtt, office, down_s, started)
        row[_IDX["rounds_excused"]] += excused
        if not info.village_id:
            return
        row = acc.row("rollup_village", bucket, info.village_id)
        if excused:
            row[_IDX["rounds_excused"]] += 1
            row[_IDX["excused_down_s"]] += down_s
        else:
            self._count(row, up, sent, received, rtt, office, down_s, started)

    @staticmethod
    def _count(row: list[float], up: bool, sent: int, received: int, rtt: float | None, office: bool,
               down_s: float, started: bool) -> None:
        row[_IDX["rounds"]] += 1
        row[_IDX["rounds_up"]] += up
        row[_IDX["sent"]] += sent
        row[_IDX["received"]] += received
        row[_IDX["office_rounds"]] += office
        row[_IDX["office_up"]] += office and up
        row[_IDX["down_s"]] += down_s
        row[_IDX["outages"]] += started
        if rtt is not None and received:
            row[_H0 + hist_bucket(rtt)] += 1

    def _transition(self, conn, r: ProbeResult, st: _DevState, excused: bool) -> bool:
        """Advance a device's up/down state; returns True when an outage starts."""
        started = False
        if st.up and not r.up:
            st.up, st.since_ts = False, r.ts
            cur = conn.execute("INSERT INTO analysis_outages (device_id, village_id, start_ts, cause, prev_up_ts)"
                               " VALUES (?, ?, ?, ?, ?)",
                               (r.device_id, self.catalog.devices[r.device_id].village_id or "", r.ts,
                                "upstream" if excused else "link", st.last_up_ts))
            st.outage_id, st.prev_up_ts = cur.lastrowid, st.last_up_ts
            started = True
        elif not st.up and r.up:
            if st.outage_id is not None:
                conn.execute("UPDATE analysis_outages SET end_ts = ? WHERE id = ?", (r.ts, st.outage_id))
                if st.boot_ts is not None and rebooted_during(st.boot_ts, st.prev_up_ts, r.ts):
                    self._mark_power(conn, st.boot_ts, self.catalog.devices[r.device_id].village_id,
                                     r.device_id)
            st.up, st.since_ts, st.outage_id = True, r.ts, None
        if r.up:
            st.last_up_ts = r.ts
        st.last_ts = r.ts
        return started

    def _snmp(self, conn, r: ProbeResult) -> None:
        """A device reporting its uptime: a boot inside an outage of its village means a power cut."""
        uptime_s = _uptime(r)
        if uptime_s is None:
            return
        st = self.states.get(r.device_id)
        if st is None:
            st = self.states[r.device_id] = _DevState(True, r.ts, r.ts)
        # the same boot as known (estimate jitter, or a TimeTicks wrap) keeps the known boot time
        boot_ts = st.boot_ts = next_boot(r.ts - uptime_s, st.boot_ts)
        self._mark_power(conn, boot_ts, self.catalog.devices[r.device_id].village_id, r.device_id)

    def _mark_power(self, conn, boot_ts: float, village_id: str | None, device_id: str | None = None) -> None:
        """Outages of the village (or the device) that the boot fell inside were power cuts."""
        where, key = ("village_id = ?", village_id) if village_id else ("device_id = ?", device_id)
        if key is None:
            return
        rows = conn.execute(
            f"SELECT id, prev_up_ts, end_ts FROM analysis_outages WHERE {where} AND cause = 'link'"
            " AND start_ts >= ? AND (end_ts IS NULL OR end_ts >= ?)",
            (key, boot_ts - MAX_AGE_S, boot_ts - POWER_SLACK_S)).fetchall()
        hits = [(oid, prev_up, end) for oid, prev_up, end in rows if rebooted_during(boot_ts, prev_up, end)]
        if hits:
            conn.executemany("UPDATE analysis_outages SET cause = 'power' WHERE id = ?", [(h[0],) for h in hits])
            # Other devices of the village that booted inside the same outage corroborate it.
            _, prev_up, end = hits[0]
            members = ((d, st.boot_ts) for d, st in self.states.items()
                       if (info := self.catalog.devices.get(d)) is not None and village_id
                       and info.village_id == village_id)
            booted = booted_inside(members, prev_up, end) if village_id else [(device_id or "", boot_ts)]
            log.info("%s: power cut, not the link (%d outage(s)); %s", village_id or device_id, len(hits),
                     sentence(booted))
