"""Config errors in Vietnamese: each one translated, still naming file, line and field; English as before.

The English texts below are what netmon printed before the messages went through the catalog
(taken from main at the time), so a change to them is a change to what technicians read.
"""

from __future__ import annotations

import re
import string
import subprocess
import sys
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from netmon import i18n
from netmon.config import ConfigError, load_config

REPO = Path(__file__).resolve().parents[2]
CATALOG = REPO / "netmon" / "locale" / "vi" / "LC_MESSAGES" / "netmon.po"

PROFILE = "kind: box\nchecks:\n  - {name: reachability, prober: icmp, interval: 60s}\n"
# A missing field, a wrong type, an unknown key with a did-you-mean and a bad office-hours span.
BROKEN = """version: 1
agent:
  name: a1
  office_hours: "Mon-Fri 11:30-07:30"
scheduler:
  concurrency: many
  max_ppz: 10
profiles: [probes]
inventory:
  - name: Lai Châu
    communes:
      - name: Tả Phìn
        devices:
          - {name: r1, kind: box, host: 10.0.0.1}
          - {kind: box, host: 10.0.0.3}
"""
# A device whose parent is in a commune placed on another agent.
SPLIT = """version: 1
agent:
  name: a1
  shard: {agents: [a1, a2]}
profiles: [probes]
inventory:
  - name: Lai Châu
    communes:
      - name: Tả Phìn
        agent: a1
        devices:
          - {name: r1, kind: box, host: 10.0.0.1}
      - name: Bản Lang
        agent: a2
        devices:
          - {name: cpe, kind: box, host: 10.0.0.2, parent: lai-chau/ta-phin/r1}
"""
ENGLISH_BROKEN = [
    "netmon.yaml:4: agent.office_hours: span 11:30-07:30 ends before it starts; a span cannot cross midnight: "
    "write 11:30-24:00 and 00:00-07:30 as two spans, or swap the times (e.g. 'Mon-Fri 07:30-11:30,13:30-17:00')",
    "netmon.yaml:6: scheduler.concurrency: 'many' is not a whole number; write digits only",
    "netmon.yaml:7: scheduler: unknown key 'max_ppz'; did you mean 'max_pps'?",
    "netmon.yaml:15: inventory[0].communes[0].devices[1]: required key 'name' is missing; add name: ...",
]
ENGLISH_SPLIT = [
    "netmon.yaml:16: inventory[0].communes[1].devices[0].parent: parent 'lai-chau/ta-phin/r1' is in commune "
    "'lai-chau/ta-phin' on agent 'a1', but this device's commune 'lai-chau/ban-lang' is on agent 'a2'; a commune "
    "and the parents its devices name must be on one agent: write agent: a1 on commune 'Bản Lang' (or remove the "
    "agent: of one of them), or name a parent in 'Bản Lang'",
]


@pytest.fixture(autouse=True)
def _english_after():
    yield
    i18n.setup("en")


def _write(tmp_path: Path, text: str) -> Path:
    (tmp_path / "probes").mkdir(exist_ok=True)
    (tmp_path / "probes" / "box.yaml").write_text(PROFILE, encoding="utf-8")
    path = tmp_path / "netmon.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def _problems(path: Path, lang: str) -> list[str]:
    i18n.setup(lang)
    with pytest.raises(ConfigError) as err:
        load_config(path, environ={})
    assert err.value.language == lang
    # file:line: field: message, with the file as the loader names it (relative or absolute)
    return [re.sub(r"^\S*netmon\.yaml", "netmon.yaml", str(issue)) for issue in err.value.issues]


def test_english_config_errors_are_unchanged(tmp_path: Path) -> None:
    assert _problems(_write(tmp_path, BROKEN), "en") == ENGLISH_BROKEN
    assert _problems(_write(tmp_path, SPLIT), "en") == ENGLISH_SPLIT


