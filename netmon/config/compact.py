"""Copy a loaded config's devices into fresh, compact memory (for the long-running daemon).

Loading an inventory allocates ~4.5 KB per device of parse tree, validation models and
bookkeeping, of which ~0.5 KB survives (the `Device` and its strings). The survivors sit
scattered among the freed garbage, so the allocator can give almost none of it back: at 100,000
devices the daemon kept ~380 MB after loading ~70 MB of live data. Copying the devices once,
with their strings, packs them together; the old blocks are then wholly free and returned.
Strings that repeat (kind, profile, province, commune, village, operator, auth) are interned,
so 100,000 devices share one "cpe" instead of holding 100,000.

That still left the daemon holding ~40 MB more than it uses at 20,000 devices: Python's small-object
allocator returns a 1 MB arena only when all of it is free, and the parse left a few survivors
(settings, profiles, secrets, the compacted devices themselves, placed into the holes) in most of
its ~70 arenas. `repacked` copies the *whole* config once more through one in-memory pickle after
the original is gone, so it lands in a few fresh arenas and the rest are returned: RSS after
start-up 104 -> 64 MB at 20,000 devices for 0.4 s (BENCHMARKS.md, memory).
"""

from __future__ import annotations

import dataclasses
import gc
import io
import logging
import pickle
import sys
from collections.abc import Callable
from operator import attrgetter
from types import MappingProxyType
from typing import Any

from netmon.config.load import Config
from netmon.model import Device, Secret

log = logging.getLogger(__name__)

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


def repacked(config: Config, again: Callable[[], Config]) -> Config:
    """An equal copy of `config` in fresh memory; pass the only reference (`repacked(compacted(...), ...)`).

    The copy is made after the original is freed, so the caller must not keep it: held
    elsewhere, the original stays and its arenas with it. Should the copy fail (a type in the
    config that does not pickle: a bug, logged), the config comes from `again()` (a second load).
    """
    buffer = io.BytesIO()
    try:
        _Pickler(buffer, pickle.HIGHEST_PROTOCOL).dump(config)
    except Exception:
        log.exception("the config stays as loaded: it cannot be copied into compact memory")
        return config
    del config
    data = buffer.getvalue()
    del buffer
    gc.collect()  # the original's cycles (pydantic models, the inventory tree) go before the copy is made
    collecting = gc.isenabled()
    gc.disable()
    try:
        return pickle.loads(data)
    except Exception:
        log.exception("the config could not be copied into compact memory; loading it again")
        return again()
    finally:
        if collecting:
            gc.enable()


def _proxy(items: dict[Any, Any]) -> MappingProxyType[Any, Any]:
    return MappingProxyType(items)


def _secret(value: str, source: str) -> Secret:
    return Secret(value, source)


class _Pickler(pickle.Pickler):
    """Pickles what a config holds that refuses plain pickling.

    A `Secret` refuses pickling so that it never lands in a file or crosses a process by
    accident; this pickle lives in this process's memory for a fraction of a second.
    """

    def reducer_override(self, obj: Any) -> Any:
        if type(obj) is MappingProxyType:
            return _proxy, (dict(obj),)
        if type(obj) is Secret:
            return _secret, (obj.reveal(), obj.source)
        return NotImplemented
