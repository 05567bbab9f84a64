"""`netmon inventory export`: the resolved inventory as a spreadsheet for the province to review.

One row per enabled device with everything it inherited written out (operator, location), so the
sheet reads on its own and imports back to the same devices.
"""

from __future__ import annotations

from pathlib import Path

from netmon.config import Config
from netmon.config.resolve import slug
from netmon.model import Device
from netmon.sheets.columns import COLUMNS, header_text
from netmon.sheets.workbook import write_sheet


def _parent_reference(device: Device, config: Config) -> str | None:
    """The parent as a name where the importer's lookup finds exactly it, else its full id."""
    if device.parent is None:
        return None
    parent = config.device_by_id.get(device.parent)
    if parent is None or parent.commune != device.commune or parent.province != device.province:
        return device.parent
    # The loader looks a name up in the device's own village first, then in its commune.
    same_village = [d for d in config.all_devices if d.province == device.province and d.commune == device.commune
                    and d.village == device.village and slug(d.name) == slug(parent.name)]
    if parent.village == device.village or (parent.village == "" and not same_village):
        return parent.name
    return device.parent


def export_rows(config: Config) -> list[list[object]]:
    """One row per enabled device, in inventory order, in the order of `COLUMNS`."""
    rows = []
    for device in config.all_devices:
        values = {
            "province": device.province, "commune": device.commune, "village": device.village,
            "device": device.name, "kind": device.kind,
            "profile": device.profile if device.profile != device.kind else None,
            "host": device.host, "url": device.url, "port": device.port, "snmp_port": device.snmp_port,
            "auth": device.auth, "parent": _parent_reference(device, config),
            "operator": device.operator or None, "lat": device.lat, "lon": device.lon, "enabled": None,
        }
        rows.append([values[c.field] for c in COLUMNS])
    return rows


def export_inventory(config: Config, target: Path, lang: str = "vi") -> int:
    """Write the inventory of `config` to `target` (.xlsx or .csv); returns the number of devices."""
    columns = [c for c in COLUMNS if c.field != "enabled"]
    rows = [[v for c, v in zip(COLUMNS, row, strict=True) if c.field != "enabled"] for row in export_rows(config)]
    write_sheet(target, [header_text(c, lang) for c in columns], rows)
    return len(rows)
