"""`netmon inventory import`: a province's spreadsheet becomes a validated inventory YAML, or nothing.

The rows are turned into an inventory file and that file is checked by netmon's own config
loader (the same rules as `netmon check`: kinds and profiles, hosts, URLs, parents, duplicate
ids, auth names), so an imported inventory can never be refused later. Every problem is reported
against the spreadsheet row and column it came from, and nothing is written unless every row is
good.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from netmon.config import Config, ConfigError, load_config
from netmon.config.schema import check_host
from netmon.errors import ConfigurationError
from netmon.i18n import N_, _
from netmon.sheets.columns import BY_FIELD, COLUMNS, Column, fold
from netmon.sheets.workbook import Sheet, SheetRow, read_sheet

_YES = {"", "yes", "y", "true", "1", "co", "có", "x", "on"}
_NO = {"no", "n", "false", "0", "khong", "không", "off"}
_LEVEL_OF = {"inventory": "province", "communes": "commune", "villages": "village", "devices": "device"}


@dataclass(frozen=True, slots=True)
class RowIssue:
    """One problem, where a person finds it: `file:row: column: what is wrong and how to fix it`."""

    file: str
    row: int
    column: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.row}" if self.row else self.file
        return f"{where}: {self.column}: {self.message}" if self.column else f"{where}: {self.message}"


class ImportRefused(ConfigurationError):
    """At least one row is wrong; `issues` lists every problem and nothing was written."""

    def __init__(self, issues: Sequence[RowIssue]) -> None:
        self.issues = list(issues)
        super().__init__("\n".join(str(i) for i in self.issues))


@dataclass
class _Group:
    name: str
    row: int
    children: dict[str, _Group] = field(default_factory=dict)
    devices: list[tuple[SheetRow, dict]] = field(default_factory=list)


@dataclass
class ImportResult:
    """What an import wrote."""

    path: Path
    provinces: int
    communes: int
    villages: int
    devices: int
    ignored_columns: tuple[str, ...]


def _column(sheet: Sheet, name: str) -> str:
    """The header of field `name` as this file writes it, else in the language of its other headers."""
    if name in sheet.headers:
        return sheet.headers[name]
    english = sum(fold(h) == fold(BY_FIELD[f].en) for f, h in sheet.headers.items())
    return BY_FIELD[name].en if english > len(sheet.headers) / 2 else BY_FIELD[name].vi


def _number(text: str) -> float:
    # Vietnamese spreadsheets often use a decimal comma: "22,36".
    return float(text.replace(",", ".")) if text.count(",") == 1 and "." not in text else float(text)


def _device_spec(sheet: Sheet, row: SheetRow, issues: list[RowIssue]) -> dict | None:
    """The YAML mapping of one row's device, or None after reporting what is wrong with it."""
    cells, before = row.cells, len(issues)

    def bad(name: str, message: str) -> None:
        issues.append(RowIssue(sheet.file, row.number, _column(sheet, name), message))

    for name in ("province", "commune", "device"):
        if not cells.get(name):
            bad(name, _("empty; every row needs the {column} ({vi})").format(column=_(BY_FIELD[name].en.lower()),
                                                                             vi=BY_FIELD[name].vi))
    if not cells.get("kind") and not cells.get("profile"):
        bad("kind", _("empty; write the device kind (router, cpe, bts, pc, camera, service)"))
    if not cells.get("host") and not cells.get("url"):
        bad("host", _("empty; write the device's IP address (or a URL in the URL column for a web service)"))
    spec: dict = {"name": cells.get("device", ""), "kind": cells.get("kind") or cells.get("profile", "")}
    for name in ("profile", "url", "auth", "parent", "operator"):
        if cells.get(name):
            spec[name] = cells[name]
    if cells.get("host"):
        try:
            spec["host"] = check_host(cells["host"])
        except ValueError as exc:
            bad("host", _("{error}; write an address such as 10.20.7.2").format(error=exc))
    for name in ("port", "snmp_port"):
        if cells.get(name):
            try:
                value = int(_number(cells[name]))
                if not 1 <= value <= 65535 or value != _number(cells[name]):
                    raise ValueError
                spec[name] = value
            except ValueError:
                bad(name, _("'{text}' is not a port; write a whole number from 1 to 65535").format(text=cells[name]))
    lat, lon = cells.get("lat"), cells.get("lon")
    if lat or lon:
        location: dict[str, float] = {}
        for name, text, limit in (("lat", lat, 90), ("lon", lon, 180)):
            if not text:
                bad(name, _("empty while the other coordinate is given; write both or neither"))
                continue
            try:
                value = _number(text)
                if not -limit <= value <= limit:
                    raise ValueError
                location[name] = value
            except ValueError:
                message = _("'{text}' is not a latitude; write decimal degrees between -{limit} and {limit}, "
                            "e.g. {example}") if name == "lat" else \
                    _("'{text}' is not a longitude; write decimal degrees between -{limit} and {limit}, "
                      "e.g. {example}")
                bad(name, message.format(text=text, limit=limit, example="22.36" if name == "lat" else "103.24"))
        if len(location) == 2:
            spec["location"] = location
    enabled = cells.get("enabled", "").lower()
    if enabled in _NO:
        spec["enabled"] = False
    elif enabled not in _YES:
        bad("enabled", _("'{text}' is not yes/no; write có or không (yes or no)").format(text=cells["enabled"]))
    return spec if len(issues) == before else None


