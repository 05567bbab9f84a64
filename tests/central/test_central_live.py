"""The live province view: bounded reads per refresh, the local view's screen, an InfluxDB that stops answering."""

from __future__ import annotations

import argparse
from zoneinfo import ZoneInfo

import pytest
from rich.console import Console

from netmon.central.influxql import CentralError, InfluxQL
from netmon.ui.central import full_picture
from netmon.ui.central_live import CentralSource, LiveCentral
from netmon.ui.status_layout import Filter, View
from tests.central.test_central_influxd import province_db  # noqa: F401 - the module's fixture

TZ = ZoneInfo("Asia/Ho_Chi_Minh")


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def _args() -> argparse.Namespace:
    return argparse.Namespace(output=None, heartbeat=3600.0, lookback_days=None)


@pytest.fixture
def counted(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every statement sent to InfluxDB."""
    sent: list[str] = []
    rows = InfluxQL.rows

    def counting(self: InfluxQL, query: str):
        sent.append(query)
        return rows(self, query)

    monkeypatch.setattr(InfluxQL, "rows", counting)
    return sent


def test_reads_are_bounded_per_refresh(province_db, counted: list[str]) -> None:  # noqa: F811
    _server, configs, _root = province_db
    clock = Clock()
    source = CentralSource(lambda: full_picture(configs["dong"], _args()), TZ, clock=clock)
    first = source.snapshot()
    per_read = len(counted)
    assert per_read == 7, counted  # heartbeats, window tags, statuses, pings, http, tcp, PCs
    assert all("time >" in q for q in counted if q.startswith("SELECT")), counted
    clock.t += 9.9
    assert source.snapshot() is first and len(counted) == per_read  # keys redraw from what was read
    clock.t += 0.2
    second = source.snapshot()
    assert second is not first and len(counted) == 2 * per_read
    assert len(second.villages) == 12


def test_frame_is_the_local_screen_with_the_agents_line(province_db) -> None:  # noqa: F811
    _server, configs, _root = province_db
    source = CentralSource(lambda: full_picture(configs["dong"], _args()), TZ, clock=Clock())
    console = Console(width=140, height=16, record=True, force_terminal=False)
    live = LiveCentral(source, View(filter=Filter()), console)
    console.print(live.frame(source.snapshot()))
    text = console.export_text()
    assert "agents: dong" in text and " tay " in text
    assert "12 villages" in text
    assert live.pages > 1  # 12 villages and 6 communes do not fit 16 lines: paged like the local view
    live.handle("n")
    console.print(live.frame(source.snapshot()))
    assert live.view.page == 1


def test_influxdb_that_stops_answering_keeps_the_last_picture(province_db) -> None:  # noqa: F811
    _server, configs, _root = province_db
    clock, answers = Clock(), [True]

    def load():
        if not answers[0]:
            raise CentralError("cannot reach InfluxDB at http://127.0.0.1:9: connection refused")
        return full_picture(configs["dong"], _args())

    source = CentralSource(load, TZ, clock=clock)
    first = source.snapshot()
    answers[0], clock.t = False, clock.t + 11
    assert source.snapshot() is first and source.failing is not None
    console = Console(width=200, height=40, record=True, force_terminal=False)
    console.print(LiveCentral(source, View(filter=Filter()), console).frame(first))
    assert "InfluxDB not answering since" in console.export_text()
    answers[0], clock.t = True, clock.t + 11
    assert source.snapshot() is not first and source.failing is None
    with pytest.raises(CentralError):  # nothing read yet: said at once, before the screen switches
        CentralSource(lambda: (_ for _ in ()).throw(CentralError("down")), TZ).snapshot()