def test_each_config_error_in_vietnamese_keeps_file_line_and_field(tmp_path: Path) -> None:
    found = _problems(_write(tmp_path, BROKEN), "vi")
    assert found == [
        "netmon.yaml:4: agent.office_hours: khoảng 11:30-07:30 kết thúc trước khi bắt đầu; một khoảng không được "
        "vắt qua nửa đêm: hãy viết thành hai khoảng 11:30-24:00 và 00:00-07:30, hoặc đổi chỗ hai mốc giờ "
        "(ví dụ 'Mon-Fri 07:30-11:30,13:30-17:00')",
        "netmon.yaml:6: scheduler.concurrency: 'many' không phải số nguyên; chỉ viết chữ số",
        "netmon.yaml:7: scheduler: khóa 'max_ppz' không hợp lệ; có phải ý bạn là 'max_pps'?",
        "netmon.yaml:15: inventory[0].communes[0].devices[1]: thiếu khóa bắt buộc 'name'; hãy thêm name: ...",
    ]
    split = _problems(_write(tmp_path, SPLIT), "vi")
    assert len(split) == 1
    assert split[0].startswith("netmon.yaml:16: inventory[0].communes[1].devices[0].parent: thiết bị cha "
                               "'lai-chau/ta-phin/r1' thuộc xã 'lai-chau/ta-phin' trên tác tử 'a1', nhưng xã "
                               "'lai-chau/ban-lang' của thiết bị này lại trên tác tử 'a2'")
    assert "hãy viết agent: a1 cho xã 'Bản Lang'" in split[0]


def test_office_hours_as_spans_name_the_span_in_both_languages(tmp_path: Path) -> None:
    spans = BROKEN.replace('  office_hours: "Mon-Fri 11:30-07:30"\n',
                           "  office_hours:\n    - {days: Mon-Fri, from: '07:30', to: '11:30'}\n"
                           "    - {days: Mon-Fri, from: '17:00', to: '13:30'}\n")
    path = _write(tmp_path, spans)
    english, vietnamese = _problems(path, "en"), _problems(path, "vi")
    assert english[0].startswith("netmon.yaml:6: agent.office_hours[1]: span 17:00-13:30 ends before it starts")
    assert vietnamese[0].startswith("netmon.yaml:6: agent.office_hours[1]: khoảng 17:00-13:30 kết thúc trước khi "
                                    "bắt đầu")
    assert not any("office_hours" in p for p in english[1:])  # not also "expected text" for the one-line form


@pytest.mark.parametrize(("yaml_text", "english", "vietnamese"), [
    ("version: 1\nscheduler: {concurrency: 0}\n", "scheduler.concurrency: 0 is too small; use 1 or more",
     "scheduler.concurrency: 0 quá nhỏ; hãy dùng 1 trở lên"),
    ("version: 1\nagent: {language: fr}\n", "agent.language: 'fr' is not allowed here; use one of: vi, en",
     "agent.language: 'fr' không được phép ở đây; hãy dùng một trong: vi, en"),
    ("version: 1\nscheduler: {max_pps: [1]}\n", "scheduler.max_pps: a list is not a number; write e.g. 22.36",
     "scheduler.max_pps: một danh sách không phải là số; hãy viết ví dụ 22.36"),
    ("version: 1\nagent: {timezone: Mars/Base}\n", "agent.timezone: 'Mars/Base' is not a known timezone",
     "agent.timezone: 'Mars/Base' không phải múi giờ hợp lệ"),
    ("version: 1\nagent: {name: a, name: b}\n", "key 'name' appears twice in this mapping (first on line 2)",
     "khóa 'name' xuất hiện hai lần trong ánh xạ này (lần đầu ở dòng 2)"),
    # a check netmon does not explain itself: pydantic's English kept as the detail
    ("version: 1\nagent: {public_holidays: [2026-01-01T10:30:00]}\n",
     "agent.public_holidays[0]: Datetimes provided to dates should have zero time",
     "agent.public_holidays[0]: 2026-01-01 10:30:00 không được chấp nhận ở đây (pydantic: Datetimes provided"),
])
def test_pydantic_error_types_and_loader_messages_are_explained_in_the_language(
        tmp_path: Path, yaml_text: str, english: str, vietnamese: str) -> None:
    path = _write(tmp_path, yaml_text)
    assert any(english in p for p in _problems(path, "en")), _problems(path, "en")
    assert any(vietnamese in p for p in _problems(path, "vi")), _problems(path, "vi")


