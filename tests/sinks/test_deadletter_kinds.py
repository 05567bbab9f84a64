"""Which refusals are the data's fault (kept for a human) and which come back by themselves."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from netmon.sinks import deadletters
from netmon.store import Store

KINDS = [  # (status, what the server said, kind); messages as InfluxDB 1.x/2.x and proxies send them
    (400, '{"error":"partial write: field type conflict: input field \\"value\\" on measurement \\"custom\\" is'
          ' type float, already exists as type string dropped=1"}', "data"),
    (400, '{"error":"unable to parse \'cpu value=1x 1\': invalid number"}', "data"),
    (400, '{"error":"partial write: points beyond retention policy dropped=1"}', "data"),
    (422, '{"code":"unprocessable entity","message":"failure writing points to database: partial write: points'
          ' beyond retention policy dropped=1"}', "data"),
    (400, '{"code":"invalid","message":"partial write: field type conflict"}', "data"),
    (413, "Request Entity Too Large", "data"),
    (400, '{"error":"partial write: max-series-per-database limit exceeded: (1000) dropped=1"}', "transient"),
    (400, '{"error": "upstream write failed: backend busy"}', "transient"),
    (400, "<html><body><h1>400 Bad Request</h1>Request header or cookie too large</body></html>", "transient"),
    (400, "", "transient"),
    (0, "stored row cannot be read: Expecting value", "undecodable"),
]


@pytest.mark.parametrize(("status", "message", "kind"), KINDS)
def test_kind_of_a_refusal(status: int, message: str, kind: str) -> None:
    assert deadletters.kind_of(status, message) == kind


@pytest.mark.parametrize("later_rule", [False, True])
def test_letters_of_an_older_agent_are_kept_and_classified(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                           later_rule: bool) -> None:
    """Migration 3 classifies them with its own frozen rule: a later change of kind_of does not matter."""
    if later_rule:
        monkeypatch.setattr(deadletters, "kind_of", lambda status, message: deadletters.DATA)
    (tmp_path / "state").mkdir()
    conn = sqlite3.connect(tmp_path / "state" / "netmon.db")  # a store as the first release left it
    conn.execute("CREATE TABLE dead_letters (id INTEGER PRIMARY KEY, output TEXT NOT NULL, seq INTEGER NOT NULL,"
                 " line TEXT NOT NULL, status INTEGER NOT NULL, message TEXT NOT NULL, created_ts REAL NOT NULL)")
    conn.executemany("INSERT INTO dead_letters (output, seq, line, status, message, created_ts)"
                     " VALUES ('main', ?, 'm v=1i 1', 400, ?, 1.0)",
                     [(1, "partial write: field type conflict: x"), (2, "proxy said no")])
    conn.commit()
    conn.close()
    store = Store.open(tmp_path / "state")  # migrates (netmon.schema)
    deadletters.ensure_schema(store)
    deadletters.ensure_schema(store)  # idempotent
    old = deadletters.letters(store, "main")
    assert [(x.seq, x.kind, x.attempts, x.replayed_ts) for x in old] == [(1, "data", 0, None),
                                                                         (2, "transient", 0, None)]
    assert [x.seq for x in deadletters.letters(store, "main", kinds=["transient"], due_before=2.0)] == [2]
