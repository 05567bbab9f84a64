"""`netmon` command line: parses arguments and calls the rest; no logic of its own.

Exit codes: 0 success, 1 runtime failure (e.g. no ICMP permission), 2 bad configuration or usage,
130 interrupted. They are mapped from netmon's exception tree (netmon/errors.py) in one place,
`EXIT_CODES`, and `main` is the only place that catches for an exit code.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Callable, Sequence

from netmon import __version__, i18n
from netmon.config import ConfigError
from netmon.config import load_config as _load_config
from netmon.errors import ConfigurationError, LabError, NetmonError, OutputError, ProbeError, StoreError
from netmon.i18n import _
from netmon.logs import setup_logging
from netmon.schema import StoreVersionError

log = logging.getLogger("netmon")

DEFAULT_CONFIG = os.environ.get("NETMON_CONFIG", "/etc/netmon/netmon.yaml")

EXIT_CODES: tuple[tuple[type[BaseException], int], ...] = (
    (ConfigurationError, 2),
    (FileNotFoundError, 2),  # a config or store path that does not exist: the command line is wrong
    (ProbeError, 1),
    (StoreVersionError, 2),  # a store written by a newer netmon: install that release (or another state_dir)
    (StoreError, 1),
    (OutputError, 1),
    (LabError, 1),
    (NetmonError, 1),
)
"""Exception -> exit code, most specific first; the first class that matches wins."""


def exit_code(exc: BaseException) -> int:
    """The exit code for `exc` (1 for a NetmonError not listed)."""
    return next((code for cls, code in EXIT_CODES if isinstance(exc, cls)), 1)


def load_config(path, **kwargs):
    """Load the config and take its `agent.language` unless --lang or NETMON_LANG chose one."""
    config = _load_config(path, **kwargs)
    i18n.use_config_language(getattr(config.settings.agent, "language", None))
    return config


def _console(args: argparse.Namespace):
    from rich.console import Console

    return Console(no_color=bool(os.environ.get("NO_COLOR")) or None, highlight=False)


def cmd_run(args: argparse.Namespace) -> int:
    """Run the daemon (or one round with --once)."""
    from netmon.daemon import run

    if not args.once and sys.stderr.isatty():
        config = os.path.abspath(args.config)
        print(_("netmon: watch it from another terminal: netmon status -c {config}\n"
                "        the telecom follow-up list:     netmon report villages -c {config} --format md")
              .format(config=config), file=sys.stderr)
    return run(args.config, once=args.once)


def cmd_check(args: argparse.Namespace) -> int:
    """Validate the config and summarise the inventory."""
    from netmon.ui.check import render_check

    config = load_config(args.config)
    render_check(config, _console(args))
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    """Print a report from the store."""
    from netmon.ui import reports

    if args.source == "influxdb":  # reading InfluxDB needs the output's credentials
        from netmon.ui.central import run_report_central

        return run_report_central(args.kind, load_config(args.config), args, _console(args))
    config = load_config(args.config, secrets=False)  # a technician's account reads without the secrets
    return reports.run_report(args.kind, config, args, _console(args))


def cmd_status(args: argparse.Namespace) -> int:
    """Show the live status view (or a snapshot with --once)."""
    if args.source == "influxdb":
        from netmon.ui.central import run_status_central

        return run_status_central(load_config(args.config), args, _console(args))
    from netmon.ui.status import run_status

    return run_status(load_config(args.config, secrets=False), args, _console(args))


def cmd_probe(args: argparse.Namespace) -> int:
    """Run a device's checks now and explain each result."""
    from netmon.guard import check_lab_namespace
    from netmon.probe_cmd import run_probe

    config = load_config(args.config)
    check_lab_namespace(config.settings.agent.name)
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
        raise FileNotFoundError(_("config file {config} does not exist").format(config=config))
    return render_profiles(Path(config) if config else None, _console(args))


def cmd_demo_config(args: argparse.Namespace) -> int:
    """Write the bundled loopback demo into a folder and say how to run it."""
    from pathlib import Path

    from netmon.config.search import write_demo

    config, written = write_demo(Path(args.folder).absolute())
    if not written:
        print(_("netmon: kept your edited {config} (remove it to get the shipped demo back)").format(config=config),
              file=sys.stderr)
    print(config)
    if sys.stdout.isatty():
        print(_("\nRun it:                        netmon run -c {config}\n"
                "In another terminal, watch it: netmon status -c {config}").format(config=config), file=sys.stderr)
    return 0


