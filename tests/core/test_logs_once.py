"""One line per change of state: persistent failures are said once, never with an empty message."""

from __future__ import annotations

import logging
import sqlite3

from netmon.logs import FailureLog, OncePerKind, describe


def test_describe_never_leaves_an_empty_message():
    assert describe(TimeoutError()) == "TimeoutError"
    assert describe(OSError("no route")) == "OSError: no route"
    assert describe(ValueError("  ")) == "ValueError"


def test_failure_log_says_each_change_once(caplog):
    caplog.set_level(logging.INFO)
    failures = FailureLog("housekeeping", logging.getLogger("t"))
    for _ in range(50):
        failures.failed(sqlite3.OperationalError("database or disk is full"), "retrying")
    failures.failed(sqlite3.OperationalError("database is locked"))
    failures.ok()
    failures.ok()
    lines = [r.getMessage() for r in caplog.records]
    assert lines[0] == "housekeeping failed: OperationalError: database or disk is full; retrying"
    assert lines[1] == "housekeeping failed: OperationalError: database is locked"
    assert lines[2].startswith("housekeeping works again after ")
    assert len(lines) == 3
    assert all(r.exc_info is None for r in caplog.records)  # the store's errors are not bugs


def test_failure_log_shows_a_bug_traceback_once(caplog):
    failures = FailureLog("analysis step", logging.getLogger("t"))
    for i in range(3):
        try:
            {}["missing"]
        except KeyError as exc:
            failures.failed(exc)
        failures.ok() if i == 1 else None
    with_tb = [r for r in caplog.records if r.exc_info]
    assert len(with_tb) == 1


def test_once_per_kind(caplog):
    caplog.set_level(logging.DEBUG)
    bugs = OncePerKind(logging.getLogger("t"))
    for _ in range(100):
        bugs.exception("portal", TimeoutError(), "http probe of %s raised", "http://127.0.0.1:1/")
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1 and errors[0].exc_info
    assert caplog.records[-1].getMessage() == "http probe of http://127.0.0.1:1/ raised: TimeoutError"
