"""`netmon deadletters`, `netmon lab`, `netmon demo` and `netmon maintenance` speak Vietnamese when asked."""

from __future__ import annotations

import io
from pathlib import Path
from types import SimpleNamespace

import pytest
from rich.console import Console

from netmon import i18n
from netmon.config import load_config
from netmon.lab import builder, demo
from netmon.lab import cli as lab_cli
from netmon.notify import cli as notify_cli
from netmon.sinks import deadletters
from netmon.sinks.letters_cmd import run_deadletters
from netmon.store import Store

REPO = Path(__file__).resolve().parents[2]
AMBIGUOUS = REPO / "tests" / "lab" / "testdata" / "invalid" / "ambiguous-village.yaml"


@pytest.fixture(autouse=True)
def _english_after():
    yield
    i18n.setup("en")


def _letters(tmp_path: Path) -> SimpleNamespace:
    """A config stand-in whose store holds one data refusal and one transient refusal."""
    store = Store.open(tmp_path / "state")
    deadletters.ensure_schema(store)
    deadletters.add(store, "main", 1, "m v=1i 1", 400, "partial write: field type conflict: x")
    deadletters.add(store, "main", 2, "m v=2i 2", 503, "service unavailable", first_replay_s=630)  # shown as 10 min
    store.conn.commit()
    store.close()
    agent = SimpleNamespace(name="a1", language=None)
    settings = SimpleNamespace(agent=agent, outputs=SimpleNamespace(influxdb=[]))
    return SimpleNamespace(state_dir=tmp_path / "state", settings=settings, all_devices=(), device_by_id={})


def _run_letters(config: SimpleNamespace, lang: str, **options) -> tuple[int, str]:
    i18n.setup(lang)
    args = SimpleNamespace(action="list", id=None, output=None, all=False, limit=50, format="table")
    for key, value in options.items():
        setattr(args, key, value)
    out = io.StringIO()
    code = run_deadletters(config, args, Console(file=out, width=100, no_color=True, highlight=False))
    return code, out.getvalue()


def test_deadletters_list_and_replay_in_vietnamese(tmp_path: Path) -> None:
    config = _letters(tmp_path)
    code, english = _run_letters(config, "en")
    assert code == 0 and "2 letter(s)" in english and "set aside" in english and "retry in 10 min" in english
    code, text = _run_letters(config, "vi")
    assert code == 0
    assert "#1  main  dữ liệu" in text and "#2  main  tạm thời (thử lại sau 10 phút)" in text
    assert "để riêng 0 giây trước  số lần thử 0  kết quả #1" in text
    assert "2 mục; `netmon deadletters replay` gửi lại các mục bị từ chối tạm thời" in text
    assert "letter(s)" not in text and "set aside" not in text and "tries" not in text
    code, none = _run_letters(config, "vi", output="other")
    assert code == 0 and "không có mục bị từ chối nào đang chờ (--all hiện cả các mục đã gửi lại)" in none
    code, replay = _run_letters(config, "vi", action="replay", output=None, id=["7"])
    assert code == 0 and replay.strip() == "không có gì để gửi lại"
    with pytest.raises(SystemExit, match="--id nhận số thứ tự của mục, không phải 'x'"):
        _run_letters(config, "vi", id=["x"])


def test_lab_scenario_problems_and_status_in_vietnamese(monkeypatch: pytest.MonkeyPatch,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    # Root or not, the scenario is read before anything is built: a bad one builds nothing.
    monkeypatch.setattr(builder, "require_root", lambda: None)
    i18n.setup("en")
    assert lab_cli.lab_main(["up", str(AMBIGUOUS), "--name", "i18nt"]) == 2
    english = capsys.readouterr().err
    assert "trouble[0].village: village 'Bản Mới' exists in several communes (Sìn Hồ, Tam Đường); add commune:" \
        in english
    assert "netmon lab: 1 problem(s) in the scenario; nothing was built." in english
    i18n.setup("vi")
    assert lab_cli.lab_main(["up", str(AMBIGUOUS), "--name", "i18nt"]) == 2
    err = capsys.readouterr().err
    assert "ambiguous-village.yaml:12: trouble[0].village: thôn 'Bản Mới' có ở nhiều xã (Sìn Hồ, Tam Đường); " \
           "hãy thêm commune:" in err
    assert "netmon lab: kịch bản có 1 lỗi; chưa dựng gì cả." in err
    lab_cli._print_status({"name": "i18nt", "phase": "down", "namespaces": [], "supervisor": False})
    shown = capsys.readouterr().out
    assert "giai đoạn: đã gỡ" in shown and "điều phối sự cố: không" in shown and "namespace: -" in shown


def test_demo_without_namespaces_explains_in_vietnamese(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    i18n.setup("vi")
    assert demo._offer_loopback("hệ thống không cho phép") == 1  # stdin is not a terminal: no question asked
    out = capsys.readouterr().out
    assert out.startswith("netmon demo dựng một tỉnh ảo trong các network namespace, nhưng ở đây thì không được: "
                          "hệ thống không cho phép.")
    assert f"netmon run -c {tmp_path / 'netmon-demo' / 'demo.yaml'}" in out
    assert "(trong một cửa sổ dòng lệnh thứ hai)" in out


def test_maintenance_import_problems_in_vietnamese(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = load_config(REPO / "config" / "demo.yaml", environ={})
    sheet = tmp_path / "cuts.csv"
    sheet.write_text("xã,bắt đầu,kết thúc,lý do\nNơi Nào Đó,2026-12-05 07:00,2026-12-05 11:00,EVN\n"
                     f"{config.all_devices[0].commune},2026-12-05 11:00,2026-12-05 07:00,EVN\nchỉ một ô\n",
                     encoding="utf-8")
    i18n.setup("vi")
    assert notify_cli.cmd_import(config, str(sheet), None) == 2
    out = capsys.readouterr().out
    assert f"{sheet}:2: 'Nơi Nào Đó' không phải thiết bị, thôn, xã hay tỉnh nào trong cấu hình này" in out
    assert f"{sheet}:3: thời điểm kết thúc không sau thời điểm bắt đầu (giờ viết như 2026-12-05 07:00" in out
    assert f"{sheet}:4: cần xã,bắt đầu,kết thúc[,lý do]" in out
    assert out.rstrip().endswith("netmon: có 3 lỗi; chưa nhập gì cả")


def test_argparse_words_follow_the_language() -> None:
    import subprocess
    import sys

    def netmon(*args: str) -> subprocess.CompletedProcess[str]:
        env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO), "NO_COLOR": "1", "COLUMNS": "100"}
        return subprocess.run([sys.executable, "-m", "netmon", *args], capture_output=True, text=True, env=env,
                              timeout=60, check=False)

    english, vietnamese = netmon("mute"), netmon("--lang", "vi", "mute")
    assert english.returncode == vietnamese.returncode == 2
    assert "usage: netmon mute" in english.stderr
    assert "error: the following arguments are required: TARGET, DURATION" in english.stderr
    assert "cách dùng: netmon mute" in vietnamese.stderr
    assert "netmon mute: lỗi: thiếu các tham số bắt buộc: TARGET, DURATION" in vietnamese.stderr
    helped = netmon("--lang", "vi", "--help").stdout
    assert "tham số vị trí" in helped and "hiện trợ giúp này rồi thoát" in helped and "usage" not in helped
