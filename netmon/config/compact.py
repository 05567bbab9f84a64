"""Copy a loaded config's devices into fresh, compact memory (for the long-running daemon).

Loading an inventory allocates ~4.5 KB per device of parse tree, validation models and
bookkeeping, of which ~0.5 KB survives (the `Device` and its strings). The survivors sit
scattered among the freed garbage, so the allocator can give almost none of it back: at 100,000
devices the daemon kept ~380 MB after loading ~70 MB of live data. Copying the devices once,
with their strings, packs them together; the old blocks are then wholly free and returned.
Strings that repeat (kind, profile, province, commune, village, operator, auth) are interned,
so 100,000 devices share one "cpe" instead of holding 100,000.
"""

from __future__ import annotations

import dataclasses
import gc
import pickle
import sys
from operator import attrgetter
from types import MappingProxyType

from netmon.config.load import Config
from netmon.model import Device

_FIELDS = tuple(f.name for f in dataclasses.fields(Device))
_ROW = attrgetter(*_FIELDS)
_SHARED = tuple(i for i, name in enumerate(_FIELDS)
                if name in ("kind", "profile", "province", "commune", "village", "operator", "auth"))


def compacted(config: Config) -> Config:
    """The same config with every device copied into fresh memory (equal values, new objects)."""
    collecting = gc.isenabled()
    gc.disable()  # 10^5-10^6 new objects that all survive: collections in between are pure cost
    try:
        # A pickle round trip of plain tuples copies every string at C speed (objects shared
        # within a device list stay shared); a dataclass pickle would be 4x slower.
        rows = pickle.loads(pickle.dumps([_ROW(d) for d in config.all_devices], protocol=pickle.HIGHEST_PROTOCOL))
        interned = [_intern(row) for row in rows]
        del rows
        all_devices = tuple(Device(*row) for row in interned)
        del interned
    finally:
        if collecting:
            gc.enable()
    by_id = {d.id: d for d in all_devices}
    mine = tuple(by_id[d.id] for d in config.devices)
    return dataclasses.replace(config, all_devices=all_devices, devices=mine, device_by_id=MappingProxyType(by_id))


def _intern(row: tuple) -> tuple:
    values = list(row)
    for i in _SHARED:
        if isinstance(values[i], str):
            values[i] = sys.intern(values[i])
    return tuple(values)
