"""Ids from names: the one rule by which provinces, communes, villages and devices get their ids.

Its own module, without the resolver's imports (pydantic models, the kinds registry, YAML): the
bookkeeping process and the central views need the rule, not the config loader.
"""

from __future__ import annotations

import functools
import re
import unicodedata

_NON_ALNUM = re.compile(r"[^a-z0-9]+")


@functools.lru_cache(maxsize=65536)
def slug(name: str) -> str:
    """`Tả Phìn, Phong Thổ` -> `ta-phin-phong-tho`: ASCII letters and digits joined by '-'."""
    text = unicodedata.normalize("NFKD", name.replace("đ", "d").replace("Đ", "D"))
    text = "".join(c for c in text if not unicodedata.combining(c)).lower()
    return _NON_ALNUM.sub("-", text).strip("-")
