"""The forwarding component of the daemon: one `Forwarder` (netmon.sinks.influx) per configured
InfluxDB output, woken after each committed batch, plus the agent's self-monitoring."""

from __future__ import annotations

from netmon.component import Component, Host
from netmon.config import Config
from netmon.sinks.batches import TagResolver
from netmon.sinks.influx import Forwarder


class Forwarding:
    """Daemon component running one `Forwarder` per configured InfluxDB output."""

    name = "forwarding"
    tables = ("cursors", "dead_letters")

    def __init__(self, config: Config) -> None:
        self.config = config
        self.forwarders: dict[str, Forwarder] = {}
        self.host: Host | None = None

    async def start(self, host: Host) -> None:
        """Open a forwarder per output and wake them after every committed batch of results."""
        self.host = host
        host.subscribe(self._on_commit)
        await self._sync(self.config)

    def _on_commit(self, _results: object) -> None:
        for forwarder in self.forwarders.values():
            forwarder.wakeup.set()

    async def _sync(self, config: Config) -> None:
        assert self.host is not None
        wanted = {o.name: o for o in config.settings.outputs.influxdb}
        resolver = TagResolver(config.settings.agent.name, config.device_by_id)
        for name, forwarder in list(self.forwarders.items()):
            if wanted.get(name) != forwarder.output:
                await forwarder.stop()
                del self.forwarders[name]
            else:
                forwarder.reader.resolver = resolver
        for name, output in wanted.items():
            if name not in self.forwarders:
                forwarder = Forwarder(output, self.host.store, resolver)
                forwarder.start()
                self.forwarders[name] = forwarder

    async def reload(self, config: Config) -> None:
        """Restart outputs whose settings changed; new device names apply to the next batch."""
        self.config = config
        await self._sync(config)

    async def stop(self) -> None:
        """Stop every forwarder; unacknowledged results wait in the store for the next run."""
        for forwarder in self.forwarders.values():
            await forwarder.stop()
        self.forwarders.clear()


def components_for(config: Config) -> list[Component]:
    """Daemon factory: forwarding (idle without outputs) and self-monitoring."""
    from netmon.sinks.selfmon import SelfMonitor

    forwarding = Forwarding(config)
    return [forwarding, SelfMonitor(config, forwarding, interval_s=config.settings.agent.heartbeat)]

