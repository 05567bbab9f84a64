"""`netmon lab up SCENARIO | down [NAME] | status [NAME]`: argument parsing and printing only."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence

from netmon.config.errors import ConfigError
from netmon.config.schema import parse_duration
from netmon.lab import builder
from netmon.lab.netns import LabError

log = logging.getLogger("netmon.lab")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="netmon lab", description="A virtual province in network namespaces "
                                     "(root, Linux). Nothing it builds can reach beyond the machine.")
    sub = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    up = sub.add_parser("up", help="build the lab from a scenario and start its trouble schedule")
    up.add_argument("scenario", help="scenario YAML, e.g. config/lab.yaml")
    up.add_argument("--name", default="lab", help="lab name: 1-10 lower-case letters/digits (default: lab)")
    up.add_argument("--run-dir", help="where config, logs and state go (default: /run/netmon-lab/NAME)")
    up.add_argument("--lifetime", type=parse_duration, help="how long trouble runs, e.g. 30m (default: scenario's)")
    up.add_argument("--snmpd", default="snmpd", help="snmpd binary (default: snmpd on PATH)")
    down = sub.add_parser("down", help="remove every namespace, veth, nft table and process of a lab")
    down.add_argument("name", nargs="?", default="lab")
    down.add_argument("--all", action="store_true", help="every lab on this machine (prefix nmlab-)")
    down.add_argument("--purge", action="store_true", help="also delete the run dir (config, logs, store)")
    status = sub.add_parser("status", help="what runs and which trouble is active now")
    status.add_argument("name", nargs="?", default="lab")
    status.add_argument("--format", choices=["text", "json"], default="text")
    return parser


def _print_up(state: builder.LabState) -> None:
    print(f"lab '{state.name}' is up: {len(state.namespaces)} namespaces, "
          f"{sum(1 for p in state.procs if p.role == 'snmpd')} snmpd, trouble for {state.lifetime_s:.0f} s")
    print(f"  config:       {state.config}")
    print(f"  ground truth: {state.run_dir}/ground-truth.json")
    print(f"  trouble log:  {state.run_dir}/supervisor.log")
    print("run the daemon inside the agent namespace (it has no route out of the lab):")
    print(f"  ip netns exec {state.agent_ns} {sys.executable} -m netmon run -c {state.config}")
    print(f"watch it:  {sys.executable} -m netmon status -c {state.config}")
    print(f"remove it: netmon lab down {state.name}")


def _print_status(info: dict) -> None:
    for key, value in info.items():
        shown = ", ".join(value) if isinstance(value, list) else value
        print(f"{key:>20}: {shown if shown != '' else '-'}")


def lab_main(argv: Sequence[str]) -> int:
    """Entry point of `netmon lab`; returns the exit code (2: bad scenario or usage, 1: failure)."""
    args = _parser().parse_args(list(argv))
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    try:
        if args.action == "up":
            _print_up(builder.up(args.scenario, args.name, args.run_dir, args.lifetime, args.snmpd))
        elif args.action == "down":
            names = builder.all_labs() if args.all else [args.name]
            for name in names:
                actions = builder.down(name, purge=args.purge)
                print(f"lab '{name}': " + (f"removed ({len(actions)} steps)" if actions else "nothing to remove"))
                for action in actions:
                    print(f"  {action}")
        else:
            info = builder.status(args.name)
            if args.format == "json":
                print(json.dumps(info, indent=1, ensure_ascii=False))
            else:
                _print_status(info)
    except ConfigError as exc:
        print(str(exc), file=sys.stderr)
        print(f"netmon lab: {len(exc.issues)} problem(s) in the scenario; nothing was built.", file=sys.stderr)
        return 2
    except (LabError, ValueError) as exc:
        print(f"netmon lab: {exc}", file=sys.stderr)
        return 1
    return 0
