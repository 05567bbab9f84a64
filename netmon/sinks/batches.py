"""Read stored results after a cursor and turn them into line-protocol batches.

The tags of docs/series.md are added here: a device's result carries agent, province, commune,
village, device, kind, operator; a village's result (analysis, device_id = village id) carries
agent, province, commune, village, operator; the agent's own results carry agent only. Empty values
are omitted (line protocol has no empty tag).

A device's points also carry `check`, the name of the check that produced them: a device can
have two checks of one kind (two ICMP targets, two HTTP services), and without the tag both
would write one series. Village and agent results have one producer each and no `check` tag.

Rows stored in format 2 (line protocol, codec.py) become lines by joining strings (rowlines.py);
older JSON rows take the general path below, which decodes, sanitises and escapes each sample.
"""

from __future__ import annotations

import json
import sqlite3
import zlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from netmon.codec import FORMAT_V2, INFLATE_V2, sample_rows, samples_count
from netmon.model import Device
from netmon.sinks.lineproto import join_tags, line, tag_pairs, to_ms
from netmon.sinks.rowlines import RowLines

Pairs = list[tuple[str, str]]


class TagResolver:
    """Maps a result's device_id to its escaped tag pairs; rebuilt on config reload.

    Pairs are built when a series is first seen, from the config's own Device objects, not kept
    per device: the forwarder caches each series' finished head (rowlines.py), so a copy of
    every device's seven pairs here was ~1 KB a device for nothing (19 MB at 20,000 devices).
    """

    def __init__(self, agent: str, devices: Iterable[Device] | Mapping[str, Device]) -> None:
        self.agent = agent
        self.agent_pairs: Pairs = tag_pairs({"agent": agent})
        self._devices: Mapping[str, Device] = devices if isinstance(devices, Mapping) else {d.id: d for d in devices}
        self._villages: dict[str, Device] = {}
        """Village id -> one of its devices (the village's tags are that device's place)."""
        for d in self._devices.values():
            if d.village:
                village_id = d.id.rsplit("/", 1)[0]
                if village_id not in self._devices:
                    self._villages.setdefault(village_id, d)
        self._gone: dict[str, Pairs] = {}
        """Devices no longer in the config whose results are still in the backlog."""
        self._joined: dict[tuple, str] = {}

    def pairs(self, device_id: str) -> Pairs:
        """Tag pairs of a device, a village, or the agent itself."""
        d = self._devices.get(device_id)
        if d is not None:
            return tag_pairs(d.tags(self.agent))
        d = self._villages.get(device_id)
        if d is not None:
            return tag_pairs({"agent": self.agent, "province": d.province, "commune": d.commune,
                              "village": d.village, "operator": d.operator})
        if device_id == "agent":
            return self.agent_pairs
        found = self._gone.get(device_id)
        if found is None:
            if len(self._gone) > 100_000:
                self._gone.clear()
            found = self._gone[device_id] = self.agent_pairs + tag_pairs({"device": device_id.rsplit("/", 1)[-1]})
        return found

    def tags(self, device_id: str, sample_tags: dict[str, str], check: str = "") -> str:
        """The joined `,k=v...` tag string for one point (cached: series repeat every round)."""
        key = (device_id, check, *sample_tags.items()) if sample_tags else (device_id, check)
        joined = self._joined.get(key)
        if joined is None:
            joined = self.join(device_id, sample_tags, check)
            if len(self._joined) > 200_000:
                self._joined.clear()
            self._joined[key] = joined
        return joined

    def join(self, device_id: str, sample_tags: dict[str, str], check: str = "") -> str:
        """`tags` without the cache (for callers that cache the finished head themselves)."""
        pairs = self.pairs(device_id)
        if check and device_id != "agent" and device_id not in self._villages:
            pairs = [p for p in pairs if p[0] != "check"] + tag_pairs({"check": check})
        if sample_tags:
            own = {k for k, _ in tag_pairs(sample_tags)}
            # A sample's own tag wins over a device tag of the same name (`agent` in selfmon...).
            pairs = [p for p in pairs if p[0] not in own] + tag_pairs(sample_tags)
        return join_tags(pairs)


@dataclass
class Batch:
    """Consecutive results (after_seq, last_seq] as line protocol."""

    after_seq: int
    last_seq: int
    lines: list[bytes] = field(default_factory=list)
    """UTF-8 lines, as they go on the wire."""
    seqs: list[int] = field(default_factory=list)
    """The result sequence number of each line (for the dead-letter table)."""
    results: int = 0
    oldest_ts: float | None = None
    unreadable: list[tuple[int, str, str]] = field(default_factory=list)
    """(seq, stored text, why) of samples that could not be turned into a line (for dead letters)."""

    @property
    def empty(self) -> bool:
        """True when there was nothing after the cursor."""
        return self.last_seq == self.after_seq

    def body(self, lines: list[bytes] | None = None) -> bytes:
        """The request body for these lines (all of them by default)."""
        return b"\n".join(self.lines if lines is None else lines)


BACKLOG_EXACT = 200_000
"""Backlog rows whose points are counted exactly; beyond, the count is extrapolated."""


