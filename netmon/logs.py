"""Logging set-up: one line per event on stderr, journald-friendly."""

from __future__ import annotations

import logging
import os
import sys
from typing import ClassVar


def setup_logging(verbosity: int = 0) -> None:
    """Log to stderr; under systemd (JOURNAL_STREAM set) leave timestamps to the journal."""
    level = logging.DEBUG if verbosity > 0 else logging.INFO
    if os.environ.get("JOURNAL_STREAM"):
        fmt = "<%(priority)d>%(name)s: %(message)s"
        formatter = _SyslogPriority(fmt)
    else:
        formatter = logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s", "%Y-%m-%dT%H:%M:%S%z")
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter)
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
