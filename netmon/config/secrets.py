"""The registry of secret values, re-exported for config code (it lives in the base layer, netmon.secrets).

The log formatter (netmon.logs) masks with the same registry, and base modules may not import
config; the loader and the config tools keep importing it from here.
"""

from netmon.secrets import MAX_REMEMBERED, MIN_MASKED, label_env, label_file, mask, remember

__all__ = ["MAX_REMEMBERED", "MIN_MASKED", "label_env", "label_file", "mask", "remember"]