def _group(sheet: Sheet, issues: list[RowIssue]) -> dict[str, _Group]:
    provinces: dict[str, _Group] = {}
    for row in sheet.rows:
        spec = _device_spec(sheet, row, issues)
        if spec is None:
            continue
        cells = row.cells
        province = provinces.setdefault(cells["province"], _Group(cells["province"], row.number))
        commune = province.children.setdefault(cells["commune"], _Group(cells["commune"], row.number))
        village = cells.get("village", "")
        holder = commune.children.setdefault(village, _Group(village, row.number)) if village else commune
        holder.devices.append((row, spec))
    return provinces


def _hoist(devices: list[tuple[SheetRow, dict]]) -> dict:
    """Operator and location shared by every device of a village are written once, on the village."""
    shared = {}
    for key in ("operator", "location"):
        values = [json.dumps(spec.get(key), sort_keys=True) for _row, spec in devices]
        if devices and devices[0][1].get(key) is not None and len(set(values)) == 1:
            shared[key] = devices[0][1][key]
            for _row, spec in devices:
                del spec[key]
    return shared


class _Writer:
    """YAML text with one device per line, remembering which row and column each line came from."""

    def __init__(self, header: str) -> None:
        self.lines = [f"# {line}" if line else "#" for line in header.splitlines()]
        self.origin: dict[int, tuple[int, str]] = {}

    def add(self, text: str, row: int, column: str) -> None:
        self.lines.append(text)
        self.origin[len(self.lines)] = (row, column)

    def group(self, indent: str, group: _Group, column: str, extra: dict) -> None:
        self.add(f"{indent}- name: {json.dumps(group.name, ensure_ascii=False)}", group.row, column)
        for key, value in extra.items():
            self.add(f"{indent}  {key}: {json.dumps(value, ensure_ascii=False)}", group.row,
                     "lat" if key == "location" else key)

    def devices(self, indent: str, devices: list[tuple[SheetRow, dict]]) -> None:
        if devices:
            self.lines.append(f"{indent}devices:")
            for row, spec in devices:
                self.add(f"{indent}  - {json.dumps(spec, ensure_ascii=False)}", row.number, "")


def _render(provinces: dict[str, _Group], source: str) -> _Writer:
    out = _Writer(f"Inventory generated by `netmon inventory import` from {source}.\n"
                  "Edit the spreadsheet and import it again rather than editing this file by hand.\n"
                  "Use it from netmon.yaml with:  inventory: {include: THIS_FILE}")
    for province in provinces.values():
        out.group("", province, "province", {})
        out.lines.append("  communes:")
        for commune in province.children.values():
            out.group("    ", commune, "commune", {})
            out.devices("      ", commune.devices)
            if commune.children:
                out.lines.append("      villages:")
                for village in commune.children.values():
                    out.group("        ", village, "village", _hoist(village.devices))
                    out.devices("          ", village.devices)
    return out


def _column_of(path: str) -> str | None:
    """`inventory[0].communes[1].villages[2].devices[3].host` -> `host`; `....villages[2].name` -> `village`."""
    parts = re.findall(r"[A-Za-z_]+", path)
    if not parts:
        return None
    last = parts[-1]
    if last == "name" and len(parts) >= 2:
        return _LEVEL_OF.get(parts[-2])
    if last in ("location", "lat"):
        return "lat"
    if last == "lon":
        return "lon"
    return last if last in BY_FIELD else None


