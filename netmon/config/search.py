"""Where profiles and the bundled demo are found, whether netmon runs from a wheel or a checkout.

Profiles are searched, first match by name wins:

    1. the config's `profiles:` folders (in the order written)
    2. the system folder, /etc/netmon/probes ($NETMON_SYSTEM_PROFILES overrides it), so an
       administrator's own router.yaml replaces the shipped one without touching the install
    3. the profiles shipped with netmon

An installed wheel carries `probes/` and the demo as package data (`netmon/data/`, mapped by
setup.py); a source checkout or an editable install has them at the top of the repository.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import netmon

SYSTEM_PROFILES = Path("/etc/netmon/probes")
SYSTEM_PROFILES_ENV = "NETMON_SYSTEM_PROFILES"
_CHECKOUT = Path(netmon.__file__).resolve().parent.parent


def _packaged(*parts: str) -> Path | None:
    """A folder inside the installed package, or None when netmon runs from a checkout."""
    folder = resources.files("netmon").joinpath("data", *parts)
    # Wheels are installed unpacked, so the package data is a real folder (never a zip member).
    return Path(str(folder)) if folder.is_dir() else None


def bundled_profiles() -> Path:
    """The folder of profiles shipped with netmon."""
    return _packaged("probes") or _CHECKOUT / "probes"


def bundled_demo() -> Path:
    """The loopback demo: a folder holding demo.yaml and its demo-probes/."""
    return _packaged("demo") or _CHECKOUT / "config"


def system_profiles(environ: Mapping[str, str] | None = None) -> Path:
    """The administrator's profile folder (/etc/netmon/probes unless $NETMON_SYSTEM_PROFILES)."""
    env = os.environ if environ is None else environ
    value = env.get(SYSTEM_PROFILES_ENV)
    return Path(value) if value else SYSTEM_PROFILES


def default_profile_dirs(environ: Mapping[str, str] | None = None) -> list[tuple[str, Path]]:
    """The folders searched after the config's own, each with the name `netmon profiles` shows."""
    return [("system", system_profiles(environ)), ("bundled", bundled_profiles())]


@dataclass(frozen=True)
class ProfileFile:
    """One profile file on the search path, and whether another file of that name shadows it."""

    name: str
    source: str
    """`config` (a folder in the config's `profiles:`), `system` or `bundled`."""
    path: Path
    shadowed_by: Path | None = None


def config_profile_dirs(config: Path, environ: Mapping[str, str] | None = None) -> list[Path]:
    """The `profiles:` folders a config names (relative to its folder), read without validating the rest."""
    from netmon.config.includes import Loader

    root = Loader(os.environ if environ is None else environ).load(config)
    listed = root.get("profiles") if isinstance(root, dict) else None
    folders = [p for p in listed if isinstance(p, str)] if isinstance(listed, list) else []
    return [Path(f) if Path(f).is_absolute() else config.resolve().parent / f for f in folders]


def find_profiles(config_dirs: list[Path], environ: Mapping[str, str] | None = None) -> list[ProfileFile]:
    """Every profile file along the search path, in search order; the first of each name is used."""
    dirs = [("config", d) for d in config_dirs] + default_profile_dirs(environ)
    winners: dict[str, Path] = {}
    out = []
    for source, folder in dirs:
        if not folder.is_dir():
            continue
        for file in sorted([*folder.glob("*.yaml"), *folder.glob("*.yml")]):
            winner = winners.setdefault(file.stem, file)
            out.append(ProfileFile(file.stem, source, file, None if winner == file else winner))
    return out


def write_demo(dest: Path) -> tuple[Path, bool]:
    """Copy the bundled loopback demo into `dest`; return its config path and whether it was written.

    The demo keeps its state next to its config, so it runs from a folder the user owns, never
    from inside the installed package. A demo.yaml the user has edited is kept as it is.
    """
    source = bundled_demo()
    config = dest / "demo.yaml"
    shipped = (source / "demo.yaml").read_bytes()
    if config.exists() and config.read_bytes() != shipped:
        return config, False
    (dest / "demo-probes").mkdir(parents=True, exist_ok=True)
    for profile in sorted((source / "demo-probes").glob("*.yaml")):
        (dest / "demo-probes" / profile.name).write_bytes(profile.read_bytes())
    config.write_bytes(shipped)
    return config, True
