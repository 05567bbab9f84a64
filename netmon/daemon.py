"""`netmon run`: the agent's main loop, its signals and its background components.

SIGTERM/SIGINT: stop scheduling, let running rounds finish briefly, commit every result
collected, stop components (forwarders finish their current batch), exit 0.
SIGHUP: load the config again; if it has errors they are logged and the running config stays.
Signals are handled from the first instant (see netmon.signals): a SIGHUP while starting is
deferred until started, one while stopping is ignored; neither ever ends the process. Slow
store work runs in the bookkeeping thread (netmon.bookkeeping), commits in the writer's.
"""

from __future__ import annotations

import asyncio
import gc
import importlib
import logging
import os
import signal
import sys
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

from netmon import gcwatch, store_jobs
from netmon.agent import Agent
from netmon.bookkeeping import Bookkeeper
from netmon.component import Component, undeclared_tables
from netmon.config import Config, ConfigError, load_config
from netmon.config.compact import compacted
from netmon.errors import StoreError
from netmon.guard import check_lab_namespace
from netmon.logs import FailureLog, describe, use_timezone
from netmon.probers import Prober, ProberContext, build_prober
from netmon.retention import Policy
from netmon.scheduler import PlanError, ProbeSchedule, run_once
from netmon.schema import TABLE_RETENTION
from netmon.signals import GATE
from netmon.store import Store
from netmon.writer import RateMeter, ResultWriter, StateChangeLog

log = logging.getLogger(__name__)

HEARTBEAT_S = 10.0
RETENTION_EVERY_S = 3600.0
LOOP_SWITCH_S = 0.001


ComponentFactory = Callable[[Config], list[Component]]
COMPONENT_FACTORIES: dict[str, str] = {
    "analysis": "netmon.analysis.component:analysis_components",
    "outputs": "netmon.sinks.component:components_for",
    "notify": "netmon.notify.component:components_for",
}
"""Background parts of the daemon: each factory returns the components a config needs.

Imported only when the daemon starts, so `netmon check` and `netmon status` stay quick.
"""


def build_components(config: Config) -> list[Component]:
    """Every component the config needs, from every factory; each declares only tables netmon.schema owns."""
    components: list[Component] = []
    for target in COMPONENT_FACTORIES.values():
        module_name, _, func_name = target.partition(":")
        components += getattr(importlib.import_module(module_name), func_name)(config)
    for component in components:
        if unknown := undeclared_tables(component, list(TABLE_RETENTION)):
            raise StoreError(f"component {component.name} declares tables that netmon.schema does not own: "
                               f"{', '.join(unknown)} (add them there, with a migration)")
    return components


def used_probers(config: Config) -> set[str]:
    """Names of the probers that the checks of this agent's devices use."""
    return {check.prober for p in {d.profile for d in config.devices} for check in config.profiles[p].checks}


def probers_for(config: Config, existing: dict[str, Prober] | None = None) -> dict[str, Prober]:
    """The probers this config's checks use, reusing running ones whose context (credentials, pacing) is unchanged."""
    existing = existing or {}
    context = ProberContext(auths=config.auths, scheduler=config.settings.scheduler,
                            config_dir=str(config.path.parent))

    def reusable(name: str) -> bool:
        return name in existing and getattr(existing[name], "context", None) == context

    return {n: existing[n] if reusable(n) else build_prober(n, context) for n in sorted(used_probers(config))}


def check_permissions(config: Config) -> None:
    """Fail at start-up, with the fix, if ICMP checks cannot open a socket."""
    if "icmp" in used_probers(config):
        from netmon.probers.icmp import check_icmp_permission

        mode = check_icmp_permission()
        log.info("ICMP: using %s sockets", mode)


def describe_device(config: Config) -> Callable[[str], str]:
    """A function naming a device for log lines: `Sìn Hồ / Tả Phìn / cpe-nha-van-hoa (10.20.7.2)`."""

    def describe(device_id: str) -> str:
        d = config.device_by_id.get(device_id)
        if d is None:
            return device_id
        where = " / ".join(p for p in (d.commune, d.village, d.name) if p)
        return f"{where} ({d.target})"

    return describe


