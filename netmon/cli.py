"""`netmon` command line: parses arguments and calls the rest; no logic of its own.

Exit codes: 0 success, 1 runtime failure (e.g. no ICMP permission), 2 bad configuration or usage.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Callable, Sequence

from netmon import __version__
from netmon.config import ConfigError, load_config
from netmon.logs import setup_logging

log = logging.getLogger("netmon")

DEFAULT_CONFIG = os.environ.get("NETMON_CONFIG", "/etc/netmon/netmon.yaml")


def _console(args: argparse.Namespace):
    from rich.console import Console

    return Console(no_color=bool(os.environ.get("NO_COLOR")) or None, highlight=False)


def cmd_run(args: argparse.Namespace) -> int:
    """Run the daemon (or one round with --once)."""
    from netmon.daemon import run
    from netmon.lab.guard import OutsideLabError
    from netmon.probers.icmp import IcmpPermissionError

    if not args.once and sys.stderr.isatty():
        config = os.path.abspath(args.config)
        print(f"netmon: watch it from another terminal: netmon status -c {config}\n"
              f"        the telecom follow-up list:     netmon report villages -c {config} --format md",
              file=sys.stderr)
    try:
        return run(args.config, once=args.once)
    except (IcmpPermissionError, OutsideLabError) as exc:
        log.error("%s", exc)
        return 1


def cmd_check(args: argparse.Namespace) -> int:
    """Validate the config and summarise the inventory."""
    from netmon.ui.check import render_check

    config = load_config(args.config)
    render_check(config, _console(args))
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    """Print a report from the store."""
    from netmon.ui import reports

    config = load_config(args.config, secrets=False)  # a technician's account reads without the secrets
    return reports.run_report(args.kind, config, args, _console(args))


def cmd_status(args: argparse.Namespace) -> int:
    """Show the live status view (or a snapshot with --once)."""
    from netmon.ui.status import run_status

    return run_status(load_config(args.config, secrets=False), args, _console(args))


def cmd_probe(args: argparse.Namespace) -> int:
    """Run a device's checks now and explain each result."""
    from netmon.lab.guard import OutsideLabError, check_lab_namespace
    from netmon.ui.probe import run_probe

    config = load_config(args.config)
    try:
        check_lab_namespace(config.settings.agent.name)
    except OutsideLabError as exc:
        log.error("%s", exc)
        return 1
    return run_probe(config, args, _console(args))


def cmd_deadletters(args: argparse.Namespace) -> int:
    """List or replay points an output set aside."""
    from netmon.sinks.letters_cmd import run_deadletters

    return run_deadletters(load_config(args.config), args, _console(args))


def cmd_profiles(args: argparse.Namespace) -> int:
    """List every profile on the search path and where it comes from."""
    from pathlib import Path

    from netmon.ui.profiles import render_profiles

    config = args.config
    if config is None and Path(DEFAULT_CONFIG).is_file():
        config = DEFAULT_CONFIG
    if config is not None and not Path(config).is_file():
        raise FileNotFoundError(f"config file {config} does not exist")
    return render_profiles(Path(config) if config else None, _console(args))


def cmd_demo_config(args: argparse.Namespace) -> int:
    """Write the bundled loopback demo into a folder and say how to run it."""
    from pathlib import Path

    from netmon.config.search import write_demo

    config, written = write_demo(Path(args.folder).absolute())
    if not written:
        print(f"netmon: kept your edited {config} (remove it to get the shipped demo back)", file=sys.stderr)
    print(config)
    if sys.stdout.isatty():
        print(f"\nRun it:                        netmon run -c {config}\n"
              f"In another terminal, watch it: netmon status -c {config}", file=sys.stderr)
    return 0


def cmd_lab(args: argparse.Namespace) -> int:
    """Build, inspect or remove the network-namespace lab."""
    from netmon.lab.cli import lab_main

    return lab_main(args.lab_args)


def cmd_demo(args: argparse.Namespace) -> int:
    """Lab + daemon + live view in one command."""
    from netmon.lab.demo import run_demo

    return run_demo(args.demo_args)


class _Version(argparse.Action):
    """`--version` on one line, never wrapped (argparse's own wraps long paths)."""

    def __call__(self, parser, namespace, values, option_string=None) -> None:  # type: ignore[override]
        print(f"netmon {__version__} (Python {sys.version.split()[0]}, {os.path.dirname(os.path.abspath(__file__))})")
        parser.exit()


