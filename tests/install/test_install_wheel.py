"""The wheel, installed (not editable) into a fresh venv, carries its profiles and demo and runs.

The test builds from a copy of the sources (nothing is written into the checkout; pip fetches
setuptools for the build as any install does), installs the
wheel with --no-deps and lends the venv the running interpreter's dependencies through a .pth
file, so no download is needed. Every netmon command runs from a folder outside the checkout
with no PYTHONPATH, so only the installed package can answer.
"""

from __future__ import annotations

import os
import re
import shutil
import site
import sqlite3
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent.parent
SOURCES = ("netmon", "probes", "setup.py", "pyproject.toml", "README.md")
pytestmark = pytest.mark.slow


def _run(*cmd: str | Path, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([str(c) for c in cmd], cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, f"{cmd} exited {result.returncode}\n{result.stdout}\n{result.stderr}"
    return result


def _wheel(tmp: Path, env: dict[str, str], version: str | None = None) -> Path:
    """Build the wheel from a copy of the sources, optionally stamped with another version."""
    src = tmp / f"src-{version}"
    src.mkdir()
    for name in SOURCES:
        (shutil.copytree if (REPO / name).is_dir() else shutil.copy)(REPO / name, src / name)
    (src / "config").mkdir()
    for name in ("demo.yaml", "demo-lab.yaml", "lab.yaml"):
        shutil.copy(REPO / "config" / name, src / "config")
    shutil.copytree(REPO / "config" / "demo-probes", src / "config" / "demo-probes")
    if version:
        init = src / "netmon" / "__init__.py"
        init.write_text(re.sub(r'__version__ = "[^"]+"', f'__version__ = "{version}"', init.read_text()))
    out = tmp / f"dist-{version}"
    _run(sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", out, src, cwd=tmp, env=env)
    wheel = next(out.glob("netmon-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    shipped = {"netmon/data/probes/router.yaml", "netmon/data/demo/demo.yaml", "netmon/data/demo/demo-lab.yaml",
               "netmon/locale/vi/LC_MESSAGES/netmon.mo"}
    assert shipped <= set(names)
    return wheel


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> tuple[Path, dict[str, str], Path]:
    """(venv bin folder, a clean environment, a working folder outside the checkout)."""
    tmp = tmp_path_factory.mktemp("wheel")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "PIP_", "NETMON_"))}
    wheel = _wheel(tmp, env)
    _run(sys.executable, "-m", "venv", tmp / "venv", cwd=tmp, env=env)
    bin_dir = tmp / "venv" / "bin"
    _run(bin_dir / "python", "-m", "pip", "install", "-q", "--no-deps", "--no-index", wheel, cwd=tmp, env=env)
    purelib = Path(_run(bin_dir / "python", "-c", "import sysconfig; print(sysconfig.get_path('purelib'))",
                        cwd=tmp, env=env).stdout.strip())
    # The dependencies come from the interpreter running the tests; the venv's own netmon comes first.
    (purelib / "zz-test-deps.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    work = tmp / "elsewhere"
    work.mkdir()
    (work / "older.whl").symlink_to(_wheel(tmp, env, "0.0.1"))
    return bin_dir, env, work


def test_installed_package_lists_its_bundled_profiles(installed) -> None:
    """`netmon profiles` finds every shipped profile inside the installed package."""
    bin_dir, env, work = installed
    env = {**env, "NETMON_SYSTEM_PROFILES": str(work / "no-such-folder"), "NETMON_CONFIG": str(work / "none.yaml")}
    out = _run(bin_dir / "netmon", "profiles", cwd=work, env=env).stdout
    bundled = {line.split()[0]: Path(line.split()[2]) for line in out.splitlines()
               if " bundled " in line and not line.startswith(" ")}
    assert sorted(bundled) == sorted(p.stem for p in (REPO / "probes").glob("*.yaml"))
    venv = bin_dir.parent.resolve()
    for name, path in bundled.items():
        assert path.resolve().is_relative_to(venv), f"{name} comes from {path}, not the installed package"
        assert path.parent.name == "probes" and path.parent.parent.name == "data"
    version = _run(bin_dir / "netmon", "--version", cwd=work, env=env).stdout
    assert version.startswith("netmon ") and version.split()[1][0].isdigit()


def test_installed_demo_checks_and_runs_once_outside_the_checkout(installed) -> None:
    """The demo written from the package data loads and runs one round: every device has a result."""
    bin_dir, env, work = installed
    config = Path(_run(bin_dir / "netmon", "demo-config", "demo", cwd=work, env=env).stdout.strip())
    assert config == work / "demo" / "demo.yaml"
    check = _run(bin_dir / "netmon", "check", "-c", config, cwd=work, env=env)
    assert "demo-lai-chau" in check.stdout
    vietnamese = _run(bin_dir / "netmon", "--lang", "vi", "check", "-c", config, cwd=work, env=env)
    assert "cấu hình hợp lệ" in vietnamese.stdout  # the compiled catalog is in the installed package
    _run(bin_dir / "netmon", "run", "--once", "-c", config, cwd=work, env=env)
    status = _run(bin_dir / "netmon", "status", "--once", "--format", "json", "-c", config, cwd=work, env=env)
    assert "Tả Phìn" in status.stdout
    assert (work / "demo" / ".demo-state" / "netmon.db").is_file()


def test_upgrade_keeps_the_store(installed) -> None:
    """An older install's store survives `pip install -U` to this version, and rounds go on."""
    bin_dir, env, work = installed
    pip = (bin_dir / "python", "-m", "pip", "install", "-q", "--no-deps", "--no-index")
    _run(*pip, "--force-reinstall", (work / "older.whl").resolve(), cwd=work, env=env)
    assert _run(bin_dir / "netmon", "--version", cwd=work, env=env).stdout.split()[1] == "0.0.1"
    config = Path(_run(bin_dir / "netmon", "demo-config", "upgrade", cwd=work, env=env).stdout.strip())
    _run(bin_dir / "netmon", "run", "--once", "-c", config, cwd=work, env=env)
    db = config.parent / ".demo-state" / "netmon.db"
    with sqlite3.connect(db) as conn:
        before = conn.execute("SELECT seq, device_id, ts FROM results ORDER BY seq").fetchall()
    assert len(before) == 9
    wheel = next(p for p in (work.parent).glob("dist-None/netmon-*.whl"))
    _run(*pip, "-U", "--force-reinstall", wheel, cwd=work, env=env)
    assert _run(bin_dir / "netmon", "--version", cwd=work, env=env).stdout.split()[1] != "0.0.1"
    _run(bin_dir / "netmon", "run", "--once", "-c", config, cwd=work, env=env)
    with sqlite3.connect(db) as conn:
        after = conn.execute("SELECT seq, device_id, ts FROM results ORDER BY seq").fetchall()
    assert after[:9] == before and len(after) == 18
