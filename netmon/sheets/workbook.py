"""Reading and writing inventory sheets: .xlsx through openpyxl, .csv through the csv module.

A sheet is a header row and one row per device. Row numbers are the ones a person sees in the
spreadsheet program (1-based, header included), so an error can say `inventory.xlsx:57`.
"""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from netmon import i18n
from netmon.i18n import _
from netmon.sheets.columns import Column, column_for

_HEADER_SEARCH_ROWS = 10
"""Workbooks often start with a title row or two ("DANH SÁCH THIẾT BỊ ..."): look this far for the header."""


class SheetError(Exception):
    """The file cannot be read as an inventory sheet at all (format, header)."""


@dataclass(frozen=True, slots=True)
class SheetRow:
    """One data row: its row number and its cells by field name (text, stripped; empty cells left out)."""

    number: int
    cells: dict[str, str]


@dataclass(frozen=True, slots=True)
class Sheet:
    """A read sheet: where each field's column is, which headers were ignored, and the rows."""

    file: str
    headers: dict[str, str]
    """Field name -> the header as written in the file."""
    ignored: tuple[str, ...]
    rows: tuple[SheetRow, ...]


def _text(value: Any) -> str:
    """A cell as text: numbers without a spurious `.0`, dates as ISO, None as empty."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    return str(value).strip()


def _raw_rows(path: Path) -> Iterator[Sequence[Any]]:
    suffix = path.suffix.lower()
    if suffix == ".csv":
        # utf-8-sig: Excel writes a BOM in front of UTF-8 CSV files.
        with path.open(newline="", encoding="utf-8-sig") as handle:
            yield from csv.reader(handle)
    elif suffix in (".xlsx", ".xlsm"):
        from openpyxl import load_workbook

        try:
            book = load_workbook(path, read_only=True, data_only=True)
        except Exception as exc:  # openpyxl raises zipfile, KeyError and its own errors for broken files
            raise SheetError(_("{path}: cannot be read as an Excel workbook ({error}); save it again as .xlsx "
                               "or export it as CSV (UTF-8)").format(path=path, error=f"{type(exc).__name__}: {exc}")
                             ) from None
        try:
            yield from book.worksheets[0].iter_rows(values_only=True)
        finally:
            book.close()
    else:
        raise SheetError(_("{path}: unknown sheet format '{suffix}'; use .xlsx or .csv (UTF-8)").format(
            path=path, suffix=path.suffix))


def read_sheet(path: Path, display: str | None = None) -> Sheet:
    """Read the first worksheet (or the CSV) of `path` into rows of named cells."""
    name = display or str(path)
    if not path.is_file():
        raise SheetError(_("{name}: no such file").format(name=name))
    header: dict[int, Column] | None = None
    headers: dict[str, str] = {}
    ignored: list[str] = []
    rows: list[SheetRow] = []
    for number, values in enumerate(_raw_rows(path), start=1):
        texts = [_text(v) for v in values]
        if header is None:
            found = {i: column_for(t) for i, t in enumerate(texts) if t}
            known = {i: c for i, c in found.items() if c is not None}
            if len(known) >= 2:
                header = {}
                for i, column in known.items():
                    if column.field in headers:
                        meaning = column.vi if i18n.current() == "vi" else column.en.lower()
                        raise SheetError(_("{where}: columns '{first}' and '{second}' both mean {column}; keep one")
                                         .format(where=f"{name}:{number}", first=headers[column.field],
                                                 second=texts[i], column=meaning))
                    header[i] = column
                    headers[column.field] = texts[i]
                ignored = [texts[i] for i, c in found.items() if c is None]
            elif number >= _HEADER_SEARCH_ROWS:
                break
            continue
        cells = {header[i].field: t for i, t in enumerate(texts) if i in header and t}
        if cells:
            rows.append(SheetRow(number, cells))
    if header is None:
        raise SheetError(_("{name}: no header row found in the first {n} rows; the sheet needs columns such as "
                           "Tỉnh, Xã, Thôn/Bản, Thiết bị, Loại, Địa chỉ IP, Nhà mạng (or Province, Commune, Village, "
                           "Device, Kind, Host, Operator)").format(name=name, n=_HEADER_SEARCH_ROWS))
    return Sheet(name, headers, tuple(ignored), tuple(rows))


def write_sheet(path: Path, header: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """Write a header and rows as .xlsx (bold, frozen header, sized columns) or .csv (UTF-8 with BOM)."""
    suffix = path.suffix.lower()
    if suffix == ".csv":
        with path.open("w", newline="", encoding="utf-8-sig") as handle:
            writer = csv.writer(handle)
            writer.writerow(header)
            writer.writerows(["" if v is None else v for v in row] for row in rows)
        return
    if suffix != ".xlsx":
        raise SheetError(_("{path}: unknown sheet format '{suffix}'; use .xlsx or .csv").format(
            path=path, suffix=path.suffix))
    from openpyxl import Workbook
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    book = Workbook()
    sheet = book.active
    sheet.title = "Thiết bị"
    sheet.append(list(header))
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for row in rows:
        sheet.append(list(row))
    sheet.freeze_panes = "A2"
    for i, title in enumerate(header, start=1):
        width = max([len(str(title)), *(len(str(r[i - 1])) for r in rows[:500] if r[i - 1] is not None)])
        sheet.column_dimensions[get_column_letter(i)].width = min(60, width + 2)
    book.save(path)
