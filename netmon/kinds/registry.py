"""The registry of probe kinds: one line per kind. Adding a kind = its module + one line here."""

from __future__ import annotations

import importlib
from typing import Annotated, Any, Union

from pydantic import Field

from netmon.kinds.base import ProbeKind

KIND_MODULES = (
    "netmon.kinds.builtin",
    "netmon.kinds.dns",
)
"""Each module declares `KINDS`, a tuple of `ProbeKind`s; its prober is imported only when used."""

KINDS: dict[str, ProbeKind] = {kind.name: kind for module in KIND_MODULES
                               for kind in importlib.import_module(module).KINDS}


def kind_of(prober: str) -> ProbeKind | None:
    """The kind registered as `prober`, or None."""
    return KINDS.get(prober)


def names() -> list[str]:
    """The registered `prober:` values, in registry order."""
    return list(KINDS)


def service_probers() -> tuple[str, ...]:
    """Kinds that measure a service (judged by the services analysis, not the coverage one)."""
    return tuple(k.name for k in KINDS.values() if k.measures == "service")


def check_union() -> Any:
    """The profile's check type: a union of every kind's model, told apart by `prober:`."""
    models = tuple(k.check for k in KINDS.values())
    return Annotated[Union[models], Field(discriminator="prober")]  # noqa: UP007 - built at run time
