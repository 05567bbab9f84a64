"""A config that cannot be planned never touches the running schedule (issue 15, item 3).

Real parts: the real `ProbeSchedule` (APScheduler on the loop) with the real TCP prober against a
loopback listener, and the real daemon process with ICMP on loopback for the SIGHUP path.
"""

from __future__ import annotations

import asyncio
import signal
import time
from pathlib import Path

import pytest

from netmon.config import ConfigError, load_config
from netmon.model import ProbeResult, Status
from netmon.probers import ProberContext, build_prober
from netmon.scheduler import PlanError, ProbeSchedule
from tests.core.test_daemon import start_daemon, stop, stored, wait_for, write_config

TCP_PROFILE = "kind: fastport\nchecks:\n  - {name: tcp, prober: tcp, interval: %s, timeout: 500ms}\n"


def tcp_config(folder: Path, port: int, interval: str = "1s") -> Path:
    (folder / "profiles").mkdir(exist_ok=True)
    (folder / "profiles" / "fastport.yaml").write_text(TCP_PROFILE % interval)
    path = folder / "netmon.yaml"
    path.write_text("version: 1\nagent: {name: t, state_dir: state}\nprofiles: [profiles]\ninventory:\n"
                    "  - name: P\n    communes:\n      - name: C\n        devices:\n"
                    f"          - {{name: svc, kind: fastport, host: 127.0.0.1, port: {port}}}\n")
    return path


def unplannable(config):
    """The same config with its check's interval made NaN, bypassing validation (as a bug or a future key might)."""
    profile = config.profiles["fastport"]
    bad_check = profile.checks[0].model_copy(update={"interval": float("nan")})
    bad_profile = profile.model_copy(update={"checks": [bad_check]})
    return type(config)(**{**config.__dict__, "profiles": {"fastport": bad_profile}})


@pytest.mark.parametrize("value", [".nan", ".inf", "-.inf", ".NaN", "1e400"])
def test_non_finite_interval_is_refused_at_load_with_its_line(tmp_path, value, monkeypatch):
    monkeypatch.chdir(tmp_path)
    tcp_config(tmp_path, 9, interval=value)
    with pytest.raises(ConfigError) as caught:
        load_config(tmp_path / "netmon.yaml", environ={})
    text = str(caught.value)
    assert text.startswith("profiles/fastport.yaml:3: check 'tcp' (tcp).interval: "), text
    assert "finite" in text or "not a duration" in text


