"""The Vietnamese catalog: complete against freshly extracted messages, compiled, shipped, and chosen right."""

from __future__ import annotations

import datetime as dt
import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from babel.messages.pofile import read_po, write_po

from netmon import i18n

REPO = Path(__file__).resolve().parents[2]
CATALOG = REPO / "netmon" / "locale" / "vi" / "LC_MESSAGES" / "netmon.po"


def _tool():
    spec = importlib.util.spec_from_file_location("i18n_tool", REPO / "scripts" / "i18n.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(autouse=True)
def _english_after():
    yield
    i18n.setup("en")


def test_every_user_visible_message_has_a_vietnamese_translation_and_the_mo_is_current() -> None:
    tool = _tool()
    template = tool.extract()
    assert len(template) > 100  # the extraction really walked netmon/**.py
    assert tool.problems() == []


def test_the_check_finds_an_untranslated_a_fuzzy_and_a_stale_catalog(tmp_path: Path) -> None:
    tool = _tool()
    locale = tmp_path / "locale"
    shutil.copytree(CATALOG.parent.parent.parent, locale)
    po = locale / "vi" / "LC_MESSAGES" / "netmon.po"
    with po.open("rb") as fh:
        catalog = read_po(fh, locale="vi")
    catalog["run the monitoring daemon"].string = ""
    catalog["reports from the store"].flags.add("fuzzy")
    del catalog["only this commune (name or id)"]
    with po.open("wb") as fh:
        write_po(fh, catalog)
    found = "\n".join(tool.problems(locale))
    assert "not translated: 'run the monitoring daemon'" in found
    assert "fuzzy: 'reports from the store'" in found
    assert "not in the catalog: 'only this commune (name or id)'" in found
    assert "out of date with the .po" in found  # the shipped .mo still has the old texts


def test_the_compiled_catalog_is_package_data() -> None:
    setup_py = (REPO / "setup.py").read_text(encoding="utf-8")
    assert "locale/*/LC_MESSAGES/netmon.mo" in setup_py
    assert i18n.load("vi").gettext("run the monitoring daemon") == "chạy dịch vụ giám sát"


@pytest.mark.parametrize(("cli", "env", "config", "expected"), [
    ("vi", {"NETMON_LANG": "en", "LANG": "en_US.UTF-8"}, "en", ("vi", True)),
    (None, {"NETMON_LANG": "vi_VN"}, "en", ("vi", True)),
    (None, {"LANG": "vi_VN.UTF-8"}, "en", ("en", False)),     # the config beats the locale
    (None, {"LANG": "vi_VN.UTF-8"}, None, ("vi", False)),
    (None, {"LC_ALL": "C.UTF-8", "LANG": "vi_VN.UTF-8"}, None, ("en", False)),  # LC_ALL overrides LANG
    (None, {"LC_ALL": "vi_VN.UTF-8", "LANG": "C"}, None, ("vi", False)),
    (None, {}, None, ("en", False)),
])
def test_choice_of_language(cli, env, config, expected) -> None:
    assert i18n.choose(cli, env, config) == expected


def test_unknown_language_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown language 'fr'"):
        i18n.choose(None, {"NETMON_LANG": "fr"})


def test_numbers_and_times_follow_the_language() -> None:
    when = dt.datetime(2026, 12, 2, 14, 5, tzinfo=ZoneInfo("Asia/Ho_Chi_Minh"))
    i18n.setup("en")
    assert (i18n.percent(99.5), i18n.number(12345), i18n.number(0.25, 2), i18n.datetime(when)) == \
        ("99.5 %", "12,345", "0.25", "2026-12-02 14:05")
    assert i18n.localise("1,234.5") == "1,234.5"
    i18n.setup("vi")
    assert (i18n.percent(99.5), i18n.number(12345), i18n.number(0.25, 2), i18n.datetime(when)) == \
        ("99,5 %", "12.345", "0,25", "02/12/2026 14:05")
    assert i18n.percent(100.0) == "100 %" and i18n.date(when.date()) == "02/12/2026"
    assert i18n.month(when.date()) == "12/2026"
    assert i18n.localise("1,234.5 ms") == "1.234,5 ms"


def test_config_language_yields_to_an_explicit_choice() -> None:
    i18n.setup("en", explicit=False)
    i18n.use_config_language("vi")
    assert i18n.current() == "vi" and i18n._("reason") == "lý do"
    i18n.setup("en", explicit=True)
    i18n.use_config_language("vi")
    assert i18n.current() == "en" and i18n._("reason") == "reason"


def _netmon(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    base = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO), "NO_COLOR": "1", "COLUMNS": "120"}
    return subprocess.run([sys.executable, "-m", "netmon", *args], capture_output=True, text=True,
                          env={**base, **(env or {})}, timeout=60, check=False)


def test_check_and_help_in_vietnamese_from_option_environment_and_config(tmp_path: Path) -> None:
    demo = str(REPO / "config" / "demo.yaml")
    english = _netmon("check", "-c", demo)
    assert english.returncode == 0 and "configuration OK" in english.stdout
    for out in (_netmon("--lang", "vi", "check", "-c", demo), _netmon("check", "--lang", "vi", "-c", demo),
                _netmon("check", "-c", demo, env={"NETMON_LANG": "vi"}),
                _netmon("check", "-c", demo, env={"LANG": "vi_VN.UTF-8"})):
        assert out.returncode == 0, out.stderr
        assert "cấu hình hợp lệ" in out.stdout and "thiết bị: 9 tại 1 tỉnh, 2 xã, 4 thôn" in out.stdout
        assert "configuration OK" not in out.stdout
    text = (REPO / "config" / "demo.yaml").read_text(encoding="utf-8")
    assert "\nagent:" in text
    config = tmp_path / "demo.yaml"
    shutil.copytree(REPO / "config" / "demo-probes", tmp_path / "demo-probes")
    config.write_text(text.replace("\nagent:\n", "\nagent:\n  language: vi\n", 1), encoding="utf-8")
    assert "cấu hình hợp lệ" in _netmon("check", "-c", str(config)).stdout
    assert "configuration OK" in _netmon("--lang", "en", "check", "-c", str(config)).stdout
    helped = _netmon("--lang", "vi", "--help")
    assert "kiểm tra cấu hình và tóm tắt danh mục thiết bị" in helped.stdout
    bad = _netmon("--lang", "fr", "check", "-c", demo)
    assert bad.returncode == 2 and "invalid choice: 'fr'" in bad.stderr
    odd = _netmon("check", "-c", demo, env={"NETMON_LANG": "fr"})
    assert odd.returncode == 0 and "unknown language 'fr'" in odd.stderr and "configuration OK" in odd.stdout


def test_example_config_sets_vietnamese_and_the_setting_is_checked() -> None:
    import yaml
    from pydantic import ValidationError

    from netmon.config.schema import AgentSettings

    example = yaml.safe_load((REPO / "config" / "netmon.example.yaml").read_text(encoding="utf-8"))
    assert AgentSettings(**example["agent"]).language == "vi"
    assert AgentSettings().language is None
    with pytest.raises(ValidationError):
        AgentSettings(language="fr")
