"""Writer listeners that only watch committed results: device state changes and the result rate."""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable, Sequence

from netmon.logs import human_duration
from netmon.model import ProbeResult

log = logging.getLogger("netmon.writer")


class StateChangeLog:
    """Logs each device going down (warning) and recovering (info) once, never per round."""

    def __init__(self, describe: Callable[[str], str]) -> None:
        self.describe = describe
        self._down: dict[tuple[str, str], float] = {}

    def __call__(self, results: Sequence[ProbeResult]) -> None:
        """Listener entry point."""
        for r in results:
            key = (r.device_id, r.check)
            if not r.up and key not in self._down:
                self._down[key] = r.ts
                log.warning("%s: %s down: %s", self.describe(r.device_id), r.check, r.reason)
            elif r.up and key in self._down:
                since = self._down.pop(key)
                log.info("%s: %s recovered after %s: %s", self.describe(r.device_id), r.check,
                         human_duration(r.ts - since), r.reason)


class RateMeter:
    """Results per second over a sliding minute, for the heartbeat and `netmon_agent`."""

    def __init__(self, window_s: float = 60.0) -> None:
        self.window_s = window_s
        self._marks: deque[tuple[float, int]] = deque()

    def __call__(self, results: Sequence[ProbeResult]) -> None:
        """Listener entry point."""
        now = time.monotonic()
        self._marks.append((now, len(results)))
        while self._marks and self._marks[0][0] < now - self.window_s:
            self._marks.popleft()

    def per_second(self) -> float:
        """Average results per second over the window."""
        if not self._marks:
            return 0.0
        span = max(1.0, time.monotonic() - self._marks[0][0])
        return sum(n for _, n in self._marks) / span
