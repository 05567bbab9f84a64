"""An open flag's cause may become more specific (link -> upstream/power), never less."""

from __future__ import annotations

import pytest

from netmon.analysis import flags as flagmod
from netmon.analysis.catalog import VillageInfo
from netmon.analysis.db import ensure_schema
from netmon.analysis.stability import Cause
from netmon.store import Store

VILLAGE = VillageInfo(id="p/c/behind", province="P", commune="Tam Đường", village="Behind", operator="Viettel")


@pytest.fixture
def conn(tmp_path):
    store = Store.open(tmp_path / "state")
    ensure_schema(store)
    with store.transaction() as c:
        yield c
    store.close()


def cause_of(conn, flag_id: int) -> str:
    return conn.execute("SELECT cause FROM flags WHERE id = ?", (flag_id,)).fetchone()[0]


@pytest.mark.parametrize("raised", [Cause.UPSTREAM, Cause.POWER])
def test_residual_loss_after_recovery_does_not_turn_a_flag_into_link(conn, raised):
    flag = flagmod.raise_flag(conn, VILLAGE, raised, {"loss_pct": 100.0}, 1000.0)
    flagmod.update_flag(conn, flag, Cause.LINK, {"loss_pct": 60.0}, 1010.0)  # ARP warming up after the outage
    assert cause_of(conn, flag) == raised.value
    evidence = conn.execute("SELECT evidence FROM flags WHERE id = ?", (flag,)).fetchone()[0]
    assert "60.0" in evidence  # the evidence itself is still refreshed


@pytest.mark.parametrize("learned", [Cause.UPSTREAM, Cause.POWER])
def test_link_flag_becomes_upstream_or_power_when_the_evidence_arrives(conn, learned):
    flag = flagmod.raise_flag(conn, VILLAGE, Cause.LINK, {}, 1000.0)
    flagmod.update_flag(conn, flag, learned, {}, 1010.0)
    assert cause_of(conn, flag) == learned.value
