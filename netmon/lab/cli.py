"""`netmon lab up SCENARIO | down [NAME] | status [NAME]`: argument parsing and printing only."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence

from netmon.config.errors import ConfigError
from netmon.config.schema import parse_duration
from netmon.i18n import N_, _, pgettext
from netmon.lab import builder
from netmon.lab.netns import LabError

log = logging.getLogger("netmon.lab")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="netmon lab", description=_(
        "A virtual province in network namespaces (root, Linux). Nothing it builds can reach beyond the machine."))
    sub = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    up = sub.add_parser("up", help=_("build the lab from a scenario and start its trouble schedule"))
    up.add_argument("scenario", help=_("scenario YAML, e.g. config/lab.yaml"))
    up.add_argument("--name", default="lab", help=_("lab name: 1-10 lower-case letters/digits (default: lab)"))
    up.add_argument("--run-dir", help=_("where config, logs and state go (default: /run/netmon-lab/NAME)"))
    up.add_argument("--lifetime", type=parse_duration,
                    help=_("how long trouble runs, e.g. 30m (default: scenario's)"))
    up.add_argument("--snmpd", default="snmpd", help=_("snmpd binary (default: snmpd on PATH)"))
    down = sub.add_parser("down", help=_("remove every namespace, veth, nft table and process of a lab"))
    down.add_argument("name", nargs="?", default="lab")
    down.add_argument("--all", action="store_true", help=_("every lab on this machine (prefix nmlab-)"))
    down.add_argument("--purge", action="store_true", help=_("also delete the run dir (config, logs, store)"))
    status = sub.add_parser("status", help=_("what runs and which trouble is active now"))
    status.add_argument("name", nargs="?", default="lab")
    status.add_argument("--format", choices=["text", "json"], default="text")
    return parser


def _print_up(state: builder.LabState) -> None:
    print(_("lab '{name}' is up: {namespaces} namespaces, {snmpd} snmpd, trouble for {seconds} s").format(
        name=state.name, namespaces=len(state.namespaces), snmpd=sum(1 for p in state.procs if p.role == "snmpd"),
        seconds=f"{state.lifetime_s:.0f}"))
    print(_("  config:       {path}").format(path=state.config))
    print(_("  ground truth: {path}").format(path=f"{state.run_dir}/ground-truth.json"))
    print(_("  trouble log:  {path}").format(path=f"{state.run_dir}/supervisor.log"))
    print(_("run the daemon inside the agent namespace (it has no route out of the lab):"))
    print(f"  ip netns exec {state.agent_ns} {sys.executable} -m netmon run -c {state.config}")
    print(_("watch it:  {command}").format(command=f"{sys.executable} -m netmon status -c {state.config}"))
    print(_("remove it: {command}").format(command=f"netmon lab down {state.name}"))


_STATUS_KEYS = {"name": N_("name"), "phase": N_("phase"), "run_dir": N_("run dir"), "config": N_("config"),
                "agent_ns": N_("agent namespace"), "elapsed_s": N_("elapsed (s)"), "lifetime_s": N_("lifetime (s)"),
                "namespaces": N_("namespaces"), "namespaces_missing": N_("namespaces missing"),
                "supervisor": N_("supervisor"), "snmpd_running": N_("snmpd running"), "active": N_("active trouble")}
"""The text view's words; `--format json` keeps the English keys and values for scripts."""


def _phase(phase: str) -> str:
    """A lab's phase in the language in use ("down" here is not a device's "down")."""
    words = {"up": pgettext("lab phase", "up"), "down": pgettext("lab phase", "down"),
             "leftover": pgettext("lab phase", "leftover")}
    return words.get(phase, phase)


def _print_status(info: dict) -> None:
    labels = {key: _(_STATUS_KEYS.get(key, key)) for key in info}
    width = max([20, *(len(label) for label in labels.values())])
    for key, value in info.items():
        shown = ", ".join(value) if isinstance(value, list) else value
        if isinstance(shown, bool):
            shown = _("yes") if shown else _("no")
        elif key == "phase":
            shown = _phase(str(shown))
        print(f"{labels[key]:>{width}}: {shown if shown != '' else '-'}")


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
                print(_("lab '{name}': removed ({n} steps)").format(name=name, n=len(actions)) if actions else
                      _("lab '{name}': nothing to remove").format(name=name))
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
        print(_("netmon lab: {n} problem(s) in the scenario; nothing was built.").format(n=len(exc.issues)),
              file=sys.stderr)
        return 2
    except (LabError, ValueError) as exc:
        print(f"netmon lab: {exc}", file=sys.stderr)
        return 1
    return 0
