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
from netmon.config.shard import commune_id
from netmon.i18n import N_, _, display, ngettext, number, pgettext
from netmon.i18n import localise as loc
from netmon.model import Device
from netmon.storesize import human_bytes, project

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
    if word == "province":
        text = ngettext("{n} province", "{n} provinces", n)
    elif word == "commune":
        text = ngettext("{n} commune", "{n} communes", n)
    else:
        text = ngettext("{n} village", "{n} villages", n)
    return text.format(n=number(n))


def _inventory_table(devices: tuple[Device, ...]) -> Table:
    communes: dict[tuple[str, str], list[Device]] = {}
    for device in devices:
        communes.setdefault((device.province, device.commune), []).append(device)
    per_commune = len(communes) <= MAX_ROWS
    table = Table(box=box.SIMPLE, pad_edge=False)
    table.add_column(_("province"))
    table.add_column(_("commune") if per_commune else _("communes"), justify="left" if per_commune else "right")
    table.add_column(_("villages"), justify="right")
    table.add_column(_("devices"), justify="right")
    if per_commune:
        for (province, commune), group in communes.items():
            villages = len({d.village for d in group if d.village})
            table.add_row(mask(display(province)), mask(display(commune)), number(villages), number(len(group)))
        return table
    provinces: dict[str, list[Device]] = {}
    for device in devices:
        provinces.setdefault(device.province, []).append(device)
    for i, (province, group) in enumerate(provinces.items()):
        if i == MAX_ROWS:
            table.add_row(_("... and {n} more provinces").format(n=number(len(provinces) - MAX_ROWS)), "", "", "")
            break
        villages = len({(d.commune, d.village) for d in group if d.village})
        table.add_row(mask(display(province)), number(len({d.commune for d in group})), number(villages),
                      number(len(group)))
    return table


def _assignment_table(config: Config) -> Table:
    """Communes per agent, and how each was placed: written `agent:`, following a parent, or hashed."""
    assignment = config.assignment
    assert assignment is not None
    villages = Counter(commune_id(v) for v in {d.id.rsplit("/", 1)[0] for d in config.all_devices if d.village})
    table = Table(box=box.SIMPLE, pad_edge=False, title=_("communes per agent"), title_justify="left")
    for name, justify in ((N_("agent"), "left"), (N_("communes"), "right"), (N_("villages"), "right"),
                          (N_("placed"), "left"), ("", "left")):
        table.add_column(_(name) if name else "", justify=justify)  # type: ignore[arg-type]
    # How a commune was placed (config.shard): written `agent:`, following a parent, or hashed.
    hows = {"explicit": pgettext("placement", "explicit"), "parent": pgettext("placement", "parent"),
            "hashed": pgettext("placement", "hashed")}
    for agent in assignment.agents:
        communes = assignment.communes_of(agent)
        how = Counter(assignment.how[c] for c in communes)
        placed = ", ".join(f"{number(n)} {hows.get(k, k)}" for k, n in sorted(how.items())) or "-"
        table.add_row(mask(agent), number(len(communes)), number(sum(villages[c] for c in communes)), placed,
                      _("(this agent)") if agent == assignment.me else "")
    return table


def _checks_table(config: Config) -> Table:
    rows: dict[tuple[str, str, float], tuple[int, set[str]]] = {}
    for profile_name, count in Counter(d.profile for d in config.devices).items():
        for check in config.profiles[profile_name].checks:
            key = (check.prober, check.name, check.interval)
            devices, profiles = rows.get(key, (0, set()))
            rows[key] = (devices + count, profiles | {profile_name})
    table = Table(box=box.SIMPLE, pad_edge=False)
    for name, justify in ((N_("prober"), "left"), (N_("check"), "left"), (N_("every"), "right"),
                          (N_("devices"), "right"), (N_("probes/s"), "right"), (N_("profiles"), "left")):
        table.add_column(_(name), justify=justify)  # type: ignore[arg-type]
    for (prober, check, interval), (devices, profiles) in sorted(rows.items()):
        table.add_row(prober, mask(check), format_duration(interval), number(devices),
                      loc(f"{devices / interval:,.3g}"), mask(", ".join(sorted(profiles))))
    return table


