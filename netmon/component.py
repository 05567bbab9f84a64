"""The daemon's background components and the one object through which they reach the agent.

A component (the InfluxDB outputs, self-monitoring, analysis, the notifier) is built by a factory
listed in `netmon.daemon.COMPONENT_FACTORIES`, started once after the first config, handed each
new valid config and stopped once. It never touches the writer, the scheduler or the bookkeeper
itself: everything it needs is on the `Host` the daemon passes to `start`:

- `subscribe(callback)`: `callback(results)` on the event loop after each batch is committed
  (never for a result the store could still lose);
- `emit(result)`: store a result of its own, committed and forwarded like a probe's;
- `store`: the daemon's store connection, for short reads and writes on the event loop (a
  component with worker threads opens its own connection to `store.path`);
- `run_job(fn, *args)` / `setup_job(key, fn, *args)`: slow store work in the bookkeeping
  process (`fn(store, *args)`, see netmon.bookkeeping);
- `stats()`: the agent's result rate and scheduler lag.

A component declares the tables it owns (`tables`). Their schema is not the component's: every
table is created and migrated by netmon.schema, the one owner of the store's layout; the daemon
refuses to start a component that declares a table netmon.schema does not know.

This module is in the base layer: outputs and analysis import it, never the daemon.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from netmon.model import ProbeResult

if TYPE_CHECKING:
    from netmon.store import Store

T = TypeVar("T")

Subscriber = Callable[[Sequence[ProbeResult]], None]


@dataclass(frozen=True)
class AgentStats:
    """How the agent is doing right now, for self-monitoring and the heartbeat."""

    results_per_s: float
    scheduler_lag_s: float


class Host(Protocol):
    """What the daemon offers its components (implemented by `netmon.agent.Agent`)."""

    @property
    def store(self) -> Store:
        """The daemon's store connection (event loop only)."""
        ...

    def subscribe(self, callback: Subscriber) -> None:
        """Call `callback(results)` on the event loop after each committed batch of results."""
        ...

    def emit(self, result: ProbeResult) -> None:
        """Queue a result for the store (and so for the outputs), like a probe's."""
        ...

    def stats(self) -> AgentStats:
        """Result rate and scheduler lag now."""
        ...

    async def run_job(self, fn: Callable[..., T], *args: Any) -> T:
        """Run `fn(store, *args)` in the bookkeeping process; jobs run one at a time, in order."""
        ...

    async def setup_job(self, key: str, fn: Callable[..., T], *args: Any) -> T:
        """Like `run_job`, and replayed (by `key`) if the bookkeeping process is ever restarted."""
        ...


class Component(Protocol):
    """A background part of the daemon; `tables` names the store tables it owns (see netmon.schema)."""

    name: str
    tables: tuple[str, ...]

    async def start(self, host: Host) -> None:
        """Begin work; must return promptly (spawn tasks for long work)."""
        ...

    async def reload(self, config: Any) -> None:
        """Adopt a new, already validated config."""
        ...

    async def stop(self) -> None:
        """Finish or abandon current work safely; called once."""
        ...


def undeclared_tables(component: Component, known: Sequence[str]) -> list[str]:
    """Tables a component declares that the schema owner does not know (should be none)."""
    return sorted(set(getattr(component, "tables", ())) - set(known))
