"""The versioned store: a store written by netmon 83cbe8f migrates and keeps every row; newer stores are refused."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest

from netmon.analysis.status import open_flags
from netmon.schema import MIGRATIONS, SCHEMA_VERSION, TABLE_RETENTION, StoreVersionError
from netmon.store import Store
from tests.analysis.helpers import ping

FIXTURE = Path(__file__).resolve().parents[1] / "testdata" / "stores" / "store_83cbe8f.db"
"""Made by tests/testdata/stores/make_store_83cbe8f.py running the release at commit 83cbe8f."""


def dump(path: Path) -> dict[str, list[tuple]]:
    """Every row of every table and view (sorted), read with plain sqlite3, not through netmon.

    Views count: since version 5 `rollup_device`/`rollup_village` are views of keyed tables.
    """
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type IN ('table', 'view')"
                                             " AND name NOT LIKE 'sqlite_%' ORDER BY name")]
        return {t: sorted(conn.execute(f"SELECT * FROM {t}").fetchall(), key=repr) for t in tables}
    finally:
        conn.close()


def schema_of(path: Path) -> dict[str, str]:
    """name -> normalised CREATE statement of every table and index."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return {name: " ".join(sql.split()) for name, sql in conn.execute(
            "SELECT name, sql FROM sqlite_master WHERE sql IS NOT NULL AND name NOT LIKE 'sqlite_%'")}
    finally:
        conn.close()


@pytest.fixture
def old_store(tmp_path: Path) -> Path:
    """A private copy of the 83cbe8f fixture (the committed file is never opened for writing)."""
    path = tmp_path / "netmon.db"
    shutil.copyfile(FIXTURE, path)
    return path


def test_store_from_83cbe8f_migrates_and_keeps_every_row(old_store: Path, tmp_path: Path) -> None:
    before = dump(old_store)
    assert sqlite3.connect(old_store).execute("PRAGMA user_version").fetchone()[0] == 0
    assert len(before["results"]) > 500 and before["flags"] and before["dead_letters"]
    assert len({r[4] for r in before["results"]}) == 2  # icmp and snmp results
    store = Store.open(old_store)
    assert store.conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert store.conn.execute("PRAGMA auto_vacuum").fetchone()[0] == 2  # small: converted at open
    top = store.max_seq()
    assert top == max(r[0] for r in before["results"])
    assert store.append([ping("lai-chau/sin-ho/ta-phin/cpe", 1_900_000_000.0)]) == top + 1
    assert {f.village_id for f in open_flags(store)} == {"lai-chau/sin-ho/nam-tam"}
    store.close()
    after = dump(old_store)
    for table, rows in before.items():
        # Columns added by migrations come last: the old ones hold exactly what they held.
        kept = [r[:len(rows[0])] for r in after[table] if table != "results" or r[0] <= top]
        assert kept == rows, table
    assert {r[7:] for r in after["dead_letters"]} == {("data", 0, 0.0, None)}  # classified, not to be retried
    assert [r[0] for r in after["results"] if r[0] > top] == [top + 1]
    # The migrated store has exactly the shape of a store created by this code.
    fresh = Store.open(tmp_path / "fresh.db")
    fresh.close()
    assert schema_of(old_store) == schema_of(tmp_path / "fresh.db")


def test_opening_twice_applies_nothing_more(old_store: Path) -> None:
    Store.open(old_store).close()
    first = (dump(old_store), schema_of(old_store))
    Store.open(old_store).close()
    assert (dump(old_store), schema_of(old_store)) == first


@pytest.mark.parametrize("readonly", [False, True])
def test_a_store_newer_than_the_code_is_refused_untouched(old_store: Path, readonly: bool) -> None:
    Store.open(old_store).close()
    conn = sqlite3.connect(old_store)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    before = old_store.read_bytes()
    with pytest.raises(StoreVersionError) as err:
        Store.open(old_store, readonly=readonly)
    message = str(err.value)
    assert f"schema version {SCHEMA_VERSION + 1}" in message
    assert f"only knows versions up to {SCHEMA_VERSION}" in message and "newer netmon" in message
    assert old_store.read_bytes() == before


def test_every_table_has_a_declared_bound(tmp_path: Path) -> None:
    store = Store.open(tmp_path)
    tables = {r[0] for r in store.conn.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")}
    assert tables == set(TABLE_RETENTION)
    assert [m.version for m in MIGRATIONS] == list(range(1, SCHEMA_VERSION + 1))
    assert store.conn.execute("PRAGMA auto_vacuum").fetchone()[0] == 2


def test_a_failed_migration_leaves_the_previous_version(old_store: Path, monkeypatch) -> None:
    import netmon.schema as schema

    def broken(conn: sqlite3.Connection) -> None:
        conn.execute("CREATE TABLE half_done (x)")
        raise RuntimeError("disk went away")

    monkeypatch.setattr(schema, "MIGRATIONS", (*schema.MIGRATIONS[:1], schema.Migration(2, "broken", broken)))
    with pytest.raises(RuntimeError, match="disk went away"):
        Store.open(old_store)
    conn = sqlite3.connect(old_store)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == 1
    assert conn.execute("SELECT count(*) FROM sqlite_master WHERE name = 'half_done'").fetchone()[0] == 0


def test_the_command_line_says_why_it_refuses(tmp_path: Path, capsys) -> None:
    from netmon.cli import main

    config = tmp_path / "netmon.yaml"
    config.write_text(f"version: 1\nagent: {{name: t, state_dir: {tmp_path / 'state'}}}\ninventory: []\n")
    Store.open(tmp_path / "state").close()
    conn = sqlite3.connect(tmp_path / "state" / "netmon.db")
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 5}")
    conn.close()
    assert main(["report", "villages", "-c", str(config)]) == 2
    assert "written by a newer netmon" in capsys.readouterr().err


def test_a_version_4_store_gets_integer_rollup_keys_and_keeps_every_row(old_store: Path, monkeypatch) -> None:
    import netmon.schema as schema

    conn = sqlite3.connect(old_store, isolation_level=None)
    with monkeypatch.context() as m:  # the code of version 4: migrations 1-4 only
        m.setattr(schema, "SCHEMA_VERSION", 4)
        schema.migrate(conn)
    assert schema.version(conn) == 4
    # More rollups as version 4 held them: text ids, a fine bucket, a histogram in every column.
    hist = [(1 << 59) + k for k in range(8)]
    conn.executemany("INSERT INTO rollup_device (bucket_ts, device_id, rounds, rounds_up, down_s, p0, p1, p2, p3, p4,"
                     " p5, p6, p7) VALUES (?, ?, 60, 59, 12.5, ?, ?, ?, ?, ?, ?, ?, ?)",
                     [(1_800_000_000.0 + h * 300, f"lai-chau/phong-thổ/bản-{k}/cpe", *hist)
                      for h in range(3) for k in range(5)])
    conn.execute("INSERT INTO rollup_village (bucket_ts, village_id, rounds, office_up) VALUES (1.5e9, 'x/ý', 7, 3)")
    conn.close()
    before = dump(old_store)
    assert len(before["rollup_device"]) > 15 and len(before["rollup_village"]) > 1

    Store.open(old_store).close()
    after = dump(old_store)
    assert sqlite3.connect(old_store).execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    for table, rows in before.items():
        assert after[table] == rows, table  # rollups read through the views exactly as before
    assert len(after["rollup_device_k"]) == len(before["rollup_device"])
    assert len(after["device_keys"]) == len({r[1] for r in before["rollup_device"]})
    assert all(isinstance(r[1], int) for r in after["rollup_village_k"])
