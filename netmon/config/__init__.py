"""Configuration: load, validate and resolve `netmon.yaml`, its inventory and the profiles.

    load_config(path) -> Config        raises ConfigError listing every problem found

`Config` and `load_config` are imported on first use: the probe kinds (netmon/kinds) build on
`config.checks`, and `config.schema` builds on the kinds, so importing the loader eagerly here
would make `import netmon.kinds...` a cycle.
"""

from typing import TYPE_CHECKING, Any

from netmon.config.errors import ConfigError, ConfigIssue

if TYPE_CHECKING:
    from netmon.config.load import Config, load_config

__all__ = ["Config", "ConfigError", "ConfigIssue", "load_config"]


def __getattr__(name: str) -> Any:
    if name in ("Config", "load_config"):
        from netmon.config import load

        return getattr(load, name)
    raise AttributeError(f"module 'netmon.config' has no attribute {name!r}")
