"""`netmon run`: the agent's main loop, its signals and its background components.

SIGTERM/SIGINT: stop scheduling, let running rounds finish briefly, commit every result
collected, stop components (forwarders finish their current batch), exit 0.
SIGHUP: load the config again; if it has errors they are logged and the running config stays.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
import os
import signal
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from netmon.config import Config, ConfigError, load_config
from netmon.guard import check_lab_namespace
from netmon.logs import use_timezone
from netmon.probers import Prober, ProberContext, build_prober
from netmon.retention import Policy, Retention
from netmon.scheduler import PlanError, ProbeSchedule, run_once
from netmon.store import Store
from netmon.writer import RateMeter, ResultWriter, StateChangeLog

log = logging.getLogger(__name__)

HEARTBEAT_S = 10.0
RETENTION_EVERY_S = 3600.0
PRUNE_ROWS = 2000
PRUNE_SLICE_S = 0.2
"""Retention work per heartbeat: small steps, then back to probing; the rest at the next heartbeat."""


@dataclass
class Agent:
    """What the components of a running daemon share."""

    config: Config
    store: Store
    writer: ResultWriter
    schedule: ProbeSchedule | None
    rate: RateMeter
    started_ts: float = field(default_factory=time.time)


class Component(Protocol):
    """A background part of the daemon (forwarder, analysis); started after the first config."""

    name: str

    async def start(self, agent: Agent) -> None:
        """Begin work; must return promptly (spawn tasks for long work)."""
        ...

    async def reload(self, config: Config) -> None:
        """Adopt a new, already validated config."""
        ...

    async def stop(self) -> None:
        """Finish or abandon current work safely; called once."""
        ...


ComponentFactory = Callable[[Config], list[Component]]
COMPONENT_FACTORIES: dict[str, str] = {
    "analysis": "netmon.analysis.evaluator:analysis_components",
    "outputs": "netmon.sinks.influx:components_for",
    "notify": "netmon.notify.component:components_for",
}
"""Background parts of the daemon: each factory returns the components a config needs.

