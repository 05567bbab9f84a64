"""An output's health: one log line per change of state, and the state kept where others read it.

States: `ok`; `outage` (no answer, 5xx, 401/403/404: nothing reaches the server); `server_fault`
(HTTP 400 for a batch *and* for a known-good canary point: a server or proxy fault, not data).
Setting points aside is tracked beside the state: the first letter after a quiet spell logs an
error with the server's words, later ones are only counted, and a quiet spell of QUIET_S logs
the total. The state is saved in `agent_state` under `output:<name>` (read by `netmon status`)
whenever it changes, and `netmon_agent` carries it every minute (selfmon.py).
"""

from __future__ import annotations

import enum
import logging
import time
from typing import Any

from netmon.sinks.transport import Answer
from netmon.store import Store

log = logging.getLogger("netmon.sinks.influx")

QUIET_S = 600.0
"""Without a new dead letter for this long, an output is no longer `dead-lettering`."""
RELOG_S = 600.0
"""Within one failing state, a different answer is logged at most this often."""


class State(enum.StrEnum):
    """Whether an output's points are getting through."""

    OK = "ok"
    OUTAGE = "outage"
    SERVER_FAULT = "server_fault"


def describe(answer: Answer) -> str:
    """`HTTP 400: message` or the transport's own words, bounded."""
    text = f"HTTP {answer.status}: {answer.message}" if answer.status else answer.message
    return text[:300]


class OutputHealth:
    """State, counts and the log lines of one output."""

    def __init__(self, name: str, target: str, max_backoff_s: float, store: Store | None) -> None:
        self.name = name
        self.target = target
        self.max_backoff_s = max_backoff_s
        self.store = store
        self.state = State.OK
        self.since = time.time()
        self.last_problem = ""
        self._last_status: int | None = None
        self.lettering_since: float | None = None
        self.last_letter_ts = 0.0
        self.letters_in_run = 0
        self._extra: dict[str, Any] = {}
        self._logged_at = -RELOG_S

    @property
    def stalled(self) -> bool:
        """True while nothing the output sends is accepted."""
        return self.state is not State.OK

    def failed(self, answer: Answer, server_fault: bool = False) -> None:
        """A write did not get through; logs only when the state or the kind of answer changes."""
        state = State.SERVER_FAULT if server_fault else State.OUTAGE
        if state is self.state and (answer.status == self._last_status
                                    or time.monotonic() - self._logged_at < RELOG_S):
            return  # a server flapping between two answers must not log on every retry
        self._logged_at = time.monotonic()
        first = self.state is State.OK
        if first:
            self.since = time.time()
        self.state, self._last_status, self.last_problem = state, answer.status, describe(answer)
        level = logging.ERROR if answer.status in (401, 403, 404) else logging.WARNING
        hint = " (check the output's credentials, org/bucket or database)" if level == logging.ERROR else ""
        if server_fault:
            hint = (" — it refuses even a known-good point, so this is a server or proxy fault, not bad data;"
                    " nothing is set aside")
        log.log(level, "output %s: %s %s: %s%s; results stay in the store and are retried with backoff up"
                " to %.0f s", self.name, "cannot write to" if first else "still cannot write to", self.target,
                self.last_problem, hint, self.max_backoff_s)
        self.publish()

    def recovered(self, answer: Answer) -> None:
        """A write was acknowledged."""
        if self.state is State.OK:
            return
        down_s = time.time() - self.since
        self.state, self._last_status, self.since = State.OK, None, time.time()
        log.info("output %s: writing again after %.0f s (HTTP %d); catching up", self.name, down_s, answer.status)
        self.publish()

    def lettered(self, count: int, kind: str, seq: int, answer: Answer, line: str) -> None:
        """`count` points were set aside (the first one's details given)."""
        now = time.time()
        self.last_letter_ts = now
        if self.lettering_since is None:
            self.lettering_since, self.letters_in_run = now, 0
            log.error("output %s: the server refused a point of result %d on its own (%s; %s); set aside in"
                      " dead_letters%s. Further points set aside are counted, not logged: see `netmon"
                      " deadletters list`. Point: %s", self.name, seq, describe(answer), kind,
                      ", replayed automatically" if kind == "transient" else "", line[:200])
            self.letters_in_run += count
            self.publish()
        else:
            self.letters_in_run += count

    def tick(self) -> None:
        """Leaves the dead-lettering state after a quiet spell (call now and then)."""
        if self.lettering_since is not None and time.time() - self.last_letter_ts > QUIET_S:
            log.info("output %s: no point refused for %.0f min; %d set aside since %s",
                     self.name, QUIET_S / 60, self.letters_in_run,
                     time.strftime("%Y-%m-%d %H:%M", time.localtime(self.lettering_since)))
            self.lettering_since = None
            self.publish()

    def snapshot(self) -> dict[str, Any]:
        """What `netmon status` shows of this output."""
        return {"state": self.state.value, "since_ts": self.since, "problem": self.last_problem if self.stalled
                else "", "dead_lettering": self.lettering_since is not None, "updated_ts": time.time()}

    def publish(self, **extra: Any) -> None:
        """Save the snapshot in the store's agent state (never raises: it is only a display)."""
        self._extra.update(extra)
        if self.store is None:
            return
        try:
            self.store.set_state(**{f"output:{self.name}": {**self.snapshot(), **self._extra}})
        except Exception as exc:  # a locked or full store must not stop forwarding
            log.debug("output %s: could not save its state: %s", self.name, exc)
