"""Logging set-up: one line per event on stderr, journald-friendly; and the helpers that keep it so.

`FailureLog` says a persistent failure once when it starts (with its traceback, once, if it is
a bug), once when its reason changes and once when it is over: never a traceback per cycle.
`OncePerKind` does the same for per-target guards that run every round.
"""

from __future__ import annotations

import copy
import logging
import os
import sqlite3
import sys
import time
from datetime import datetime, tzinfo
from typing import ClassVar
from zoneinfo import ZoneInfo

from netmon.secrets import mask


def setup_logging(verbosity: int = 0) -> None:
    """Log to stderr; under systemd (JOURNAL_STREAM set) leave timestamps to the journal."""
    level = logging.DEBUG if verbosity > 0 else logging.INFO
    if os.environ.get("JOURNAL_STREAM"):
        fmt = "<%(priority)d>%(name)s: %(message)s"
        formatter = _SyslogPriority(fmt)
    else:
        formatter = _Zoned("%(asctime)s %(levelname)s %(name)s: %(message)s", "%Y-%m-%dT%H:%M:%S%z")
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(MaskingFormatter(formatter))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in ("apscheduler", "asyncio", "urllib3", "pysnmp", "aiohttp.access"):
        logging.getLogger(noisy).setLevel(logging.WARNING if verbosity < 2 else logging.DEBUG)


class _SyslogPriority(logging.Formatter):
    """Prefix lines with sd-daemon(3) priorities (<4> warning, <6> info) so journald ranks them."""

    _PRIORITY: ClassVar[dict[int, int]] = {
        logging.DEBUG: 7, logging.INFO: 6, logging.WARNING: 4, logging.ERROR: 3, logging.CRITICAL: 2,
    }

    def format(self, record: logging.LogRecord) -> str:
        record.priority = self._PRIORITY.get(record.levelno, 6)
        return super().format(record)


class MaskingFormatter(logging.Formatter):
    """Wraps a formatter so no secret value ever reaches a log line, tracebacks included.

    Values taken from the environment or key files (`netmon.secrets`) are replaced by
    `<from env NAME>` in the finished line: a library's exception text is covered as well as ours.
    """

    def __init__(self, inner: logging.Formatter) -> None:
        super().__init__()
        self.inner = inner

    def format(self, record: logging.LogRecord) -> str:
        # Only the message and the traceback are masked: a value that happens to equal a logger
        # name or a level must not garble every line's prefix.
        masked = copy.copy(record)
        masked.msg, masked.args = mask(record.getMessage()), None
        if record.exc_info and not record.exc_text:
            masked.exc_text = self.inner.formatException(record.exc_info)
        if masked.exc_text:
            masked.exc_text = mask(masked.exc_text)
        if record.stack_info:
            masked.stack_info = mask(record.stack_info)
        return self.inner.format(masked)


class _Zoned(logging.Formatter):
    """Timestamps in one time zone (the agent's, once known), always with the offset shown."""

    tz: tzinfo | None = None

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        when = datetime.fromtimestamp(record.created, self.tz).astimezone(self.tz)
        return when.strftime(datefmt or "%Y-%m-%dT%H:%M:%S%z")


def use_timezone(name: str) -> None:
    """Log in the agent's time zone (as the status view and reports show times), not the host's."""
    for handler in logging.getLogger().handlers:
        formatter = getattr(handler.formatter, "inner", handler.formatter)  # inside MaskingFormatter
        if isinstance(formatter, _Zoned):
            formatter.tz = ZoneInfo(name)


def describe(exc: BaseException) -> str:
    """`Type: message`, or the type alone when the message is empty (`TimeoutError`, never `TimeoutError: `)."""
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


class OncePerKind:
    """Logs an unexpected exception with its traceback the first time per kind, then only at debug level.

    For code that runs every round (a prober's per-target guard): a bug that fires each round
    would otherwise print the same traceback thousands of times a day; the results still carry
    the reason.
    """

    def __init__(self, logger: logging.Logger, limit: int = 1000) -> None:
        self.logger = logger
        self.limit = limit
        self._seen: set[tuple[str, str]] = set()

    def exception(self, where: str, exc: BaseException, msg: str, *args: object) -> None:
        """Log `msg % args` with the traceback if (where, exception type) is new; later ones at debug."""
        key = (where, type(exc).__name__)
        if key in self._seen or len(self._seen) >= self.limit:
            self.logger.debug(msg + ": %s", *args, describe(exc))
            return
        self._seen.add(key)
        self.logger.error(msg + " (logged once per kind; later ones only in the results)", *args, exc_info=exc)


def human_duration(seconds: float) -> str:
    """`42 s`, `12 min`, `3.5 h`: for log lines."""
    seconds = max(0, int(seconds))
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{seconds // 60} min"
    return f"{seconds / 3600:.1f} h"


class FailureLog:
    """One line per change of state for a task that fails persistently (housekeeping, analysis, ...)."""

    def __init__(self, what: str, logger: logging.Logger | None = None) -> None:
        self.what = what
        self.log = logger or logging.getLogger("netmon")
        self.failing: str | None = None
        self._since = 0.0
        self._tracebacks: set[str] = set()

    def failed(self, exc: BaseException, retry: str = "") -> None:
        """Log the failure if it is new or its reason changed.

        A store or OS error (a full disk, a lock) is the environment: its message says it all. Any
        other exception is a bug and gets its traceback, once per exception type.
        """
        why = describe(exc)
        if why == self.failing:
            return
        if self.failing is None:
            self._since = time.monotonic()
        self.failing = why
        suffix = f"; {retry}" if retry else ""
        first = type(exc).__name__ not in self._tracebacks and not isinstance(exc, sqlite3.Error | OSError)
        self._tracebacks.add(type(exc).__name__)
        self.log.error("%s failed: %s%s", self.what, why, suffix, exc_info=exc if first else None)

    def ok(self) -> None:
        """The task succeeded: say so once if it had been failing."""
        if self.failing is not None:
            self.log.info("%s works again after %s (it failed with: %s)", self.what,
                          human_duration(time.monotonic() - self._since), self.failing)
            self.failing = None
