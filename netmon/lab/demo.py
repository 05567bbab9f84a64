"""`netmon demo`: build the default lab, run the daemon inside its agent namespace, show the live view.

Ctrl-C (or the view exiting) takes everything down again. Without root it runs the same lab
inside a user namespace of the calling user (see `rootless`); where the system forbids that, it
explains why and offers the loopback demo, which needs no privileges.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from netmon.config.errors import ConfigError
from netmon.config.search import bundled_demo, write_demo
from netmon.i18n import _
from netmon.lab import builder, rootless
from netmon.lab.netns import LabError, in_ns
from netmon.lab.state import LabState, Proc, track

DEFAULT_RUN_DIR = "netmon-demo-lab"


def _offer_loopback(why: str) -> int:
    demo, _written = write_demo(Path("netmon-demo").absolute())
    print(_("netmon demo builds a virtual province in network namespaces, and here it cannot: {why}.\n"
            "Run it as root (sudo netmon demo), or try the loopback demo (every village stays good):\n"
            "  netmon run -c {demo}\n  netmon status -c {demo}    (in a second terminal)").format(why=why, demo=demo))
    if not sys.stdin.isatty():
        return 1
    answer = input(_("Start the loopback demo now? [y/N] ")).strip().lower()
    # TRANSLATORS: the answers that mean yes to "[y/N]", comma-separated, lower case
    if answer not in ("y", "yes", *(a.strip() for a in _("y,yes").split(","))):
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
    print(_("(showing {path}; Ctrl-C to stop)").format(path=path))
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
            print(_("the daemon exited; see the log above"))
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
        print(_("the status view exited with {rc}; falling back to the daemon's log").format(rc=rc))
    _tail(Path(state.run_dir) / "daemon.log", daemon, state.t0 + state.lifetime_s)


def _outer(args: argparse.Namespace) -> int:
    """Not root (or --rootless): run this demo again inside a user namespace of our own."""
    why = rootless.unavailable()
    if why:
        return _offer_loopback(why)
    run_dir = Path(args.run_dir or DEFAULT_RUN_DIR).absolute()
    print(_("no root needed: the lab runs in a user namespace of your own; its config, store and logs are in "
            "{path}").format(path=run_dir))
    argv = ["--scenario", str(Path(args.scenario).absolute()), "--name", args.name, "--run-dir", str(run_dir)]
    return rootless.reexec([*argv, *(["--no-view"] if args.no_view else [])], builder.python_env())


def run_demo(argv: Sequence[str]) -> int:
    """Entry point of `netmon demo`; returns the exit code."""
    parser = argparse.ArgumentParser(prog="netmon demo", description=_("Lab + daemon + live view; Ctrl-C ends it."))
    parser.add_argument("--scenario", default=str(bundled_demo() / "demo-lab.yaml"),
                        help=_("scenario (default: the shipped demo-lab.yaml: four kinds of trouble in two minutes)"))
    parser.add_argument("--name", default="demo", help=_("lab name (default: demo)"))
    parser.add_argument("--run-dir", help=_("config, store and logs (default: /run/netmon-lab/NAME as root, "
                                            "./{folder} without root)").format(folder=DEFAULT_RUN_DIR))
    parser.add_argument("--rootless", action="store_true", help=_("use a user namespace even when root"))
    parser.add_argument("--no-view", action="store_true", help=_("show the daemon's log instead of the live view"))
    args = parser.parse_args(list(argv))
    if rootless.inside():
        rootless.private_run()
    elif os.geteuid() != 0 or args.rootless:
        return _outer(args)
    try:
        state = builder.up(args.scenario, args.name, run_dir=args.run_dir)
    except ConfigError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    except LabError as exc:
        print(f"netmon demo: {exc}", file=sys.stderr)
        return 1
    print(_("lab '{name}' is up; daemon starting in {namespace}; ground truth in {truth}. Ctrl-C ends the demo "
            "and removes the lab.\nIn another terminal: netmon status -c {config}   (or report villages --format md)")
          .format(name=state.name, namespace=state.agent_ns, truth=f"{state.run_dir}/ground-truth.json",
                  config=state.config))
    try:
        daemon = _start_daemon(state)
        if args.no_view:
            _tail(Path(state.run_dir) / "daemon.log", daemon, state.t0 + state.lifetime_s)
        else:
            _show(state, daemon)
    except KeyboardInterrupt:
        print()
    finally:
        for action in builder.down(state.name):
            if "daemon" in action:
                print(action)
        print(_("lab '{name}' removed").format(name=state.name))
    return 0
