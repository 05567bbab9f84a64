"""`netmon check`: a short summary of a configuration that loaded.

Short on purpose: a province of 5,000 villages prints a screenful of totals, not a line per
village. Outputs show their URL only (never tokens or passwords, not even in a URL's user info).
Every line and cell goes through `secrets.mask`: a value taken from the environment or a key file
shows as `<from env NAME>`, whatever field it was written into.
"""

from __future__ import annotations

import sqlite3
from collections import Counter
from urllib.parse import urlsplit, urlunsplit

from rich import box
from rich.console import Console
from rich.table import Table

from netmon.config.load import Config
from netmon.config.secrets import mask
from netmon.model import Device

MAX_ROWS = 30
"""Beyond this many communes, the inventory table shows one line per province instead."""


def format_duration(seconds: float) -> str:
    """`300.0` -> `5m`, `10.0` -> `10s`, `0.25` -> `250ms`: how a profile would write it."""
    for unit, size in (("d", 86400.0), ("h", 3600.0), ("m", 60.0), ("s", 1.0)):
        if seconds >= size and (seconds / size).is_integer():
            return f"{int(seconds / size)}{unit}"
    return f"{seconds * 1000:g}ms" if seconds < 1 else f"{seconds:g}s"


def safe_url(url: str) -> str:
    """The URL without user info, query or fragment, which may carry credentials."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = f"[{host}]" if ":" in host else host
    if parts.port is not None:
        netloc += f":{parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def _count(n: int, word: str) -> str:
    return f"{n:,} {word}" if n == 1 else f"{n:,} {word}s"


def _inventory_table(devices: tuple[Device, ...]) -> Table:
    communes: dict[tuple[str, str], list[Device]] = {}
    for device in devices:
        communes.setdefault((device.province, device.commune), []).append(device)
    per_commune = len(communes) <= MAX_ROWS
    table = Table(box=box.SIMPLE, pad_edge=False)
    table.add_column("province")
    table.add_column("commune" if per_commune else "communes", justify="left" if per_commune else "right")
    table.add_column("villages", justify="right")
    table.add_column("devices", justify="right")
    if per_commune:
        for (province, commune), group in communes.items():
            villages = len({d.village for d in group if d.village})
            table.add_row(mask(province), mask(commune), f"{villages:,}", f"{len(group):,}")
        return table
    provinces: dict[str, list[Device]] = {}
    for device in devices:
        provinces.setdefault(device.province, []).append(device)
    for i, (province, group) in enumerate(provinces.items()):
        if i == MAX_ROWS:
            table.add_row(f"... and {len(provinces) - MAX_ROWS:,} more provinces", "", "", "")
            break
        villages = len({(d.commune, d.village) for d in group if d.village})
        table.add_row(mask(province), f"{len({d.commune for d in group}):,}", f"{villages:,}", f"{len(group):,}")
    return table


def _checks_table(config: Config) -> Table:
    rows: dict[tuple[str, str, float], tuple[int, set[str]]] = {}
    for profile_name, count in Counter(d.profile for d in config.devices).items():
        for check in config.profiles[profile_name].checks:
            key = (check.prober, check.name, check.interval)
            devices, profiles = rows.get(key, (0, set()))
            rows[key] = (devices + count, profiles | {profile_name})
    table = Table(box=box.SIMPLE, pad_edge=False)
    for name, justify in (("prober", "left"), ("check", "left"), ("every", "right"),
                          ("devices", "right"), ("probes/s", "right"), ("profiles", "left")):
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    for (prober, check, interval), (devices, profiles) in sorted(rows.items()):
        table.add_row(prober, mask(check), format_duration(interval), f"{devices:,}",
                      f"{devices / interval:,.3g}", mask(", ".join(sorted(profiles))))
    return table


def render_check(config: Config, console: Console) -> None:
    """Print what `netmon check` shows for a configuration that loaded without problems."""
    settings, devices = config.settings, config.devices
    shard = settings.agent.shard
    villages = {(d.province, d.commune, d.village) for d in devices if d.village}
    console.print(f"[bold]configuration OK[/bold]: {mask(str(config.path))}")
    console.print(mask(f"agent [bold]{settings.agent.name}[/bold], timezone {settings.agent.timezone}, "
                       f"state in {config.state_dir}"))
    where = f" (shard {shard.index} of {shard.count}: {len(devices):,} of {len(config.all_devices):,})" \
        if shard else ""
    console.print(f"devices: {len(devices):,}{where} in {_count(len({d.province for d in devices}), 'province')}, "
                  f"{_count(len({(d.province, d.commune) for d in devices}), 'commune')}, "
                  f"{_count(len(villages), 'village')}")
    if devices:
        console.print(_inventory_table(devices))
        kinds = Counter(d.kind for d in devices)
        console.print(mask("kinds: " + ", ".join(f"{k} {n:,}" for k, n in sorted(kinds.items()))))
        console.print(_checks_table(config))
    outputs = settings.outputs.influxdb
    if not outputs:
        console.print("outputs: none (results stay in the local store)")
    for out in outputs:
        target = f"bucket {out.bucket}" if out.api == "v2" else f"database {out.database}"
        console.print(mask(f"output influxdb '{out.name}': {safe_url(out.url)} (api {out.api}, {target})"))
    folders: dict[str, list[str]] = {}
    for name in sorted({d.profile for d in devices}):
        path = config.profile_paths.get(name)
        folders.setdefault(str(path.parent) if path else "?", []).append(name)
    console.print(mask("profiles used: " + ("; ".join(
        f"{', '.join(names)} from {folder}" for folder, names in folders.items()) or "none")))
    for line in open_flag_warnings(config):
        console.print(f"[yellow]warning[/yellow]: {mask(line)}")


def open_flag_warnings(config: Config) -> list[str]:
    """Open flags in the store whose village this config no longer has (renamed or removed): best effort."""
    from netmon.analysis.catalog import catalog_from_config
    from netmon.analysis.status import flags_outside
    from netmon.store import Store

    try:
        store = Store.open(config.state_dir, readonly=True)
    except (FileNotFoundError, OSError):
        return []  # no store yet: nothing can be flagged
    try:
        orphans = flags_outside(store, set(catalog_from_config(config).villages))
    except sqlite3.Error as exc:  # a warning must never make a valid config fail the check
        return [f"could not read the open flags in {config.state_dir}: {exc}"]
    finally:
        store.close()
    return [f"village '{f.commune} / {f.village}' ({f.village_id}) has an open {f.cause} flag but is not in"
            " this inventory (renamed or removed?); its flag will be closed as 'no longer in the inventory'"
            " at the next evaluation" for f in orphans]
