"""Five-field cron (`minute hour day-of-month month day-of-week`) turned into an RFC 5545 RRULE.

Maintenance windows recur by RRULE; cron is accepted because it is what many admins already
write. Supported: `*`, numbers, lists `1,15`, ranges `1-5`, steps `*/15` and `10-50/10`; day-of-week
0-7 (0 and 7 are Sunday). Cron ORs day-of-month and day-of-week when both are restricted, which
RRULE cannot say in one rule; that combination is refused with the fix.
"""

from __future__ import annotations

from netmon.i18n import _

_FIELDS = (("minute", 0, 59, "BYMINUTE"), ("hour", 0, 23, "BYHOUR"), ("day-of-month", 1, 31, "BYMONTHDAY"),
           ("month", 1, 12, "BYMONTH"), ("day-of-week", 0, 7, "BYDAY"))
_DAYS = ("SU", "MO", "TU", "WE", "TH", "FR", "SA", "SU")


def _values(text: str, name: str, lo: int, hi: int) -> list[int] | None:
    """The listed values of one field, or None for `*`."""
    if text == "*":
        return None
    out: set[int] = set()
    for part in text.split(","):
        rng, _sep, step_text = part.partition("/")
        step = int(step_text) if step_text.isdigit() and int(step_text) > 0 else None
        if step_text and step is None:
            raise ValueError(_("cron {field}: bad step in {part}").format(field=name, part=repr(part)))
        if rng == "*":
            a, b = lo, hi
        elif "-" in rng:
            a_text, _sep, b_text = rng.partition("-")
            if not (a_text.isdigit() and b_text.isdigit()):
                raise ValueError(_("cron {field}: {part} is not a range like 1-5").format(field=name, part=repr(part)))
            a, b = int(a_text), int(b_text)
        elif rng.isdigit():
            a = b = int(rng)
        else:
            raise ValueError(_("cron {field}: {part} is not a number, range or */step (names like MON are not read)")
                             .format(field=name, part=repr(part)))
        if not (lo <= a <= b <= hi):
            raise ValueError(_("cron {field}: {part} is outside {lo}-{hi}").format(field=name, part=repr(part), lo=lo,
                                                                                   hi=hi))
        out.update(range(a, b + 1, step or 1))
    return sorted(out)


def cron_to_rrule(expr: str) -> str:
    """`30 22 * * 6` -> `FREQ=DAILY;BYDAY=SA;BYHOUR=22;BYMINUTE=30;BYSECOND=0`."""
    parts = expr.split()
    if len(parts) != 5:
        raise ValueError(_("{expr} is not a cron expression; write five fields, e.g. '30 22 * * 6'").format(
            expr=repr(expr)))
    values = {key: _values(text, name, lo, hi) for text, (name, lo, hi, key) in zip(parts, _FIELDS, strict=True)}
    if values["BYMONTHDAY"] is not None and values["BYDAY"] is not None:
        raise ValueError(_("cron restricts both day-of-month and day-of-week (cron ORs them); write two windows"))
    rule = ["FREQ=MINUTELY" if values["BYMINUTE"] is None else
            "FREQ=HOURLY" if values["BYHOUR"] is None else "FREQ=DAILY"]
    for key in ("BYMONTH", "BYMONTHDAY", "BYDAY", "BYHOUR", "BYMINUTE"):
        v = values[key]
        if v is not None:
            text = ",".join(dict.fromkeys(_DAYS[d] for d in v)) if key == "BYDAY" else ",".join(map(str, v))
            rule.append(f"{key}={text}")
    return ";".join([*rule, "BYSECOND=0"])