def _netmon(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    base = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO), "NO_COLOR": "1", "COLUMNS": "200"}
    return subprocess.run([sys.executable, "-m", "netmon", *args], capture_output=True, text=True,
                          env={**base, **(env or {})}, timeout=60, check=False)


def test_a_config_that_asks_for_vietnamese_gets_its_errors_in_vietnamese(tmp_path: Path) -> None:
    path = _write(tmp_path, BROKEN.replace("  name: a1\n", "  name: a1\n  language: vi\n", 1))
    out = _netmon("check", "-c", str(path))
    assert out.returncode == 2
    assert "netmon.yaml:7: scheduler.concurrency: 'many' không phải số nguyên" in out.stderr
    assert "netmon: cấu hình có 4 lỗi; chưa khởi động gì cả." in out.stderr
    assert "not a whole number" not in out.stderr
    english = _netmon("--lang", "en", "check", "-c", str(path))  # the command line wins over the config
    assert english.returncode == 2 and "'many' is not a whole number" in english.stderr
    assert "netmon: 4 problems in the configuration; nothing was started." in english.stderr
    assert i18n.current() == "en"  # loading in a test process never changed its language


def test_loading_a_vietnamese_config_does_not_change_the_callers_language(tmp_path: Path) -> None:
    path = _write(tmp_path, SPLIT.replace("  name: a1\n", "  name: a1\n  language: vi\n", 1))
    i18n.setup("en", explicit=False)
    with pytest.raises(ConfigError) as err:
        load_config(path, environ={})
    assert "thiết bị cha" in str(err.value) and err.value.language == "vi"
    assert i18n.current() == "en" and i18n._("reason") == "reason"


def test_a_config_speaking_vietnamese_in_one_thread_leaves_the_others_alone(tmp_path: Path) -> None:
    import threading

    path = _write(tmp_path, SPLIT.replace("  name: a1\n", "  name: a1\n  language: vi\n", 1))
    i18n.setup("en", explicit=False)
    inside, go_on, seen = threading.Event(), threading.Event(), {}

    def load_and_wait() -> None:
        with i18n.kept():
            i18n.prefer("vi")  # what the loader does on reading `agent.language: vi`
            seen["loader"] = i18n._("reason")
            inside.set()
            go_on.wait(10)
        seen["after"] = i18n._("reason")

    worker = threading.Thread(target=load_and_wait)
    worker.start()
    assert inside.wait(10)
    seen["other"] = i18n._("reason")  # while the worker speaks Vietnamese
    go_on.set()
    worker.join(10)
    assert seen == {"loader": "lý do", "other": "reason", "after": "reason"}
    with pytest.raises(ConfigError) as err:
        load_config(path, environ={})
    assert err.value.language == "vi" and i18n.current() == "en"


def _fields(text: str) -> set[str] | None:
    try:
        return {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}
    except ValueError:
        return None  # not a format string (e.g. a literal "{"): nothing to keep in step


def test_config_messages_use_named_placeholders_and_translations_keep_them() -> None:
    with CATALOG.open("rb") as fh:
        catalog = read_po(fh, locale="vi")
    checked = 0
    for message in catalog:
        if not message.id or not isinstance(message.id, str):
            continue
        mine = any(f.startswith(("netmon/config/", "netmon/lab/", "netmon/sinks/letters_cmd")) for f, _ in
                   message.locations)
        if mine:  # a translator can reorder only named placeholders
            assert not re.search(r"(?<!\{)\{\d*\}(?!\})|%[sd]", message.id), message.id
        fields = _fields(message.id)
        if fields is not None:
            translated = _fields(message.string)
            # An unknown name would raise at .format(); a config error must keep every value it names
            # (a sheet message may drop the English column name, which the Vietnamese one replaces).
            assert translated is not None and translated <= fields, (message.id, message.string)
            assert translated == fields or not mine, (message.id, message.string)
            checked += 1
    assert checked > 300
