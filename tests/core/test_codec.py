"""Compact samples: every type and text survives, old JSON rows still read, forwarders count and read both."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from netmon.codec import decode_samples, encode_samples, sample_rows, samples_count
from netmon.codec_lines import parse_fields
from netmon.model import Sample
from netmon.sinks.batches import BatchReader, TagResolver
from netmon.store import Store
from tests.core.test_schema import FIXTURE

SAMPLES = (
    Sample("snmp", {"uptime_s": 12.0, "hr_memory_kb": 8_272_000, "ok": True, "sys_descr": "Trạm \"BTS\", Tả Phìn"},
           {"note": "a=b c,d\\"}),
    Sample("hr_storage", {"used_pct": 91.25, "size_bytes": 2**62}, {"hrStorageIndex": "1"}),
    Sample("ping", {"result_code": 2}, {"url": "10.0.0.1"}),
)


def test_round_trip_keeps_types_and_text() -> None:
    stored = encode_samples(SAMPLES)
    assert isinstance(stored, bytes) and samples_count(stored) == 3
    back = decode_samples(stored)
    assert back == SAMPLES
    assert [type(v) for s in back for v in s.fields.values()] == [float, int, bool, str, float, int, int]
    assert len(stored) < len(str([[s.measurement, s.tags, s.fields] for s in SAMPLES])) / 2


def test_plain_json_of_older_stores_still_reads() -> None:
    text = '[["ping",{"url":"127.0.0.1"},{"packets_received":3,"average_response_ms":20.5}]]'
    assert decode_samples(text) == (Sample("ping", {"packets_received": 3, "average_response_ms": 20.5},
                                           {"url": "127.0.0.1"}),)
    assert samples_count(text) == 1


def test_an_unknown_format_is_an_error_that_says_so() -> None:
    with pytest.raises(ValueError, match="format 9, which this netmon does not know"):
        sample_rows(b"\x09\x00\x01xyz")


def point(text: str) -> tuple[str, dict, str]:
    """(series, typed fields, timestamp) of a line whose fields hold no space (ping)."""
    head, fields, ts = text.rsplit(" ", 2)
    return head, parse_fields(fields), ts


def test_forwarders_read_and_count_old_and_new_rows_alike(tmp_path: Path) -> None:
    path = tmp_path / "netmon.db"
    shutil.copyfile(FIXTURE, path)
    store = Store.open(path)
    old_rows = store.count()
    newest = store.latest("lai-chau/sin-ho/ta-phin/cpe", "reachability")
    old_seq = store.conn.execute("SELECT seq FROM results WHERE device_id = ? AND ts = ?",
                                 (newest.device_id, newest.ts)).fetchone()[0]
    new_seq = store.append([newest])  # the same result again, now stored compact
    devices = store.devices()
    reader = BatchReader(path, TagResolver("fixture", devices))
    batch = reader.read(0, 100_000)
    assert batch.results == old_rows + 1
    pairs = list(zip([x.decode() for x in batch.lines], batch.seqs, strict=True))
    lines_of = {seq: [ln for ln, q in pairs if q == seq] for seq in (old_seq, new_seq)}
    # The same points from JSON and from line protocol (fields may come in another order, 20 as 20.0).
    assert lines_of[old_seq] and list(map(point, lines_of[old_seq])) == list(map(point, lines_of[new_seq]))
    results, points, _ = reader.backlog(0)
    assert results == old_rows + 1 and points == len(batch.lines)
    reader.close()
    store.close()


def test_what_line_protocol_cannot_carry_exactly_is_stored_as_json() -> None:
    odd = (Sample("snmp", {"sys_descr": "line one\nline two", "gone": None}, {"ifName": ""}),)
    stored = encode_samples(odd)
    assert stored[0] == 1  # format 1 (JSON): a newline, a None and an empty tag survive
    assert decode_samples(stored) == odd
    plain = encode_samples(SAMPLES[1:])
    assert plain[0] == 2 and decode_samples(plain) == SAMPLES[1:]
