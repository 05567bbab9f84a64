"""A cache of values derived from config objects, keyed by the object's identity, that forgets dead objects.

Probers derive costly things from a device's `SnmpAuth` (revealed secrets, hashed v3 keys, pysnmp
user data). The config model is frozen and shared by every device that uses it, so its identity
is a cheap, stable key; but a reload (SIGHUP) builds new objects while the prober is kept, so a
plain `id()`-keyed dict would grow by every user at every reload for as long as the daemon runs,
and once an old object is freed a new one could be handed its id and read its stale entry. Here
an entry holds its object weakly and goes when the object does.
"""

from __future__ import annotations

import weakref
from typing import Any, Generic, TypeVar

V = TypeVar("V")


class PerObject(Generic[V]):
    """`get(obj)` / `put(obj, value)`: one value per live object, dropped when the object is collected."""

    __slots__ = ("_entries",)

    def __init__(self) -> None:
        self._entries: dict[int, tuple[weakref.ref[Any], V]] = {}

    def get(self, obj: object) -> V | None:
        """The value stored for this very object, or None."""
        entry = self._entries.get(id(obj))
        if entry is None or entry[0]() is not obj:
            return None
        return entry[1]

    def put(self, obj: object, value: V) -> V:
        """Store `value` for `obj` (replacing any) and return it."""
        key = id(obj)
        entries = self._entries

        def forget(ref: weakref.ref[Any]) -> None:
            entry = entries.get(key)
            if entry is not None and entry[0] is ref:
                del entries[key]

        entries[key] = (weakref.ref(obj, forget), value)
        return value

    def __len__(self) -> int:
        return len(self._entries)