Imported only when the daemon starts, so `netmon check` and `netmon status` stay quick.
"""


def build_components(config: Config) -> list[Component]:
    """Every component the config needs, from every factory."""
    components: list[Component] = []
    for target in COMPONENT_FACTORIES.values():
        module_name, _, func_name = target.partition(":")
        components += getattr(importlib.import_module(module_name), func_name)(config)
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
    """Runs the schedule until a stop signal; reloads on SIGHUP."""

    def __init__(self, config: Config, once: bool = False) -> None:
        self.config = config
        self.once = once
        self.stop_event = asyncio.Event()
        self.components: list[Component] = []
        self.probers: dict[str, Prober] = {}
        self._reload_lock = asyncio.Lock()
        self._reloads: set[asyncio.Task] = set()

    def _on_sighup(self) -> None:
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
            if self.stop_event.is_set():
                return
            try:
                await self.reload()
            except Exception:
                log.exception("reload failed; keeping the running config")

    async def run(self) -> int:
        """Run until stopped; returns the process exit code."""
        config = self.config
        check_lab_namespace(config.settings.agent.name)
        check_permissions(config)
        store = Store.open(config.state_dir)
        store.sync_devices(config.all_devices)
        writer = ResultWriter(store)
        changes = StateChangeLog(describe_device(config))
        rate = RateMeter()
        writer.listeners += [changes, rate]
        self.probers = probers_for(config)
        if self.once:
            return await self._run_once(config, store, writer)
        schedule = ProbeSchedule(self.probers, writer.emit)
        self.agent = Agent(config, store, writer, schedule, rate)
        self.changes = changes
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.stop_event.set)
        loop.add_signal_handler(signal.SIGHUP, self._on_sighup)
        writer.start()
        jobs = schedule.load(config)
        schedule.start()
        self.components = build_components(config)
        for component in self.components:
            await component.start(self.agent)
        log.info("netmon %s started: %d devices, %d probe jobs, state in %s",
                 config.settings.agent.name, len(config.devices), jobs, store.path)
        housekeeping = asyncio.create_task(self._housekeeping(), name="housekeeping")
        await self.stop_event.wait()
        log.info("stopping: finishing running rounds and committing results")
        loop.remove_signal_handler(signal.SIGHUP)
        async with self._reload_lock:  # let a reload in progress finish first
            pass
        housekeeping.cancel()
        await schedule.stop()
        await writer.stop()
        for component in reversed(self.components):
            await component.stop()
        await self._close_probers()
        self._heartbeat(store, schedule, rate)
        store.close()
        log.info("stopped; %d results committed this run", writer.committed)
        return 0

    async def _run_once(self, config: Config, store: Store, writer: ResultWriter) -> int:
        from netmon.progress import progress_for

        with progress_for("probing", total=len(config.devices)) as advance:
            await run_once(config, self.probers, writer.emit, on_batch_done=advance)
        writer.flush()
        await self._close_probers()
        store.mark_alive(time.time(), os.getpid())
        store.close()
        log.info("one round done: %d results committed", writer.committed)
        return 0

    async def reload(self) -> None:
        """SIGHUP: adopt a new config only if it is entirely valid."""
        try:
            new = load_config(self.config.path)
        except ConfigError as exc:
            log.error("reload rejected, keeping the running config; %d problem(s):\n%s",
                      len(exc.issues), exc)
            return
        except OSError as exc:
            log.error("reload rejected, keeping the running config: %s", exc)
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
        self.agent.store.sync_devices(new.all_devices)
        self.changes.describe = describe_device(new)
        self.config = self.agent.config = new
        for component in self.components:
            await component.reload(new)
        log.info("reloaded %s: %d devices, %d probe jobs", new.path, len(new.devices), jobs)

    async def _housekeeping(self) -> None:
        agent = self.agent
        last_prune = 0.0
        pending = False
        while True:
            try:
                self._heartbeat(agent.store, agent.schedule, agent.rate)
                retention = self._retention_for(agent)
                if time.time() - last_prune > RETENTION_EVERY_S:
                    last_prune, pending = time.time(), True
                if pending or retention.over_cap():
                    pending = self._prune(retention)
            except Exception:
                log.exception("housekeeping failed; retrying in %.0f s", HEARTBEAT_S)
            await asyncio.sleep(HEARTBEAT_S)

    def _heartbeat(self, store: Store, schedule: ProbeSchedule | None, rate: RateMeter) -> None:
        now = time.time()
        store.mark_alive(self.agent.started_ts, os.getpid(), now)
        store.set_state(
            agent=self.config.settings.agent.name, pid=os.getpid(), heartbeat_ts=now,
            started_ts=self.agent.started_ts, targets=len(self.config.devices),
            results_per_s=round(rate.per_second(), 2),
            scheduler_lag_s=round(schedule.lag_s, 3) if schedule else 0.0,
            last_round_ts=schedule.last_round_ts if schedule else 0.0,
        )

    def _retention_for(self, agent: Agent) -> Retention:
        """The retention of the running config (rebuilt after a reload changed it)."""
        policy = Policy.from_config(self.config.settings)
        outputs = [o.name for o in self.config.settings.outputs.influxdb]
        current = getattr(self, "_retention", None)
        if current is None or current.policy != policy or current.outputs != outputs:
            current = self._retention = Retention(agent.store, policy, outputs)
        return current

    @staticmethod
    def _prune(retention: Retention) -> bool:
        """A slice of retention work (bounded steps); True while more remains for the next heartbeat."""
        before = retention.store.counters()
        more = retention.prune_step(max_rows=PRUNE_ROWS)
        deadline = time.monotonic() + PRUNE_SLICE_S
        while more and time.monotonic() < deadline:
            more = retention.prune_step(max_rows=PRUNE_ROWS)
        after = retention.store.counters()
        gone = {k: v - before.get(k, 0) for k, v in after.items()
                if k.startswith(("retention:", "cap:", "dropped_unsent")) and v != before.get(k, 0)}
        if gone:
            log.debug("retention deleted %s", ", ".join(f"{k} {v:,}" for k, v in sorted(gone.items())))
        return more

    async def _close_probers(self) -> None:
        for prober in self.probers.values():
            try:
                await prober.close()
            except Exception:
                log.exception("closing prober %s failed", prober.name)


def run(config_path: str | Path, once: bool = False) -> int:
    """Load the config and run the daemon; returns the exit code (2 on config errors)."""
    config = load_config(config_path)
    use_timezone(config.settings.agent.timezone)  # logs show the same local time as the view, with offset
    return asyncio.run(Daemon(config, once=once).run())