def cmd_lab(args: argparse.Namespace) -> int:
    """Build, inspect or remove the network-namespace lab."""
    from netmon.lab.cli import lab_main

    return lab_main(args.lab_args)


def cmd_demo(args: argparse.Namespace) -> int:
    """Lab + daemon + live view in one command."""
    from netmon.lab.demo import run_demo

    return run_demo(args.demo_args)


def _central_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--from", dest="source", choices=["store", "influxdb"], default="store",
                   help=_("store: this agent's own (default); influxdb: every agent's forwarded series (province "
                          "view)"))
    p.add_argument("--output",
                   help=_("with --from influxdb: which outputs.influxdb entry to read (default: the first)"))
    p.add_argument("--heartbeat", type=float, default=None,
                   help=_("with --from influxdb: agents' heartbeat interval in seconds (default: the config's "
                          "agent.heartbeat, 60); an agent silent for two intervals has its villages shown unknown"))
    p.add_argument("--lookback-days", type=float, default=None,
                   help=_("with --from influxdb: how far back villages and heartbeats are looked for (default 7)"))


class _Version(argparse.Action):
    """`--version` on one line, never wrapped (argparse's own wraps long paths)."""

    def __call__(self, parser, namespace, values, option_string=None) -> None:  # type: ignore[override]
        print(f"netmon {__version__} (Python {sys.version.split()[0]}, {os.path.dirname(os.path.abspath(__file__))})")
        parser.exit()


def build_parser() -> argparse.ArgumentParser:
    """The argument parser for every subcommand."""
    parser = argparse.ArgumentParser(prog="netmon", description=_("Monitoring agent for rural connectivity."))
    parser.add_argument("--version", action=_Version, nargs=0, help=_("show the version and where it is installed"))
    parser.add_argument("-v", "--verbose", action="count", default=0, help=_("more log detail (-vv: libraries too)"))
    parser.add_argument("--lang", dest="ui_lang", choices=i18n.LANGUAGES,
                        help=_("language of messages and reports (default: $NETMON_LANG, the config's "
                               "agent.language, else the locale)"))
    sub = parser.add_subparsers(dest="command", required=True, metavar=_("COMMAND"))

    def add(name: str, func: Callable[[argparse.Namespace], int], help_text: str,
            config: bool = True) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_text, description=help_text)
        if config:
            p.add_argument("-c", "--config", default=DEFAULT_CONFIG,
                           help=_("agent config file (default: $NETMON_CONFIG or {path})").format(path=DEFAULT_CONFIG))
        if name not in ("lab", "demo"):  # theirs take every argument after the command
            p.add_argument("--lang", dest="ui_lang", choices=i18n.LANGUAGES, default=argparse.SUPPRESS,
                           help=_("language of messages and reports (as before the command)"))
        p.set_defaults(func=func)
        return p

    run = add("run", cmd_run, _("run the monitoring daemon"))
    run.add_argument("--once", action="store_true", help=_("run every check once, store the results, exit"))
    add("check", cmd_check, _("validate the config and summarise the inventory"))
    status = add("status", cmd_status, _("live status of villages, communes and devices (reads the store)"))
    status.add_argument("--once", action="store_true", help=_("print one snapshot and exit (for cron, mail, pipes)"))
    status.add_argument("--format", choices=["text", "json"], default="text")
    status.add_argument("--province", help=_("only this province (name or id)"))
    status.add_argument("--commune", help=_("only this commune (name or id)"))
    status.add_argument("--state", help=_("only villages in these states, comma-separated (e.g. unstable,down)"))
    status.add_argument("--flagged", action="store_true", help=_("only villages flagged for telecom follow-up"))
    _central_options(status)
    probe = add("probe", cmd_probe, _("run a device's checks now and show each result (for technicians on site)"))
    probe.add_argument("target", metavar="NAME|ID|HOST", help=_("device id, device name or a bare host"))
    probe.add_argument("--format", choices=["text", "json"], default="text")
    report = add("report", cmd_report, _("reports from the store"))
    report.add_argument("kind", choices=["villages", "pcs", "availability", "services"])
    report.add_argument("--format", choices=["table", "csv", "json", "md"], default="table")
    report.add_argument("--month", help=_("YYYY-MM (availability report)"))
    report.add_argument("--include-maintenance", action="store_true",
                        help=_("count maintenance windows in availability (default: shown apart, left out)"))
    report.add_argument("--days", type=float, default=7.0, help=_("period in days ending now (default 7)"))
    _central_options(report)
    letters = add("deadletters", cmd_deadletters, _("points InfluxDB refused: list them, or replay them"))
    letters.add_argument("action", choices=["list", "replay"])
    letters.add_argument("--output", help=_("only this output"))
    letters.add_argument("--id", action="append", metavar="N[,N...]", help=_("only these letters (repeatable)"))
    letters.add_argument("--all", action="store_true",
                         help=_("list: replayed letters too; replay: data refusals too, not only transient ones"))
    letters.add_argument("--format", choices=["table", "json"], default="table")
    letters.add_argument("--limit", type=int, default=1000, help=_("list at most this many (default 1000)"))
    profiles = add("profiles", cmd_profiles, _("list every profile on the search path and where it comes from"),
                   config=False)
    profiles.add_argument("-c", "--config", default=None,
                          help=_("also search this config's profiles: folders (default: {path} if it exists)")
                          .format(path=DEFAULT_CONFIG))
    democonf = add("demo-config", cmd_demo_config, _("write the loopback demo (demo.yaml and its profiles) "
                                                      "into FOLDER and print the config's path"), config=False)
    democonf.add_argument("folder", nargs="?", default="netmon-demo",
                          help=_("where to write it (default: ./netmon-demo)"))
    lab = add("lab", cmd_lab, _("virtual province in network namespaces (root): up SCENARIO | down | status"),
              config=False)
    lab.add_argument("lab_args", nargs=argparse.REMAINDER)
    demo = add("demo", cmd_demo, _("lab, daemon and live view in one command (root)"), config=False)
    demo.add_argument("demo_args", nargs=argparse.REMAINDER)
    from netmon.sheets.cli import add_parser as add_inventory

    add_inventory(sub, DEFAULT_CONFIG)
    from netmon.notify.cli import add_parsers as add_notify_parsers

    add_notify_parsers(add)  # notify test|log, mute, maintenance list|end (issue 18)
    return parser


