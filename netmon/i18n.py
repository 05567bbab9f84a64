"""The interface language: gettext catalogs shipped in the package, and number/date formats for people.

The language is chosen once, at the start of a command (`netmon --lang vi|en`, else `NETMON_LANG`,
else the config's `agent.language`, else a locale variable starting with `vi`), by `setup()`.
Everything a person reads goes through `_()` / `ngettext()`; strings defined at import time are
marked with `N_()` and translated where they are shown.

Numbers, percentages and times read by people follow the language's conventions (`99,5 %`,
`02/12/2026 14:05` in Vietnamese) through Babel. CSV and JSON never use these helpers: they keep
ASCII keys, dot decimals and ISO times in every language, so scripts read the same file everywhere.

Catalogs: netmon/locale/<lang>/LC_MESSAGES/netmon.po (edited) and .mo (compiled, committed, shipped
in the wheel). `python scripts/i18n.py update|compile|check` extracts, merges and compiles them.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import gettext
import os
import threading
from collections.abc import Iterator, Mapping
from importlib import resources

DOMAIN = "netmon"
LANGUAGES = ("en", "vi")
DEFAULT = "en"
_LOCALES = {"en": "en_US", "vi": "vi_VN"}
_DATETIME = {"en": "yyyy-MM-dd HH:mm", "vi": "dd/MM/yyyy HH:mm"}
_DATE = {"en": "yyyy-MM-dd", "vi": "dd/MM/yyyy"}
_MONTH = {"en": "yyyy-MM", "vi": "MM/yyyy"}

_translation: gettext.NullTranslations = gettext.NullTranslations()
_lang = DEFAULT
_explicit = False
_here = threading.local()
"""`here.speaking`: (translation, lang) of this thread while a config's own language explains it (`kept`)."""
"""True when --lang or NETMON_LANG chose the language: a config's `agent.language` then yields."""


def normalise(value: str | None) -> str | None:
    """`vi`, `vi_VN.UTF-8`, `VI` -> `vi`; `en_GB` -> `en`; anything else -> None."""
    if not value:
        return None
    head = value.strip().lower().replace("-", "_").split(".")[0].split("_")[0]
    return head if head in LANGUAGES else None


def choose(cli: str | None = None, env: Mapping[str, str] | None = None,
           config: str | None = None) -> tuple[str, bool]:
    """The language and whether it was chosen explicitly (CLI or NETMON_LANG) rather than guessed."""
    env = os.environ if env is None else env
    for value in (cli, env.get("NETMON_LANG")):
        if value:
            lang = normalise(value)
            if lang is None:
                raise ValueError(f"unknown language {value!r}; use one of: {', '.join(LANGUAGES)}")
            return lang, True
    if config:
        return normalise(config) or DEFAULT, False
    # gettext's order: the first of these that is set decides (LC_ALL overrides LANG).
    for name in ("LC_ALL", "LC_MESSAGES", "LANG"):
        if env.get(name):
            return normalise(env[name]) or DEFAULT, False
    return DEFAULT, False


@functools.lru_cache(maxsize=8)
def load(lang: str) -> gettext.NullTranslations:
    """The catalog of `lang` from the installed package (English needs none: msgids are English)."""
    if lang == DEFAULT:
        return gettext.NullTranslations()
    mo = resources.files("netmon").joinpath("locale", lang, "LC_MESSAGES", f"{DOMAIN}.mo")
    with mo.open("rb") as fh:
        return gettext.GNUTranslations(fh)


def setup(lang: str, explicit: bool = True) -> None:
    """Use `lang` for every later `_()` call in this process, argparse's words included."""
    global _translation, _lang, _explicit
    _translation, _lang, _explicit = load(lang), lang, explicit
    import argparse

    argparse._ = _  # type: ignore[attr-defined]  # argparse looks its words up through this module global


def use_config_language(language: str | None) -> None:
    """Apply a config's `agent.language` unless --lang or NETMON_LANG already chose."""
    if language and not _explicit:
        lang = normalise(language) or DEFAULT
        if lang != _lang:
            setup(lang, explicit=False)


@contextlib.contextmanager
def language(lang: str) -> Iterator[None]:
    """Use `lang` inside the block (JSON built with English words), then the language before it."""
    global _translation, _lang
    saved, speaking = (_translation, _lang), getattr(_here, "speaking", None)
    _translation, _lang, _here.speaking = load(lang), lang, None
    try:
        yield
    finally:
        (_translation, _lang), _here.speaking = saved, speaking