class Daemon:
    """Runs the schedule until a stop signal; reloads on SIGHUP (deferred while starting, ignored while stopping)."""

    def __init__(self, config: Config, once: bool = False) -> None:
        self.config = config
        self.once = once
        self.stop_event = asyncio.Event()
        self.components: list[Component] = []
        self.probers: dict[str, Prober] = {}
        self.phase = "starting"
        self._reload_pending = False
        self._reload_queued = False
        self._ignored_hup = False
        self._reload_lock = asyncio.Lock()
        self._reloads: set[asyncio.Task] = set()
        self._housekeeping_log = FailureLog("housekeeping (heartbeat, retention)", log)

    def _on_signal(self, signum: int) -> None:
        """Every signal lands here, on the loop, whatever the daemon is doing."""
        if signum != signal.SIGHUP:
            if not self.stop_event.is_set():
                log.info("%s received: stopping", signal.Signals(signum).name)
            self.stop_event.set()
        elif self.phase == "starting":
            if not self._reload_pending:
                log.info("SIGHUP while starting: the config is read again once started")
            self._reload_pending = True
        elif self.phase == "running":
            self._request_reload()
        elif not self._ignored_hup:
            self._ignored_hup = True
            log.info("SIGHUP while stopping: ignored")

    def _request_reload(self) -> None:
        """Queue one reload; a storm of SIGHUPs while one waits adds nothing (it will read the newest file)."""
        if not self._reload_queued:
            self._reload_queued = True
            self._spawn(self._reload_guarded(), "reload")

    def _spawn(self, coro: Coroutine[Any, Any, None], name: str) -> None:
        task = asyncio.create_task(coro, name=name)
        self._reloads.add(task)
        task.add_done_callback(self._reloads.discard)

    @staticmethod
    async def _retire(probers: list[Prober], rounds: list[asyncio.Task], grace_s: float = 300.0) -> None:
        """Close replaced probers once the rounds that still use them are over."""
        if rounds:
            await asyncio.wait(rounds, timeout=grace_s)
        for prober in probers:
            try:
                await prober.close()
            except Exception:
                log.exception("closing replaced prober %s failed", prober.name)

    async def _reload_guarded(self) -> None:
        """One reload at a time; whatever goes wrong is logged and the running config stays."""
        async with self._reload_lock:
            self._reload_queued = False  # a SIGHUP from now on may bring a newer file: queue another
            if self.stop_event.is_set():
                return
            try:
                await self.reload()
            except Exception:
                log.exception("reload failed; keeping the running config")
            freeze_garbage()

    async def run(self) -> int:
        """Run until stopped; returns the process exit code."""
        if self.once:
            return await self._run_once()
        GATE.attach(asyncio.get_running_loop(), self._on_signal)
        try:
            return await self._run()
        finally:
            GATE.detach()

    async def _run(self) -> int:
        config = self.config
        check_lab_namespace(config.settings.agent.name)
        check_permissions(config)
        store = Store.open(config.state_dir)
        # Checkpoints are the bookkeeping thread's; on this connection one would stall the loop.
        store.conn.execute("PRAGMA wal_autocheckpoint=0")
        store.sync_devices(config.all_devices)
        writer = ResultWriter(store)
        changes = StateChangeLog(describe_device(config))
        rate = RateMeter()
        writer.listeners += [changes, rate]
        self.probers = probers_for(config)
        schedule = ProbeSchedule(self.probers, writer.emit)
        bookkeeper = Bookkeeper(store.path)
        self.agent = Agent(config, store, writer, schedule, rate, bookkeeper=bookkeeper)
        self.changes = changes
        writer.start()
        jobs = schedule.load(config)
        self.components = build_components(config)
        for component in self.components:
            await component.start(self.agent)
        freeze_garbage()
        # The loop times replies: when the writer thread holds the GIL, a ready reply waits for
        # the switch interval (5 ms by default) before its receive time is read.
        sys.setswitchinterval(LOOP_SWITCH_S)
        schedule.start()
        log.info("netmon %s started: %d devices, %d probe jobs, state in %s",
                 config.settings.agent.name, len(config.devices), jobs, store.path)
        housekeeping = asyncio.create_task(self._housekeeping(), name="housekeeping")
        self.phase = "running"
        if self._reload_pending and not self.stop_event.is_set():
            self._request_reload()
        await self.stop_event.wait()
        self.phase = "stopping"
        log.info("stopping: finishing running rounds and committing results")
        async with self._reload_lock:  # let a reload in progress finish first
            pass
        housekeeping.cancel()
        await schedule.stop()
        await writer.stop()
        for component in reversed(self.components):
            try:
                await component.stop()
            except Exception:
                log.exception("stopping %s failed", component.name)
        await self._close_probers()
        await self._bookkeeping_step(self._heartbeat_values())
        await bookkeeper.close()
        store.close()
        log.info("stopped; %d results committed this run%s", writer.committed,
                 f", {writer.dropped} dropped (store full)" if writer.dropped else "")
        return 0

    async def _run_once(self) -> int:
        from netmon.progress import progress_for

        config = self.config
        check_lab_namespace(config.settings.agent.name)
        check_permissions(config)
        store = Store.open(config.state_dir)
        store.sync_devices(config.all_devices)
        writer = ResultWriter(store)
        writer.listeners += [StateChangeLog(describe_device(config)), RateMeter()]
        self.probers = probers_for(config)
        with progress_for("probing", total=len(config.devices)) as advance:
            await run_once(config, self.probers, writer.emit, on_batch_done=advance)
        writer.flush()
        await self._close_probers()
        done = time.time()
        store.mark_alive(done, os.getpid())
        # what `netmon status` reads, so a one-shot round shows its targets and time, not "has not run yet"
        store.set_state(agent=config.settings.agent.name, pid=os.getpid(), heartbeat_ts=done,
                        started_ts=done, targets=len(config.devices), results_per_s=0.0, scheduler_lag_s=0.0,
                        last_round_ts=done, write_queue=0, write_dropped=writer.dropped,
                        store_failure=writer.failure or "")
        store.close()
        log.info("one round done: %d results committed", writer.committed)
        return 0

    async def reload(self) -> None:
        """SIGHUP: adopt a new config only if it is entirely valid."""
        path = self.config.path
        try:
            # In a thread: at 100,000 devices reading and compacting the file takes seconds of pure
            # Python, and on the loop every ping outstanding meanwhile would become a false timeout.
            # The thread shares the GIL, but the loop gets it back every switch interval (5 ms).
            new = await asyncio.to_thread(lambda: compacted(load_config(path)))
        except ConfigError as exc:
            log.error("reload rejected, keeping the running config; %d problem(s):\n%s",
                      len(exc.issues), exc)
            return
        except OSError as exc:
            log.error("reload rejected, keeping the running config: %s", describe(exc))
            return
        old_probers = self.probers
        new_probers = probers_for(new, old_probers)  # may fail: nothing has been swapped yet
        schedule = self.agent.schedule
        assert schedule is not None
        try:
            jobs = schedule.load(new, new_probers)  # plans completely before it swaps anything
        except PlanError as exc:
            await self._retire([p for n, p in new_probers.items() if old_probers.get(n) is not p], [])
            log.error("reload rejected, keeping the running config: %s", exc)
            return
        self.probers = new_probers
        stale = [p for name, p in old_probers.items() if new_probers.get(name) is not p]
        if stale:
            self._spawn(self._retire(stale, schedule.running()), "retire-probers")
        assert self.agent.bookkeeper is not None
        await self.agent.bookkeeper.run(Store.sync_devices, new.all_devices)
        self.changes.describe = describe_device(new)
        self.config = self.agent.config = new
        for component in self.components:
            await component.reload(new)
        log.info("reloaded %s: %d devices, %d probe jobs", new.path, len(new.devices), jobs)

    async def _housekeeping(self) -> None:
        last_prune = 0.0
        pending = False
        while True:
            if time.time() - last_prune > RETENTION_EVERY_S:
                last_prune, pending = time.time(), True
            pending = await self._bookkeeping_step(self._heartbeat_values(), pending)
            await asyncio.sleep(HEARTBEAT_S)

    async def _bookkeeping_step(self, state: dict[str, Any], prune: bool = False) -> bool:
        """Heartbeat, then a slice of retention in the bookkeeping process when due or over the disk cap
        (the cap is checked every heartbeat); True while retention has more to do. Failures said once."""
        agent = self.agent
        assert agent.bookkeeper is not None
        more = prune
        try:
            await agent.bookkeeper.run(store_jobs.write_heartbeat, agent.started_ts, state)
            policy = Policy.from_config(self.config.settings)
            outputs = [o.name for o in self.config.settings.outputs.influxdb]
            more, gone = await agent.bookkeeper.run(store_jobs.retention_slice, policy, outputs, prune)
            if gone:
                log.info("retention: deleted %d rows (%s)", sum(gone.values()),
                         ", ".join(f"{k} {v:,}" for k, v in sorted(gone.items())))
        except Exception as exc:
            self._housekeeping_log.failed(exc, f"retrying every {HEARTBEAT_S:.0f} s")
        else:
            self._housekeeping_log.ok()
        return more

    def _heartbeat_values(self) -> dict[str, Any]:
        schedule, rate, writer = self.agent.schedule, self.agent.rate, self.agent.writer
        return dict(
            agent=self.config.settings.agent.name, pid=os.getpid(), heartbeat_ts=time.time(),
            started_ts=self.agent.started_ts, targets=len(self.config.devices),
            results_per_s=round(rate.per_second(), 2),
            scheduler_lag_s=round(schedule.lag_s, 3) if schedule else 0.0,
            last_round_ts=schedule.last_round_ts if schedule else 0.0,
            write_queue=writer.queued, write_dropped=writer.dropped, store_failure=writer.failure or "",
        )

    async def _close_probers(self) -> None:
        for prober in self.probers.values():
            try:
                await prober.close()
            except Exception:
                log.exception("closing prober %s failed", prober.name)


def freeze_garbage() -> None:
    """Move everything alive now (the config, the schedule) out of the collector's sight.

    A full collection walks every tracked object: with a 100k-device config that was 0.4-0.6 s
    with the loop stopped, many times an hour. Frozen objects are never walked; after a reload
    the old config is unfrozen first so it can be freed.
    """
    gc.unfreeze()
    gc.collect()
    gc.freeze()


def run(config_path: str | Path, once: bool = False) -> int:
    """Load the config and run the daemon; returns the exit code (2 on config errors)."""
    gcwatch.install()
    config = compacted(load_config(config_path))
    use_timezone(config.settings.agent.timezone)  # logs show the same local time as the view, with offset
    return asyncio.run(Daemon(config, once=once).run())

