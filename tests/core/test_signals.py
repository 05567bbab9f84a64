"""Signals at any moment: SIGHUP storms while the daemon starts and while it stops never kill it."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

from netmon.signals import is_daemon_run
from tests.core.test_daemon import REPO, start_daemon, stop, stored, wait_for, write_config


def storm(proc: subprocess.Popen, seconds: float, every_s: float = 0.01) -> int:
    """Send SIGHUP every `every_s` for `seconds` (or until the process ends); returns how many were sent."""
    sent, end = 0, time.monotonic() + seconds
    while time.monotonic() < end and proc.poll() is None:
        proc.send_signal(signal.SIGHUP)
        sent += 1
        time.sleep(every_s)
    return sent


def catches_sighup(pid: int) -> bool:
    """True once the process has a handler for SIGHUP (bit 0 of SigCgt in /proc/PID/status)."""
    for line in open(f"/proc/{pid}/status", encoding="ascii"):  # noqa: SIM115 (tiny, read at once)
        if line.startswith("SigCgt:"):
            return bool(int(line.split()[1], 16) & 1)
    return False


def test_sighup_storm_while_starting_leaves_it_running(tmp_path):
    """From the moment the interpreter runs netmon's first line (imports, config load, store, start-up) on.

    The ~30 ms the Python interpreter itself takes to boot cannot be covered from Python code.
    """
    config = write_config(tmp_path, 30, interval="1s")
    log = tmp_path / "daemon.log"
    proc = start_daemon(config, log)
    try:
        deadline = time.monotonic() + 10
        while not catches_sighup(proc.pid) and time.monotonic() < deadline:
            time.sleep(0.001)
        assert "netmon" not in log.read_text()  # nothing of the daemon has started yet
        sent = storm(proc, 2.5, every_s=0.005)
        assert proc.poll() is None, f"died with {proc.returncode} after {sent} SIGHUPs:\n{log.read_text()}"
        count = len(stored(config))
        wait_for(lambda: len(stored(config)) >= count + 60, 20, "probing to go on")
        wait_for(lambda: "reloaded" in log.read_text(), 20, "the deferred reload")
    finally:
        code = stop(proc)
    text = log.read_text()
    assert code == 0, text
    assert "Traceback" not in text, text
    committed = int(text.split("stopped; ")[1].split(" results")[0])
    assert committed == len(stored(config))


def test_sighup_storm_while_stopping_lets_it_finish(tmp_path):
    config = write_config(tmp_path, 200, interval="1s")
    log = tmp_path / "daemon.log"
    proc = start_daemon(config, log)
    wait_for(lambda: len(stored(config)) >= 400, 30, "first rounds")
    proc.send_signal(signal.SIGTERM)
    storm(proc, 30, every_s=0.002)
    code = proc.wait(timeout=30)
    text = log.read_text()
    assert code == 0, f"exit {code}:\n{text}"
    committed = int(text.split("stopped; ")[1].split(" results")[0])
    assert committed == len(stored(config)) >= 400
    assert "Traceback" not in text, text


def test_sighup_before_anything_is_imported_is_held():
    """The handler is in place once `netmon` is imported, before the config code loads."""
    code = ("import os, signal, sys; sys.argv = ['netmon', 'run', '-c', 'x.yaml']; import netmon;"
            " os.kill(os.getpid(), signal.SIGHUP); import netmon.signals as s;"
            " print(s.GATE.pending == [signal.SIGHUP], 'netmon.config' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=REPO)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["True", "False"]


def test_only_the_daemon_holds_sighup():
    assert is_daemon_run(["netmon", "run", "-c", "x.yaml"])
    assert is_daemon_run(["netmon", "-v", "run"])
    assert not is_daemon_run(["netmon", "run", "--once"])
    assert not is_daemon_run(["netmon", "status"])  # a closed terminal still ends the live view
