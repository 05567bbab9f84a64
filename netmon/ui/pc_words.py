"""PC aging reasons (netmon/analysis/aging.py writes them in English) in the language in use.

The reasons are stored and exported as written; the table and Markdown of `netmon report pcs`
show them through `reason_words` / `unknown_words`, which know the shapes aging.py writes and
leave anything else as it is.
"""

from __future__ import annotations

import datetime as dt
import re

from netmon.i18n import N_, _, date, localise

_DISK = re.compile(r"disk (.+?) (\d+)% full")
_REASONS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"end-of-life OS: (?P<label>.+), support ended (?P<date>\d{4}-\d\d-\d\d)"),
     N_("end-of-life OS: {label}, support ended {date}")),
    (re.compile(r"end-of-life OS: (?P<label>.+), support ends (?P<date>\d{4}-\d\d-\d\d)"),
     N_("end-of-life OS: {label}, support ends {date}")),
    (re.compile(r"end-of-life OS: (?P<label>.+)"), N_("end-of-life OS: {label}")),
    (re.compile(r"end-of-life OS \((?P<label>.*)\)"), N_("end-of-life OS ({label})")),
    (re.compile(r"RAM (?P<size>.+?) \((?P<usable>[\d,]+) MB usable\), below (?P<min>.+)"),
     N_("RAM {size} ({usable} MB usable), below {min}")),
    (re.compile(r"RAM (?P<size>.+?), below (?P<min>.+)"), N_("RAM {size}, below {min}")),
    (re.compile(r"CPU (?P<pct>\d+)% busy on average in office hours"),
     N_("CPU {pct}% busy on average in office hours")),
    (re.compile(r"(?P<n>\d+) unexpected restarts in the last 7 days \(crashes or power cuts; (?P<boots>\d+) boots "
                r"in all, switching off for the night not counted\)"),
     N_("{n} unexpected restarts in the last 7 days (crashes or power cuts; {boots} boots in all, switching off "
        "for the night not counted)")),
    (re.compile(r"reachable (?P<pct>\d+)% of office hours"), N_("reachable {pct}% of office hours")),
    (re.compile(r"(?P<disks>disk .+% full) \(limit (?P<limit>\d+)%\)"), N_("{disks} (limit {limit}%)")),
)
_UNKNOWN = {"OS (no sysDescr)": N_("OS (no sysDescr)"),
            "disks (no fixed disk in hrStorageTable)": N_("disks (no fixed disk in hrStorageTable)"),
            "RAM (no hrMemorySize)": N_("RAM (no hrMemorySize)"),
            "CPU (no answer in office hours)": N_("CPU (no answer in office hours)"),
            "restarts (no uptime)": N_("restarts (no uptime)"),
            "reachability (no ping in office hours)": N_("reachability (no ping in office hours)"),
            "not polled yet": N_("not polled yet")}
_NO_ANSWER = re.compile(r"no SNMP answer yet \((?P<n>\d+) polls: (?P<reason>.*)\)")


def _sizes(text: str) -> str:
    """`1.5 GB`, `4,900 MB` with this language's separators."""
    return re.sub(r"[\d.,]+(?= [MG]B)", lambda m: localise(m.group(0)), text)


def reason_words(reason: str) -> str:
    """One aging reason in the language in use."""
    for pattern, template in _REASONS:
        match = pattern.fullmatch(reason)
        if match:
            values = match.groupdict()
            for key in ("size", "min"):
                if key in values:
                    values[key] = _sizes(values[key])
            if "usable" in values:
                values["usable"] = localise(values["usable"])
            if "date" in values:
                values["date"] = date(dt.date.fromisoformat(values["date"]))
            if "disks" in values:
                values["disks"] = _DISK.sub(lambda m: _("disk {name} {pct}% full").format(
                    name=m.group(1), pct=m.group(2)), values["disks"])
            return _(template).format(**values)
    return reason


def unknown_words(item: str) -> str:
    """One 'not assessed' item (or why a PC is not scored yet) in the language in use."""
    if item in _UNKNOWN:
        return _(_UNKNOWN[item])
    match = _NO_ANSWER.fullmatch(item)
    if match:
        return _("no SNMP answer yet ({n} polls: {reason})").format(**match.groupdict())
    return item
