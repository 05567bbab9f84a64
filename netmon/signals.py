"""Signals from the first instant to the last: SIGHUP never kills the daemon.

systemd counts a death by SIGHUP as a clean exit, so `Restart=on-failure` would not bring the
agent back. The default action of SIGHUP is to terminate, and importing the config code alone
takes a few hundred milliseconds, so `netmon run` installs a recording handler when the
`netmon` package is first imported (this module imports nothing heavy). Signals that arrive
before the event loop is ready are replayed to the daemon once it attaches; the daemon defers a
SIGHUP while it is starting and ignores it while stopping. After the daemon detaches, SIGHUP
stays ignored until the process exits.
"""

from __future__ import annotations

import signal
import sys
from collections.abc import Callable, Sequence
from typing import Any

HANDLED = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)


class SignalGate:
    """One process-wide handler that forwards signals to the running loop, or keeps them for later."""

    def __init__(self) -> None:
        self.pending: list[int] = []
        self._loop: Any = None
        self._target: Callable[[int], None] | None = None

    def _handle(self, signum: int, _frame: object) -> None:
        loop, target = self._loop, self._target
        if loop is None or target is None:
            if signum != signal.SIGHUP or not self.pending.count(signum):
                self.pending.append(signum)
            return
        try:
            loop.call_soon_threadsafe(target, signum)
        except RuntimeError:  # the loop closed between the check and the call
            self.pending.append(signum)

    def hold_hangup(self) -> None:
        """From now on a SIGHUP is recorded instead of ending the process."""
        signal.signal(signal.SIGHUP, self._handle)

    def attach(self, loop: Any, target: Callable[[int], None]) -> None:
        """Deliver SIGTERM, SIGINT and SIGHUP to `target` on `loop`, starting with those already received."""
        self._loop, self._target = loop, target
        for sig in HANDLED:
            signal.signal(sig, self._handle)
        pending, self.pending = self.pending, []
        for signum in pending:
            loop.call_soon(target, signum)

    def detach(self) -> None:
        """The loop is ending: SIGTERM/SIGINT get their defaults back, SIGHUP is ignored from now on.

        SIG_IGN rather than a Python handler: interpreter shutdown resets Python handlers to the
        default action (which for SIGHUP is to die) but leaves an ignored signal ignored.
        """
        self._loop = self._target = None
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.signal(signal.SIGHUP, signal.SIG_IGN)


GATE = SignalGate()


def is_daemon_run(argv: Sequence[str]) -> bool:
    """True for `netmon [options] run ...` without `--once` (argv as in sys.argv)."""
    args = [a for a in argv[1:] if not a.startswith("-")]
    return bool(args) and args[0] == "run" and "--once" not in argv


def hold_hangup_early(argv: Sequence[str] | None = None) -> None:
    """Called when the package is imported: a daemon start holds SIGHUP before any slow import."""
    argv = sys.argv if argv is None else argv
    name = (argv[0] if argv else "").replace("\\", "/").rsplit("/", 1)[-1]
    if name in ("netmon", "__main__.py", "-m") and is_daemon_run(argv):
        GATE.hold_hangup()
