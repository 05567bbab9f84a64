"""`netmon inventory import FILE -o OUT` and `netmon inventory export -c CONFIG -o FILE`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from netmon.config import load_config
from netmon.sheets.exporter import export_inventory
from netmon.sheets.importer import ImportRefused, import_inventory
from netmon.sheets.workbook import SheetError


def add_parser(sub: argparse._SubParsersAction, default_config: str) -> None:
    """Register `inventory import|export` on the main parser."""
    inventory = sub.add_parser("inventory", help="import the inventory from a spreadsheet, or export it to one",
                               description="Inventories from the spreadsheets provinces keep (.xlsx or .csv, "
                                           "headers in Vietnamese or English).")
    verbs = inventory.add_subparsers(dest="verb", required=True, metavar="import|export")
    imp = verbs.add_parser("import", help="check every row of a sheet and write an inventory YAML")
    imp.add_argument("file", type=Path, help="the workbook (.xlsx) or CSV (UTF-8)")
    imp.add_argument("-o", "--output", type=Path, required=True,
                     help="the inventory YAML to write (only when every row is good)")
    imp.add_argument("-c", "--config", help="check kinds, profiles and SNMP auth names against this agent config")
    exp = verbs.add_parser("export", help="write the config's inventory to a sheet for review")
    exp.add_argument("-c", "--config", default=default_config, help="agent config file")
    exp.add_argument("-o", "--output", type=Path, required=True, help="the sheet to write (.xlsx or .csv)")
    exp.add_argument("--lang", choices=["vi", "en"], default="vi", help="header language (default vi)")
    inventory.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run the chosen verb; exit 0 on success, 2 when the sheet or the config is refused."""
    try:
        if args.verb == "export":
            count = export_inventory(load_config(args.config), args.output, args.lang)
            print(f"wrote {args.output}: {count} devices")
            return 0
        context = load_config(args.config) if args.config else None
        result = import_inventory(args.file, args.output, context)
    except SheetError as exc:
        print(f"netmon: {exc}", file=sys.stderr)
        return 2
    except ImportRefused as exc:
        for issue in exc.issues:
            print(issue, file=sys.stderr)
        print(f"netmon: {len(exc.issues)} problem(s) in {args.file}; nothing was written.", file=sys.stderr)
        return 2
    print(f"wrote {result.path}: {result.provinces} province(s), {result.communes} commune(s), "
          f"{result.villages} village(s), {result.devices} device(s)")
    if result.ignored_columns:
        print("columns not used: " + ", ".join(result.ignored_columns))
    print(f"use it from netmon.yaml with:  inventory: {{include: {result.path}}}")
    return 0
