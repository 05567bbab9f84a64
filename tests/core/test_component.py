"""Components reach the agent only through their Host, and every table they own is netmon.schema's."""

from __future__ import annotations

import ast
import asyncio
from pathlib import Path
from types import SimpleNamespace

import pytest

from netmon import daemon
from netmon.analysis.component import AnalysisComponent
from netmon.component import Host
from netmon.errors import StoreError
from netmon.model import ProbeResult, Sample, Status
from netmon.notify.component import Notifier
from netmon.schema import TABLE_RETENTION
from netmon.sinks.component import Forwarding
from netmon.sinks.selfmon import SelfMonitor
from netmon.store import Store
from netmon.writer import RateMeter, ResultWriter

NETMON = Path(__file__).resolve().parents[2] / "netmon"
COMPONENTS = (Forwarding, SelfMonitor, AnalysisComponent, Notifier)
CORE_TABLES = {"results", "devices", "agent_state", "agent_runs", "counters", "field_types"}
"""Tables of the store itself (netmon.store, netmon.fieldtypes), owned by no component."""


def test_every_table_has_exactly_one_owner() -> None:
    owners: dict[str, list[str]] = {t: ["store"] for t in CORE_TABLES}
    for component in COMPONENTS:
        for table in component.tables:
            owners.setdefault(table, []).append(component.name)
    assert {t: o for t, o in owners.items() if len(o) > 1} == {}
    assert set(owners) == set(TABLE_RETENTION), "a table netmon.schema does not know, or one nobody owns"


def rogue_factory(_config: object) -> list[object]:
    """A factory whose component keeps a table of its own, outside netmon.schema."""
    return [SimpleNamespace(name="rogue", tables=("flags", "my_own_table"))]


def test_a_component_declaring_an_unknown_table_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(daemon, "COMPONENT_FACTORIES", {"rogue": f"{__name__}:rogue_factory"})
    with pytest.raises(StoreError, match="my_own_table"):
        daemon.build_components(SimpleNamespace())  # type: ignore[arg-type]


def _attribute_chains(path: Path) -> set[str]:
    """`a.b.c` texts of every attribute access in a module."""
    return {ast.unparse(n) for n in ast.walk(ast.parse(path.read_text())) if isinstance(n, ast.Attribute)}


@pytest.mark.parametrize("module", ["sinks/influx.py", "sinks/selfmon.py", "notify/component.py",
                                    "analysis/evaluator.py"])
def test_components_do_not_reach_into_the_daemon(module: str) -> None:
    """No writer listeners, no bookkeeper, no scheduler or rate meter: only the Host's methods."""
    chains = _attribute_chains(NETMON / module)
    reaching = sorted(c for c in chains if any(part in c.split(".") for part in (
        "writer", "listeners", "bookkeeper", "schedule", "rate")))
    assert reaching == []


def _result(ts: float) -> ProbeResult:
    return ProbeResult("agent", "self", "agent", Status.OK, "fine", ts, 0.001,
                       (Sample("netmon_agent", {"results_per_s": 1.5}),))


def test_the_daemons_agent_is_a_host_subscribers_hear_of_commits_only(tmp_path: Path) -> None:
    store = Store.open(tmp_path)
    try:
        writer = ResultWriter(store)
        agent = daemon.Agent(SimpleNamespace(), store, writer, SimpleNamespace(lag_s=0.25), RateMeter())  # type: ignore[arg-type]
        host: Host = agent
        heard: list[list[str]] = []
        host.subscribe(lambda batch: heard.append([r.reason for r in batch]))
        host.emit(_result(1e9))
        assert heard == [] and store.latest("agent", "self") is None  # queued, not yet committed
        assert writer.flush() == 1
        assert heard == [["fine"]] and store.latest("agent", "self").status is Status.OK
        stats = host.stats()
        assert stats.scheduler_lag_s == 0.25 and stats.results_per_s == 0.0
    finally:
        store.close()


def test_selfmonitor_emits_through_its_host(tmp_path: Path) -> None:
    store = Store.open(tmp_path)
    try:
        writer = ResultWriter(store)
        rate = RateMeter()
        rate([_result(1e9)] * 30)
        agent = daemon.Agent(SimpleNamespace(), store, writer, SimpleNamespace(lag_s=0.5), rate)  # type: ignore[arg-type]
        monitor = SelfMonitor(SimpleNamespace(devices=[1, 2, 3]), None, interval_s=0.05)  # type: ignore[arg-type]

        async def main() -> None:
            await monitor.start(agent)
            try:
                for _ in range(200):  # poll, bounded: at most 2 s
                    if writer.queued:
                        return
                    await asyncio.sleep(0.01)
            finally:
                await monitor.stop()

        asyncio.run(main())
        assert writer.flush() >= 1
        row = store.latest("agent", "self")
        assert row is not None and "lag 0.50 s" in row.reason
        fields = row.samples[0].fields
        assert fields["targets"] == 3 and fields["scheduler_lag_s"] == 0.5 and fields["results_per_s"] > 0
    finally:
        store.close()