def render_check(config: Config, console: Console) -> None:
    """Print what `netmon check` shows for a configuration that loaded without problems."""
    settings, devices = config.settings, config.devices
    villages = {(d.province, d.commune, d.village) for d in devices if d.village}
    console.print(_("[bold]configuration OK[/bold]: {path}").format(path=mask(str(config.path))))
    console.print(mask(_("agent [bold]{name}[/bold], timezone {timezone}, state in {folder}").format(
        name=settings.agent.name, timezone=settings.agent.timezone, folder=config.state_dir)))
    shard = config.assignment if settings.agent.shard else None
    where = mask(_(" (agent {me} of {count}: {devices} of {total})").format(
        me=shard.me, count=len(shard.agents), devices=number(len(devices)),
        total=number(len(config.all_devices)))) if shard else ""
    console.print(_("devices: {devices}{where} in {provinces}, {communes}, {villages}").format(
        devices=number(len(devices)), where=where, provinces=_count(len({d.province for d in devices}), "province"),
        communes=_count(len({(d.province, d.commune) for d in devices}), "commune"),
        villages=_count(len(villages), "village")))
    if devices:
        console.print(_inventory_table(devices))
        kinds = Counter(d.kind for d in devices)
        console.print(mask(_("kinds: ") + ", ".join(f"{k} {number(n)}" for k, n in sorted(kinds.items()))))
        console.print(_checks_table(config))
    if shard is not None:
        console.print(_assignment_table(config))
    outputs = settings.outputs.influxdb
    if not outputs:
        console.print(_("outputs: none (results stay in the local store)"))
    for out in outputs:
        target = _("bucket {name}").format(name=out.bucket) if out.api == "v2" else \
            _("database {name}").format(name=out.database)
        console.print(mask(_("output influxdb '{name}': {url} (api {api}, {target})").format(
            name=out.name, url=safe_url(out.url), api=out.api, target=target)))
    folders: dict[str, list[str]] = {}
    for name in sorted({d.profile for d in devices}):
        path = config.profile_paths.get(name)
        folders.setdefault(str(path.parent) if path else "?", []).append(name)
    console.print(mask(_("profiles used: ") + ("; ".join(
        _("{names} from {folder}").format(names=", ".join(names), folder=folder)
        for folder, names in folders.items()) or _("none"))))
    for line in open_flag_warnings(config):
        console.print(_("[yellow]warning[/yellow]: {text}").format(text=mask(line)))
    console.print(_store_line(config))


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
        return [_("could not read the open flags in {folder}: {error}").format(folder=config.state_dir, error=exc)]
    finally:
        store.close()
    return [_("village '{commune} / {village}' ({id}) has an open {cause} flag but is not in this inventory "
              "(renamed or removed?); its flag will be closed as 'no longer in the inventory' at the next "
              "evaluation").format(commune=f.commune, village=f.village, id=f.village_id, cause=_(f.cause))
            for f in orphans]


def _store_line(config: Config) -> str:
    """Projected steady-state size of the store (netmon.storesize) against max_disk_mb."""
    p = project(config)
    keep, cap = config.settings.store.retention, config.settings.store.max_disk_mb
    raw = sum(p.results.values())
    text = _("store at steady state: ~{total} (raw results {raw}: icmp {icmp_days}, others {other_days}; rollups "
             "{rollups} for {rollup_days}; outages and flags {events}); docs/storage.md").format(
        total=loc(human_bytes(p.total)), raw=loc(human_bytes(raw)), icmp_days=format_duration(keep.results_icmp),
        other_days=format_duration(keep.results), rollups=loc(human_bytes(p.rollup_device + p.rollup_village)),
        rollup_days=format_duration(keep.rollups), events=loc(human_bytes(p.events)))
    if cap is not None:
        fits = p.total <= cap * 1e6 * 1.048576
        text += "\n" + (_("max_disk_mb {cap}: fits") if fits else _(
            "max_disk_mb {cap}: [bold]too small[/bold]: past it the oldest analysis rows go first, then unsent "
            "results")).format(cap=number(cap))
    return text
