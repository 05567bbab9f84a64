"""Configuration: load, validate and resolve `netmon.yaml`, its inventory and the profiles.

    load_config(path) -> Config        raises ConfigError listing every problem found
"""

from netmon.config.errors import ConfigError, ConfigIssue
from netmon.config.load import Config, load_config

__all__ = ["Config", "ConfigError", "ConfigIssue", "load_config"]
