"""`netmon demo`: build the default lab, run the daemon inside its agent namespace, show the live view.

Ctrl-C (or the view exiting) takes everything down again. Without root it explains why and
offers the loopback demo, which needs no privileges.
"""

from __future__ import annotations

import argparse
import importlib.util
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from netmon.config.errors import ConfigError
from netmon.lab import builder
from netmon.lab.netns import LabError, in_ns
from netmon.lab.state import LabState, Proc, track

REPO = Path(__file__).resolve().parents[2]


def _find(relative: str) -> Path:
    """A shipped file, from the current folder or from the source tree."""
    here = Path(relative)
    return here if here.exists() else REPO / relative


def _offer_loopback() -> int:
    demo = _find("config/demo.yaml")
    print("netmon demo builds a virtual province in network namespaces and needs root on Linux.\n"
          "Run it as root (sudo netmon demo), or try the loopback demo, which needs no privileges:\n"
          f"  netmon run -c {demo}\n  netmon status -c {demo}    (in a second terminal)")
    if not sys.stdin.isatty():
        return 1
    answer = input("Start the loopback demo now? [y/N] ").strip().lower()
    if answer not in ("y", "yes"):
        return 1
    return subprocess.call([sys.executable, "-m", "netmon", "run", "-c", str(demo)], env=builder.python_env())


def _start_daemon(state: LabState) -> Proc:
    log_path = Path(state.run_dir) / "daemon.log"
    argv = in_ns(state.agent_ns, sys.executable, "-m", "netmon", "run", "-c", state.config)
    with open(log_path, "ab") as out:
        child = subprocess.Popen(argv, env=builder.python_env(), stdin=subprocess.DEVNULL, stdout=out,
                                 stderr=subprocess.STDOUT, start_new_session=True, cwd=state.run_dir)
    proc = track(child.pid, "daemon")
    state.procs.append(proc)
    state.save()  # so `down` stops the daemon too, even after a crash of this process
    return proc


def _tail(path: Path, daemon: Proc, until: float) -> None:
    """Print the daemon's log as it grows, until it exits or the lab's lifetime ends."""
    print(f"(status view not available; showing {path}; Ctrl-C to stop)")
    offset = 0
    while time.time() < until:
        try:
            with open(path, encoding="utf-8", errors="replace") as fh:
                fh.seek(offset)
                chunk = fh.read()
                offset = fh.tell()
        except FileNotFoundError:
            chunk = ""
        if chunk:
            print(chunk, end="", flush=True)
        if not daemon.alive():
            print("the daemon exited; see the log above")
            return
        time.sleep(0.5)


def _show(state: LabState, daemon: Proc) -> None:
    status_cmd = [sys.executable, "-m", "netmon", "status", "-c", state.config]
    # The view reads the daemon's store; give the daemon a moment to create it.
    deadline = time.monotonic() + 15
    while not any((Path(state.run_dir) / "state").glob("*.db")) and daemon.alive() and time.monotonic() < deadline:
        time.sleep(0.2)
    if importlib.util.find_spec("netmon.ui.status") is not None:
        rc = subprocess.call(status_cmd, env=builder.python_env())
        if rc in (0, 130) or not daemon.alive():
            return
        print(f"the status view exited with {rc}; falling back to the daemon's log")
    _tail(Path(state.run_dir) / "daemon.log", daemon, state.t0 + state.lifetime_s)


def run_demo(argv: Sequence[str]) -> int:
    """Entry point of `netmon demo`; returns the exit code."""
    parser = argparse.ArgumentParser(prog="netmon demo", description="Lab + daemon + live view; Ctrl-C ends it.")
    parser.add_argument("--scenario", default=str(_find("config/lab.yaml")), help="scenario (default: config/lab.yaml)")
    parser.add_argument("--name", default="demo", help="lab name (default: demo)")
    args = parser.parse_args(list(argv))
    try:
        builder.require_root()
    except LabError:
        return _offer_loopback()
    try:
        state = builder.up(args.scenario, args.name)
    except ConfigError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    except LabError as exc:
        print(f"netmon demo: {exc}", file=sys.stderr)
        return 1
    print(f"lab '{state.name}' is up; daemon starting in {state.agent_ns}; ground truth in "
          f"{state.run_dir}/ground-truth.json. Ctrl-C ends the demo and removes the lab.")
    try:
        _show(state, _start_daemon(state))
    except KeyboardInterrupt:
        print()
    finally:
        for action in builder.down(state.name):
            if "daemon" in action:
                print(action)
        print(f"lab '{state.name}' removed")
    return 0