def _column_named_in(message: str) -> str | None:
    """Device-level issues ("... so the device needs auth: ...") name the missing key in their text."""
    # The loader wrote them in the language in use: English or Vietnamese (netmon/config/resolve.py).
    if message.startswith(("device id ", "mã thiết bị ")):
        return "device"  # two rows make the same id: the name is what to change
    match = re.search(r"(?:needs|cần) (auth|host|url):|has no (port)|không có (cổng)", message)
    return (match.group(1) or match.group(2) or (match.group(3) and "port")) if match else None


def _check_config(context: Config | None, inventory: Path, folder: Path) -> Path:
    """A throw-away agent config that includes the generated inventory, with the context's profiles and auths."""
    lines = ["version: 1", f"agent: {{name: inventory-import, state_dir: {json.dumps(str(folder / 'state'))}}}"]
    if context is not None:
        folders = sorted({str(p.parent) for p in context.profile_paths.values()})
        lines.append(f"profiles: {json.dumps(folders)}")
        if context.auths:
            # Only the names matter here: the real credentials stay in the real config.
            lines.append("auths:")
            lines += [f"  {json.dumps(name)}: {{version: 2c, community: placeholder}}" for name in context.auths]
    lines.append(f"inventory: {{include: {json.dumps(str(inventory))}}}")
    path = folder / "check.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _loader_issues(exc: ConfigError, sheet: Sheet, inventory: Path, origin: dict[int, tuple[int, str]],
                   ) -> list[RowIssue]:
    """The loader's issues about the generated file, moved back onto spreadsheet rows."""
    where = re.compile(re.escape(str(inventory)) + r":(\d+)")

    def row_of(line: int) -> int:
        return origin.get(line, (0, ""))[0]

    out = []
    for issue in exc.issues:
        message = where.sub(lambda m: _("row {row}").format(row=row_of(int(m.group(1)))), issue.message)
        if Path(issue.file).resolve() != inventory.resolve():
            out.append(RowIssue(sheet.file, 0, "", message))
            continue
        row, column = origin.get(issue.line, (0, ""))
        field_name = _column_of(issue.path) or _column_named_in(issue.message) or column
        out.append(RowIssue(sheet.file, row, _column(sheet, field_name) if field_name else "", message))
    return out


def import_inventory(source: Path, target: Path, context: Config | None = None,
                     display: str | None = None) -> ImportResult:
    """Read `source`, check every row, and write `target` only if all are good (raises `ImportRefused`)."""
    sheet = read_sheet(source, display)
    missing = [c for c in COLUMNS if c.required and c.field not in sheet.headers]
    if missing:
        raise ImportRefused([RowIssue(sheet.file, 1, "", _("no column for {columns}; add it to the header row").format(
            columns=", ".join(f"{_(c.en.lower())} ({c.vi})" for c in missing)))])
    if "host" not in sheet.headers and "url" not in sheet.headers:
        raise ImportRefused([RowIssue(sheet.file, 1, "", _("no column for the address (Địa chỉ IP / Host) "
                                                        "or URL; add one to the header row"))])
    issues: list[RowIssue] = []
    provinces = _group(sheet, issues)
    if not sheet.rows:
        issues.append(RowIssue(sheet.file, 0, "", _("the sheet has a header but no device rows")))
    rendered = _render(provinces, Path(sheet.file).name)
    text = "\n".join(rendered.lines) + "\n"
    with tempfile.TemporaryDirectory(prefix="netmon-import-") as tmp:
        folder = Path(tmp)
        inventory = folder / "inventory.yaml"
        inventory.write_text(text, encoding="utf-8")
        try:
            load_config(_check_config(context, inventory, folder), environ={})
        except ConfigError as exc:
            issues.extend(_loader_issues(exc, sheet, inventory, rendered.origin))
    if issues:
        issues.sort(key=lambda i: (i.row, i.column))
        raise ImportRefused(issues)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.partial")
    partial.write_text(text, encoding="utf-8")
    os.replace(partial, target)
    communes = [c for p in provinces.values() for c in p.children.values()]
    return ImportResult(target, len(provinces), len(communes), sum(len(c.children) for c in communes),
                        len(sheet.rows), sheet.ignored)


def known_columns() -> tuple[Column, ...]:
    """Every column an inventory sheet may have (for `--help` and the export)."""
    return COLUMNS


# The required columns' names as the messages above say them.
_NAMES = (N_("province"), N_("commune"), N_("device"))
