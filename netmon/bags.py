"""Config models cross to the bookkeeping process as plain attribute bags, so it never imports pydantic.

The worker reads the settings, profiles and thresholds it is given and never validates or
changes them; importing pydantic and building netmon's config models only to unpickle them cost
that process ~20 MB of its ~70 (BENCHMARKS.md, memory). `to_worker()` pickles job arguments with
every pydantic model replaced by a `Bag` holding its field values and the values of its
properties (e.g. `analysis.bucket_s`), so attribute reads in the worker see what they saw on
the model. A method call would not survive the trip: the worker's code reads attributes only
(tests/core/test_bags.py runs the worker's jobs on bags and on the models and compares).
"""

from __future__ import annotations

import io
import pickle
import sys
from typing import Any


class Bag:
    """The values of one config model, read as attributes; `model` names the class it came from."""

    __slots__ = ("__dict__", "model")

    def __repr__(self) -> str:
        return f"Bag[{self.model}]({', '.join(f'{k}={v!r}' for k, v in vars(self).items())})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Bag) and self.model == other.model and vars(self) == vars(other)

    def __hash__(self) -> int:  # config models are frozen, hence hashable: so is their bag
        return hash((self.model, tuple(vars(self).items())))


def make_bag(model: str, values: dict[str, Any]) -> Bag:
    """Unpickling: a bag of `values`."""
    bag = Bag.__new__(Bag)
    bag.model = model
    bag.__dict__.update(values)
    return bag


_PROPERTIES: dict[type, tuple[str, ...]] = {}


def _properties(cls: type) -> tuple[str, ...]:
    names = _PROPERTIES.get(cls)
    if names is None:
        names = _PROPERTIES[cls] = tuple(sorted({name for klass in cls.__mro__ for name, attr in vars(klass).items()
                                                 if isinstance(attr, property) and not name.startswith("_")
                                                 and klass.__module__.startswith("netmon.")}))
    return names


class _BagPickler(pickle.Pickler):
    def reducer_override(self, obj: Any) -> Any:
        fields = getattr(type(obj), "model_fields", None)
        if fields is None or not isinstance(fields, dict) or "pydantic" not in sys.modules:
            return NotImplemented
        values = {name: getattr(obj, name) for name in fields}
        values.update((name, getattr(obj, name)) for name in _properties(type(obj)))
        return make_bag, (type(obj).__name__, values)


def to_worker(value: Any) -> bytes:
    """`pickle.dumps(value)` with every config model (at any depth) as a `Bag`."""
    out = io.BytesIO()
    _BagPickler(out, pickle.HIGHEST_PROTOCOL).dump(value)
    return out.getvalue()