@contextlib.contextmanager
def kept() -> Iterator[None]:
    """A block in which `prefer()` may speak another language, in this thread only; after it, as before.

    The config loader speaks the config's own `agent.language` while it explains that config's
    problems (so `agent: {language: vi}` gets its errors in Vietnamese), without a library call
    changing the language of the process, or of another thread, that called it.
    """
    saved = getattr(_here, "speaking", None)
    try:
        yield
    finally:
        _here.speaking = saved


def prefer(language: str | None) -> None:
    """Inside `kept()`: speak a config's `agent.language` unless --lang or NETMON_LANG chose one."""
    if language and not _explicit:
        lang = normalise(language) or DEFAULT
        _here.speaking = (load(lang), lang)


def _active() -> gettext.NullTranslations:
    speaking = getattr(_here, "speaking", None)
    return speaking[0] if speaking else _translation


def current() -> str:
    """The language in use: `en` or `vi`."""
    speaking = getattr(_here, "speaking", None)
    return speaking[1] if speaking else _lang


def _(message: str) -> str:
    """`message` in the language in use."""
    return _active().gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    """The singular or plural form for `n`, in the language in use (Vietnamese has one form)."""
    return _active().ngettext(singular, plural, n)


def pgettext(context: str, message: str) -> str:
    """`message` in the language in use, where the same English word means something else elsewhere."""
    return _active().pgettext(context, message)


def N_(message: str) -> str:
    """Mark a string for extraction without translating it now (module-level tables)."""
    return message


_ARGPARSE = (N_("usage: "), N_("positional arguments"), N_("options"), N_("show this help message and exit"),
             N_("%(prog)s: error: %(message)s\n"), N_("the following arguments are required: %s"),
             N_("invalid choice: %(value)r (choose from %(choices)s)"), N_("unrecognized arguments: %s"),
             N_("argument %(argument_name)s: %(message)s"), N_("expected one argument"),
             N_("invalid %(type)s value: %(value)r"), N_("ambiguous option: %(option)s could match %(matches)s"))
"""argparse's own words around netmon's help texts, so `netmon --help` is not half English (its msgids,
%-placeholders as argparse formats them; a Python whose argparse words differ just shows those in English)."""


# ---------------------------------------------------------------- formats for people


def number(value: float | int, digits: int | None = None) -> str:
    """`1234.5` -> `1,234.5` (en) / `1.234,5` (vi); `digits` fixes the decimals, else up to 3 show."""
    from babel.numbers import format_decimal

    pattern = "#,##0" + ("." + "0" * digits if digits else "" if digits == 0 else ".###")
    return format_decimal(value, format=pattern, locale=_LOCALES[_lang])


def percent(value: float | int, digits: int = 1) -> str:
    """`99.5` -> `99.5 %` (en) / `99,5 %` (vi): a value already in percent, trailing zeros dropped."""
    from babel.numbers import format_decimal

    pattern = "#,##0" + ("." + "#" * digits if digits else "")
    return format_decimal(value, format=pattern, locale=_LOCALES[_lang]) + " %"


def localise(text: str) -> str:
    """A number already formatted the English way (`1,234.5`, `0.25`) with this language's separators."""
    if _lang == "en":
        return text
    from babel.numbers import get_decimal_symbol, get_group_symbol

    locale = _LOCALES[_lang]
    group, decimal = get_group_symbol(locale), get_decimal_symbol(locale)
    return "".join(group if ch == "," else decimal if ch == "." else ch for ch in text)


def datetime(value: dt.datetime) -> str:
    """`2026-12-02 14:05` (en) / `02/12/2026 14:05` (vi), in the datetime's own timezone."""
    from babel.dates import format_datetime

    return format_datetime(value, _DATETIME[_lang], locale=_LOCALES[_lang])


def date(value: dt.date) -> str:
    """`2026-12-02` (en) / `02/12/2026` (vi)."""
    from babel.dates import format_date

    return format_date(value, _DATE[_lang], locale=_LOCALES[_lang])


def month(value: dt.date) -> str:
    """`2026-12` (en) / `12/2026` (vi): a report's month."""
    from babel.dates import format_date

    return format_date(value, _MONTH[_lang], locale=_LOCALES[_lang])


def display(text: str) -> str:
    """A name as shown: NFC, so a decomposed `ồ` (o + two combining marks) is one letter wide and sorts."""
    import unicodedata

    return unicodedata.normalize("NFC", text)


__all__ = ["LANGUAGES", "N_", "_", "choose", "current", "date", "datetime", "display", "kept", "language", "load",
           "localise", "month", "ngettext", "normalise", "number", "percent", "pgettext", "prefer", "setup",
           "use_config_language"]