def _lang_option(argv: Sequence[str]) -> str | None:
    """The value of `--lang` before the help texts are built (the inventory command's own --lang is not it)."""
    found = None
    for i, arg in enumerate(argv):
        if arg == "inventory":
            break  # `inventory export --lang` is the language of the sheet's headers
        if arg == "--lang" and i + 1 < len(argv):
            found = argv[i + 1]
        elif arg.startswith("--lang="):
            found = arg.split("=", 1)[1]
    return found


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `netmon` console script."""
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        i18n.setup(*i18n.choose(_lang_option(argv)))
    except ValueError as exc:
        # A bad NETMON_LANG must not stop a daemon: say so and speak English (a bad --lang is refused below).
        print(f"netmon: {exc}; using English", file=sys.stderr)
        i18n.setup("en", explicit=False)
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    # `netmon demo --rootless ...`: argparse's REMAINDER does not take options that come first.
    if extra and args.command == "demo":
        args.demo_args = [*extra, *args.demo_args]
    elif extra:
        parser.error(_("unrecognized arguments: {args}").format(args=" ".join(extra)))
    setup_logging(args.verbose)
    try:
        return args.func(args)
    except ConfigError as exc:
        print(str(exc), file=sys.stderr)
        with i18n.language(exc.language):  # the problems' own language (a config's agent.language)
            print(i18n.ngettext("netmon: {n} problem in the configuration; nothing was started.",
                                "netmon: {n} problems in the configuration; nothing was started.",
                                len(exc.issues)).format(n=len(exc.issues)), file=sys.stderr)
        return exit_code(exc)
    except NetmonError as exc:
        print(f"netmon: {exc}", file=sys.stderr)
        return exit_code(exc)
    except FileNotFoundError as exc:
        print(f"netmon: {exc}", file=sys.stderr)
        return exit_code(exc)
    except KeyboardInterrupt:
        return 130
