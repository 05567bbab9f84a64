"""Office hours as structured YAML: Saturday mornings, public holidays, refused reversed/overlapping spans."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from netmon.config import ConfigError, load_config
from netmon.config.officehours import OfficeHours

TZ = "Asia/Ho_Chi_Minh"


def ts(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=ZoneInfo(TZ)).timestamp()


SPANS = [{"days": "Mon-Fri", "from": "07:30", "to": "11:30"}, {"days": "Mon-Fri", "from": "13:30", "to": "17:00"},
         {"days": "Sat", "from": "07:30", "to": "11:30"}]


def test_structured_spans_saturday_morning_and_holidays() -> None:
    office = OfficeHours(SPANS, TZ, ["2026-09-02"])
    assert office.contains(ts("2026-12-05T08:00"))  # Saturday morning
    assert not office.contains(ts("2026-12-05T14:00"))  # Saturday afternoon
    assert not office.contains(ts("2026-12-06T08:00"))  # Sunday
    assert office.contains(ts("2026-12-02T16:59")) and not office.contains(ts("2026-12-02T12:00"))
    assert not office.contains(ts("2026-09-02T08:00"))  # National Day, a Wednesday
    assert office.contains(ts("2026-09-03T08:00"))


def test_old_string_form_still_accepted_and_equal() -> None:
    old = OfficeHours("Mon-Fri 07:30-11:30,13:30-17:00", TZ)
    new = OfficeHours(SPANS[:2], TZ)
    for hour in range(0, 24 * 7):
        t = ts("2026-11-30T00:15") + hour * 3600
        assert old.contains(t) == new.contains(t)


@pytest.mark.parametrize(("spec", "fix"), [
    ("Mon-Fri 17:00-07:30", "write 17:00-24:00 and 00:00-07:30 as two spans"),
    ([{"days": "Mon-Fri", "from": "17:00", "to": "07:30"}], "write 17:00-24:00 and 00:00-07:30 as two spans"),
    ([{"days": "Mon-Fri", "from": "07:30", "to": "11:30"}, {"days": "Fri-Sat", "from": "11:00", "to": "12:00"}],
     "overlap on Fri; merge them into 07:30-12:00"),
])
def test_reversed_or_overlapping_spans_are_refused_with_a_fix(spec: object, fix: str) -> None:
    with pytest.raises(ValueError, match=fix):
        OfficeHours(spec, TZ)


def _config(tmp_path: Path, agent: str) -> Path:
    path = tmp_path / "netmon.yaml"
    path.write_text(f"version: 1\nagent:\n  state_dir: {tmp_path}\n{agent}inventory: []\n")
    return path


def test_config_accepts_structured_hours_and_holidays(tmp_path: Path) -> None:
    config = load_config(_config(tmp_path, "  office_hours:\n    - {days: Mon-Fri, from: '07:30', to: '11:30'}\n"
                                           "    - {days: Sat, from: '07:30', to: '11:30'}\n"
                                           "  public_holidays: [2026-02-17, 2026-09-02]\n"))
    agent = config.settings.agent
    office = OfficeHours(agent.office_hours, agent.timezone, agent.public_holidays)
    assert office.contains(ts("2026-12-05T09:00")) and not office.contains(ts("2026-02-17T09:00"))


def test_config_refuses_reversed_span_with_line_and_fix(tmp_path: Path) -> None:
    path = _config(tmp_path, "  office_hours:\n    - {days: Mon-Fri, from: '17:00', to: '07:30'}\n")
    with pytest.raises(ConfigError) as err:
        load_config(path)
    text = str(err.value)
    # The span's own line and index; not also "expected text" from the one-line form of the union.
    assert "netmon.yaml:5: agent.office_hours[0]: span 17:00-07:30" in text and "00:00-07:30 as two spans" in text, text
    assert len(err.value.issues) == 1, text