def build_parser() -> argparse.ArgumentParser:
    """The argument parser for every subcommand."""
    parser = argparse.ArgumentParser(prog="netmon", description="Monitoring agent for rural connectivity.")
    parser.add_argument("--version", action=_Version, nargs=0, help="show the version and where it is installed")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more log detail (-vv: libraries too)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(name: str, func: Callable[[argparse.Namespace], int], help_text: str,
            config: bool = True) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_text, description=help_text)
        if config:
            p.add_argument("-c", "--config", default=DEFAULT_CONFIG,
                           help=f"agent config file (default: $NETMON_CONFIG or {DEFAULT_CONFIG})")
        p.set_defaults(func=func)
        return p

    run = add("run", cmd_run, "run the monitoring daemon")
    run.add_argument("--once", action="store_true", help="run every check once, store the results, exit")
    add("check", cmd_check, "validate the config and summarise the inventory")
    status = add("status", cmd_status, "live status of villages, communes and devices (reads the store)")
    status.add_argument("--once", action="store_true", help="print one snapshot and exit (for cron, mail, pipes)")
    status.add_argument("--format", choices=["text", "json"], default="text")
    status.add_argument("--province", help="only this province (name or id)")
    status.add_argument("--commune", help="only this commune (name or id)")
    status.add_argument("--state", help="only villages in these states, comma-separated (e.g. unstable,down)")
    status.add_argument("--flagged", action="store_true", help="only villages flagged for telecom follow-up")
    probe = add("probe", cmd_probe, "run a device's checks now and show each result (for technicians on site)")
    probe.add_argument("target", metavar="NAME|ID|HOST", help="device id, device name or a bare host")
    probe.add_argument("--format", choices=["text", "json"], default="text")
    report = add("report", cmd_report, "reports from the store")
    report.add_argument("kind", choices=["villages", "pcs", "availability", "services"])
    report.add_argument("--format", choices=["table", "csv", "json", "md"], default="table")
    report.add_argument("--month", help="YYYY-MM (availability report)")
    report.add_argument("--days", type=float, default=7.0, help="period in days ending now (default 7)")
    letters = add("deadletters", cmd_deadletters, "points InfluxDB refused: list them, or replay them")
    letters.add_argument("action", choices=["list", "replay"])
    letters.add_argument("--output", help="only this output")
    letters.add_argument("--id", action="append", metavar="N[,N...]", help="only these letters (repeatable)")
    letters.add_argument("--all", action="store_true",
                         help="list: replayed letters too; replay: data refusals too, not only transient ones")
    letters.add_argument("--format", choices=["table", "json"], default="table")
    letters.add_argument("--limit", type=int, default=1000, help="list at most this many (default 1000)")
    profiles = add("profiles", cmd_profiles, "list every profile on the search path and where it comes from",
                   config=False)
    profiles.add_argument("-c", "--config", default=None,
                          help=f"also search this config's profiles: folders (default: {DEFAULT_CONFIG} if it exists)")
    democonf = add("demo-config", cmd_demo_config, "write the loopback demo (demo.yaml and its profiles) into "
                   "FOLDER and print the config's path", config=False)
    democonf.add_argument("folder", nargs="?", default="netmon-demo", help="where to write it (default: ./netmon-demo)")
    lab = add("lab", cmd_lab, "virtual province in network namespaces (root): up SCENARIO | down | status",
              config=False)
    lab.add_argument("lab_args", nargs=argparse.REMAINDER)
    demo = add("demo", cmd_demo, "lab, daemon and live view in one command (root)", config=False)
    demo.add_argument("demo_args", nargs=argparse.REMAINDER)
    from netmon.sheets.cli import add_parser as add_inventory

    add_inventory(sub, DEFAULT_CONFIG)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `netmon` console script."""
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    # `netmon demo --rootless ...`: argparse's REMAINDER does not take options that come first.
    if extra and args.command == "demo":
        args.demo_args = [*extra, *args.demo_args]
    elif extra:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    setup_logging(args.verbose)
    try:
        return args.func(args)
    except ConfigError as exc:
        print(str(exc), file=sys.stderr)
        print(f"netmon: {len(exc.issues)} problem(s) in the configuration; nothing was started.",
              file=sys.stderr)
        return 2
    except FileNotFoundError as exc:
        print(f"netmon: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