def test_non_finite_numbers_anywhere_are_refused(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = tcp_config(tmp_path, 9)
    path.write_text(path.read_text().replace("profiles: [profiles]\n", "profiles: [profiles]\nscheduler: "
                                             "{max_pps: .inf}\nstore: {retention: .nan}\nanalysis:\n"
                                             "  thresholds: {degraded_loss_pct: .nan}\n"))
    with pytest.raises(ConfigError) as caught:
        load_config(path, environ={})
    lines = str(caught.value).splitlines()
    assert lines == [
        "netmon.yaml:4: scheduler.max_pps: .inf is not a finite number (.nan and .inf are refused); write e.g. 22.36",
        "netmon.yaml:5: store.retention: .nan is not a finite duration; write e.g. 60s, 5m, 1h",
        "netmon.yaml:7: analysis.thresholds.degraded_loss_pct: .nan is not a finite number (.nan and .inf are "
        "refused); write e.g. 22.36",
    ], lines


def test_unplannable_config_leaves_the_running_schedule_probing(tmp_path):
    async def main() -> tuple[list[ProbeResult], int, int, list[str], list[str]]:
        server = await asyncio.start_server(lambda r, w: w.close(), "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        config = load_config(tcp_config(tmp_path, port), environ={})
        results: list[ProbeResult] = []
        prober = build_prober("tcp", ProberContext())
        schedule = ProbeSchedule({"tcp": prober}, results.append)
        try:
            assert schedule.load(config) == 1
            schedule.start()
            jobs_before = [j.id for j in schedule.scheduler.get_jobs()]
            await poll(lambda: len(results) >= 2, 10)
            with pytest.raises(PlanError, match="not a finite duration"):
                schedule.load(unplannable(config))
            with pytest.raises(PlanError, match="needs the tcp prober"):
                schedule.load(config, probers={})
            jobs_after = [j.id for j in schedule.scheduler.get_jobs()]
            seen = len(results)
            await poll(lambda: len(results) >= seen + 2, 10)
            return results, seen, len(results), jobs_before, jobs_after
        finally:
            await schedule.stop(grace_s=1)
            await prober.close()
            server.close()

    results, seen, total, before, after = asyncio.run(main())
    assert before == after and len(before) == 1
    assert total >= seen + 2
    assert all(r.status is Status.OK for r in results), [r.reason for r in results]


def test_good_reload_swaps_generation_and_keeps_one_job_per_batch(tmp_path):
    async def main() -> tuple[list[str], list[str]]:
        config = load_config(tcp_config(tmp_path, 9), environ={})
        schedule = ProbeSchedule({"tcp": build_prober("tcp", ProberContext())}, lambda r: None)
        schedule.load(config)
        first = [j.id for j in schedule.scheduler.get_jobs()]
        schedule.load(config)
        second = [j.id for j in schedule.scheduler.get_jobs()]
        await schedule.probers["tcp"].close()
        return first, second

    first, second = asyncio.run(main())
    assert len(first) == len(second) == 1 and first != second


async def poll(predicate, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        await asyncio.sleep(0.05)


def test_daemon_sighup_with_nan_interval_keeps_probing(tmp_path):
    """The issue's report: a `.nan` reload used to log a failure and then probe nothing."""
    config = write_config(tmp_path, 5, interval="1s")
    log = tmp_path / "daemon.log"
    proc = start_daemon(config, log)
    try:
        wait_for(lambda: len(stored(config)) >= 10, 20, "first rounds")
        profile = tmp_path / "profiles" / "fastping.yaml"
        profile.write_text(profile.read_text().replace("interval: 1s", "interval: .nan"))
        proc.send_signal(signal.SIGHUP)
        wait_for(lambda: "reload rejected" in log.read_text(), 10, "the reload to be rejected")
        assert "fastping.yaml:3: check 'reachability' (icmp).interval" in log.read_text()
        count = len(stored(config))
        wait_for(lambda: len(stored(config)) >= count + 10, 15, "probing to go on with the old schedule")
        assert proc.poll() is None
    finally:
        assert stop(proc) == 0, log.read_text()
    assert "Traceback" not in log.read_text()


def test_reload_reads_the_config_off_the_event_loop(tmp_path, monkeypatch):
    """A reload's load and compaction run in a thread: at 100,000 devices they take seconds."""
    import threading

    import netmon.daemon as daemon_module
    from netmon.daemon import Daemon

    real_load = daemon_module.load_config
    loaded_in: list[int] = []

    def load_and_note_thread(path):
        loaded_in.append(threading.get_ident())
        return real_load(path)

    monkeypatch.setattr(daemon_module, "load_config", load_and_note_thread)

    async def main() -> tuple[int, int]:
        server = await asyncio.start_server(lambda r, w: w.close(), "127.0.0.1", 0)
        daemon = Daemon(load_config(tcp_config(tmp_path, server.sockets[0].getsockname()[1]), environ={}))
        runner = asyncio.create_task(daemon.run())
        try:
            await poll(lambda: daemon.phase == "running", 20)
            before = daemon.config
            daemon._request_reload()
            await poll(lambda: daemon.config is not before, 20)
            return threading.get_ident(), len(daemon.config.devices)
        finally:
            daemon.stop_event.set()
            await runner
            server.close()

    loop_thread, devices = asyncio.run(main())
    assert devices == 1  # the reloaded config was adopted
    assert len(loaded_in) == 1 and loaded_in[0] != loop_thread