class BatchReader:
    """Reads the store through its own connection (used by one thread at a time)."""

    def __init__(self, db_path: Path, resolver: TagResolver) -> None:
        self.db_path = db_path
        self.conn = sqlite3.connect(db_path, timeout=10, check_same_thread=False)
        self.conn.execute("PRAGMA busy_timeout=10000")
        self.resolver = resolver

    @property
    def resolver(self) -> TagResolver:
        """Maps device ids to tags; replaced on a config reload (and the fast path's cache with it)."""
        return self._resolver

    @resolver.setter
    def resolver(self, resolver: TagResolver) -> None:
        self._resolver = resolver
        self._rows = RowLines(resolver.join)

    def close(self) -> None:
        """Close the reader's connection."""
        self.conn.close()

    def read(self, after_seq: int, max_points: int) -> Batch:
        """Whole results after `after_seq` until at least `max_points` lines (or the end)."""
        batch = Batch(after_seq, after_seq)
        rows = self.conn.execute(
            "SELECT seq, ts, device_id, check_name, samples FROM results WHERE seq > ? ORDER BY seq LIMIT ?",
            (after_seq, max_points)).fetchall()
        lines, seqs, cache = batch.lines, batch.seqs, self._rows
        known, merge = cache.get, cache.merge
        inflater, wbits, zdict = zlib.decompressobj, *INFLATE_V2
        count = 0
        for seq, ts, device_id, check, samples in rows:
            try:
                if type(samples) is bytes and samples[0] == FORMAT_V2:
                    # The common case inlined (a few µs a point matter here: issue 21). A new
                    # inflater per row costs less than a copy of a primed one (which copies its
                    # whole window), and an f-string less than bytes formatting: ~0.4 µs a point.
                    d = inflater(wbits, zdict)
                    text = d.decompress(samples[3:])
                    if not d.eof:
                        raise ValueError("the stored samples end early (a damaged row)")
                    tail = f" {round(ts * 1000)}".encode()
                    if samples[1] == 0 and samples[2] == 1:
                        head, _sep, fields = text.partition(b"\t")
                        if fields:
                            key = (device_id, check, head)
                            lines.append((known(key) or merge(key)) + fields + tail)
                            seqs.append(seq)
                    else:
                        made = cache.lines(device_id, check, text, tail)
                        lines += made
                        seqs += [seq] * len(made)
                else:
                    made = self._general(batch, seq, ts, device_id, check, samples)
                    lines += made
                    seqs += [seq] * len(made)
            except (ValueError, TypeError, IndexError, OverflowError, zlib.error) as exc:
                # One broken row must never stop forwarding: it goes to dead letters, the rest flows.
                batch.unreadable.append((seq, str(samples)[:65536], f"stored row cannot be read: {exc}"))
            count += 1
            if len(lines) >= max_points:
                break
        if count:
            batch.last_seq, batch.results, batch.oldest_ts = rows[count - 1][0], count, rows[0][1]
        return batch

    def _general(self, batch: Batch, seq: int, ts: float, device_id: str, check: str,
                 samples: str | bytes) -> list[bytes]:
        """Lines of a row stored as JSON (format 1 or older): decoded, sanitised and escaped per sample."""
        ts_ms, decoded = to_ms(ts), sample_rows(samples)
        if not isinstance(decoded, list):
            raise ValueError(f"samples are a JSON {type(decoded).__name__}, not a list")
        made = []
        for sample in decoded:
            try:
                measurement, sample_tags, fields = sample
                text = line(measurement, self.resolver.tags(device_id, sample_tags, check), fields, ts_ms)
            except (ValueError, TypeError, AttributeError) as exc:
                batch.unreadable.append((seq, json.dumps(sample, ensure_ascii=False)[:65536],
                                         f"stored sample cannot be sent: {type(exc).__name__}: {exc}"))
                continue
            if text is not None:
                made.append(text.encode())
        return made

    def backlog(self, after_seq: int) -> tuple[int, int, float | None]:
        """(results, points, oldest ts) not yet acknowledged after `after_seq`.

        Bounded work, because it runs every minute and the backlog is largest exactly when
        InfluxDB has been down for days: results and the oldest timestamp come from the
        sequence; points are counted exactly up to BACKLOG_EXACT rows and extrapolated from
        those beyond.
        """
        # Own connection: `read` may be running on the reader's connection in another thread.
        conn = sqlite3.connect(self.db_path, timeout=10)
        conn.create_function("samples_count", 1, samples_count, deterministic=True)
        try:
            first = conn.execute("SELECT seq, ts FROM results WHERE seq > ? ORDER BY seq LIMIT 1",
                                 (after_seq,)).fetchone()
            if first is None:
                return 0, 0, None
            last = conn.execute("SELECT max(seq) FROM results").fetchone()[0]
            results = int(last) - int(first[0]) + 1  # rows are appended with consecutive sequence numbers
            counted, points = conn.execute(
                "SELECT count(*), coalesce(sum(samples_count(samples)), 0) FROM"
                " (SELECT samples FROM results WHERE seq > ? ORDER BY seq LIMIT ?)",
                (after_seq, BACKLOG_EXACT)).fetchone()
        finally:
            conn.close()
        if counted and counted < results:
            points = round(points * results / counted)
        return results, int(points), first[1]
