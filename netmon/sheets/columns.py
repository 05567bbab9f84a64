"""Spreadsheet columns of an inventory: which header means which device field, in Vietnamese or English.

Provinces keep their inventories in workbooks whose headers vary ("Thôn/Bản", "Thôn", "Bản",
"Village"...). A header is matched after folding case, diacritics and punctuation, so
"ĐỊA CHỈ IP", "Địa chỉ IP" and "dia chi ip" are the same column.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

_NON_ALNUM = re.compile(r"[^a-z0-9]+")


def fold(text: str) -> str:
    """`Địa chỉ IP` -> `diachiip`: lower-case ASCII letters and digits only."""
    text = unicodedata.normalize("NFKD", str(text).replace("đ", "d").replace("Đ", "D"))
    text = "".join(c for c in text if not unicodedata.combining(c)).lower()
    return _NON_ALNUM.sub("", text)


@dataclass(frozen=True, slots=True)
class Column:
    """One inventory field and the headers that name it."""

    field: str
    vi: str
    """The header written by `netmon inventory export` in Vietnamese."""
    en: str
    """The header written in English."""
    aliases: tuple[str, ...] = ()
    required: bool = False


COLUMNS: tuple[Column, ...] = (
    Column("province", "Tỉnh", "Province", ("tinhthanhpho", "tinhthanh", "tinhtp"), required=True),
    Column("commune", "Xã", "Commune", ("xaphuong", "phuong", "xaphuongthitran", "phuongxa"), required=True),
    Column("village", "Thôn/Bản", "Village", ("thon", "ban", "thonbanto", "thonto", "to", "banlang")),
    Column("device", "Thiết bị", "Device", ("tenthietbi", "name", "devicename"), required=True),
    Column("kind", "Loại", "Kind", ("loaithietbi", "type", "devicetype")),
    Column("profile", "Hồ sơ đo", "Profile", ("hoso",)),
    Column("host", "Địa chỉ IP", "Host", ("ip", "diachi", "ipaddress", "address", "hostname")),
    Column("url", "URL", "URL", ("duongdan", "diachiweb")),
    Column("port", "Cổng", "Port", ("tcpport",)),
    Column("snmp_port", "Cổng SNMP", "SNMP port", ()),
    Column("auth", "Xác thực SNMP", "SNMP auth", ("xacthuc", "auth")),
    Column("parent", "Phụ thuộc", "Parent", ("thietbicha", "thietbitren", "parentdevice")),
    Column("operator", "Nhà mạng", "Operator", ("nhacungcap", "isp", "telco")),
    Column("lat", "Vĩ độ", "Latitude", ("lat",)),
    Column("lon", "Kinh độ", "Longitude", ("lon", "lng", "long")),
    Column("enabled", "Theo dõi", "Enabled", ("batdau", "active")),
)

BY_FIELD = {c.field: c for c in COLUMNS}
_BY_HEADER: dict[str, Column] = {}
for _column in COLUMNS:
    for _name in (_column.field, _column.vi, _column.en, *_column.aliases):
        _BY_HEADER.setdefault(fold(_name), _column)


def column_for(header: str) -> Column | None:
    """The column a header names, or None for a column netmon does not use (notes, serial numbers)."""
    return _BY_HEADER.get(fold(header))


def header_text(column: Column, lang: str) -> str:
    """The header `export` writes for `column`."""
    return column.vi if lang == "vi" else column.en
