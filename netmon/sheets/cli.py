"""`netmon inventory import FILE -o OUT` and `netmon inventory export -c CONFIG -o FILE`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from netmon.cli import load_config
from netmon.i18n import _, ngettext
from netmon.sheets.exporter import export_inventory
from netmon.sheets.importer import ImportRefused, import_inventory
from netmon.sheets.workbook import SheetError


def add_parser(sub: argparse._SubParsersAction, default_config: str) -> None:
    """Register `inventory import|export` on the main parser."""
    inventory = sub.add_parser("inventory", help=_("import the inventory from a spreadsheet, or export it to one"),
                               description=_("Inventories from the spreadsheets provinces keep (.xlsx or .csv, "
                                             "headers in Vietnamese or English)."))
    verbs = inventory.add_subparsers(dest="verb", required=True, metavar="import|export")
    imp = verbs.add_parser("import", help=_("check every row of a sheet and write an inventory YAML"))
    imp.add_argument("file", type=Path, help=_("the workbook (.xlsx) or CSV (UTF-8)"))
    imp.add_argument("-o", "--output", type=Path, required=True,
                     help=_("the inventory YAML to write (only when every row is good)"))
    imp.add_argument("-c", "--config", help=_("check kinds, profiles and SNMP auth names against this agent config"))
    exp = verbs.add_parser("export", help=_("write the config's inventory to a sheet for review"))
    exp.add_argument("-c", "--config", default=default_config, help=_("agent config file"))
    exp.add_argument("-o", "--output", type=Path, required=True, help=_("the sheet to write (.xlsx or .csv)"))
    exp.add_argument("--lang", choices=["vi", "en"], default="vi", help=_("header language (default vi)"))
    inventory.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run the chosen verb; exit 0 on success, 2 when the sheet or the config is refused."""
    try:
        if args.verb == "export":
            count = export_inventory(load_config(args.config), args.output, args.lang)
            print(ngettext("wrote {path}: {n} device", "wrote {path}: {n} devices", count)
                  .format(path=args.output, n=count))
            return 0
        context = load_config(args.config) if args.config else None
        result = import_inventory(args.file, args.output, context)
    except SheetError as exc:
        print(f"netmon: {exc}", file=sys.stderr)
        return 2
    except ImportRefused as exc:
        for issue in exc.issues:
            print(issue, file=sys.stderr)
        print(ngettext("netmon: {n} problem in {file}; nothing was written.",
                       "netmon: {n} problems in {file}; nothing was written.", len(exc.issues))
              .format(n=len(exc.issues), file=args.file), file=sys.stderr)
        return 2
    print(_("wrote {path}: {provinces} province(s), {communes} commune(s), {villages} village(s), "
            "{devices} device(s)").format(path=result.path, provinces=result.provinces, communes=result.communes,
                                          villages=result.villages, devices=result.devices))
    if result.ignored_columns:
        print(_("columns not used: ") + ", ".join(result.ignored_columns))
    print(_("use it from netmon.yaml with:  inventory: {{include: {path}}}").format(path=result.path))
    return 0
