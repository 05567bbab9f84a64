"""Load `netmon.yaml`: expand includes, load profiles, validate, read key files, resolve devices.

Every problem found on the way is collected; `load_config` raises one `ConfigError` listing them
all, sorted by file and line, so a technician fixes a config in one pass rather than one error
per restart.
"""

from __future__ import annotations

import gc
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any
from urllib.parse import urlsplit

from pydantic import TypeAdapter, ValidationError

import netmon
from netmon.config.errors import ConfigError, ConfigIssue
from netmon.config.explain import explain
from netmon.config.includes import Loader
from netmon.config.resolve import resolve_devices
from netmon.config.schema import AgentConfig, CheckSpec, KeySpec, Profile, Province, SnmpAuth
from netmon.config.shard import Assignment, assign
from netmon.config.yamlload import YDict, YList
from netmon.model import Device, Secret

BUNDLED_PROFILES = Path(netmon.__file__).resolve().parent.parent / "probes"
SYSTEM_PROFILES = Path("/etc/netmon/probes")
_PROVINCES: TypeAdapter[list[Province]] = TypeAdapter(list[Province])


@dataclass(frozen=True)
class Config:
    """A loaded, validated configuration with its inventory resolved into devices."""

    path: Path
    settings: AgentConfig
    devices: tuple[Device, ...]
    """The devices this agent probes: enabled ones of the communes placed on it, in inventory order."""
    all_devices: tuple[Device, ...]
    """Every enabled device, before shard filtering."""
    profiles: Mapping[str, Profile]
    state_dir: Path
    device_by_id: Mapping[str, Device]
    """Every enabled device by id (not only this shard's), so parents in other shards resolve."""
    profile_paths: Mapping[str, Path] = field(default_factory=dict)
    """Where each profile was read from."""
    assignment: Assignment | None = None
    """Which agent probes which commune (`netmon.config.shard`); this agent's are in `devices`."""

    @property
    def auths(self) -> Mapping[str, SnmpAuth]:
        """SNMP credentials by name; `key_file:` keys are already read into `Secret`s."""
        return self.settings.auths

    def checks_for(self, device: Device) -> tuple[CheckSpec, ...]:
        """The checks of `device`'s profile."""
        return tuple(self.profiles[device.profile].checks)

    def __repr__(self) -> str:
        return (f"Config(path={str(self.path)!r}, agent={self.settings.agent.name!r}, "
                f"devices={len(self.devices)}/{len(self.all_devices)}, profiles={sorted(self.profiles)})")


def load_config(path: str | Path, environ: Mapping[str, str] | None = None) -> Config:
    """Load and check the whole configuration; raise `ConfigError` listing every problem."""
    # A big inventory is ~10^6 young objects that all survive; cyclic GC passes over them are
    # pure cost (they tripled load time), so collection waits until the load is done.
    collecting = gc.isenabled()
    gc.disable()
    try:
        return _load(Path(path), os.environ if environ is None else environ)
    finally:
        if collecting:
            gc.enable()


def _load(path: Path, environ: Mapping[str, str]) -> Config:
    """`load_config` without the GC pause."""
    loader = Loader(environ)
    raw = loader.load(path)
    if raw is None and loader.issues:
        raise ConfigError(loader.issues)  # unreadable or not YAML: anything further would be noise
    if not isinstance(raw, YDict):
        what = "the file is empty; start from config/netmon.example.yaml" if raw is None else \
            "the top level must be a mapping (version: 1, agent:, inventory:, ...)"
        raise ConfigError([ConfigIssue(loader.display(path), 0 if raw is None else 1, "", what)])
    root = raw
    config_dir = path.resolve().parent
    inventory = loader.inventory(root, path)
    settings = _settings(root, loader.issues)
    provinces = _validate(_PROVINCES, list[Province], inventory, ("inventory",), loader.issues)
    auths = _read_key_files(settings, root, config_dir, loader) if settings else {}
    if settings:
        _check_output_urls(settings, root, loader.issues)
    profiles, paths, broken = loader.profiles(_profile_dirs(root, settings, config_dir, loader))
    # With broken settings, still know the auth names written, so devices are not blamed for them.
    raw_auths = root.get("auths")
    known_auths = auths if settings else dict.fromkeys(raw_auths if isinstance(raw_auths, YDict) else ())
    devices = resolve_devices(inventory, provinces, profiles, broken, known_auths, loader.issues)
    assignment = assign(devices, settings.agent, inventory, loader.issues) if settings else None
    if loader.issues or settings is None or assignment is None:
        raise ConfigError(sorted(loader.issues, key=lambda i: (i.file, i.line)))
    settings = settings.model_copy(update={"auths": auths, "inventory": provinces or []})
    mine = assignment.mine(devices)
    state_dir = Path(settings.agent.state_dir)
    state_dir = state_dir if state_dir.is_absolute() else config_dir / state_dir
    return Config(
        path=path.resolve(), settings=settings, devices=tuple(mine), all_devices=tuple(devices),
        profiles=MappingProxyType(profiles), state_dir=state_dir,
        device_by_id=MappingProxyType({d.id: d for d in devices}), profile_paths=MappingProxyType(paths),
        assignment=assignment)


def _validate(adapter: TypeAdapter[Any], tp: Any, raw: Any, prefix: tuple[Any, ...],
              issues: list[ConfigIssue]) -> Any:
    try:
        return adapter.validate_python(raw)
    except ValidationError as exc:
        issues.extend(explain(exc, raw, tp, prefix))
        return None


def _settings(root: YDict, issues: list[ConfigIssue]) -> AgentConfig | None:
    """Validate everything but the inventory (validated on its own, so its devices can still be resolved)."""
    top = YDict(root.file, root.line)
    # `x-...` keys are free for YAML anchors (`x-defaults: &d {...}`), as in docker-compose files.
    top.update((k, v) for k, v in root.items() if k != "inventory" and not k.startswith("x-"))
    top.key_lines = root.key_lines
    auths = top.get("auths")
    if isinstance(auths, YDict):
        for auth in auths.values():
            # `version: 3` is an int in YAML; the schema's Literal wants the text "3".
            if isinstance(auth, YDict) and isinstance(auth.get("version"), int) and not isinstance(
                    auth.get("version"), bool):
                auth["version"] = str(auth["version"])
    try:
        return AgentConfig.model_validate(top)
    except ValidationError as exc:
        issues.extend(explain(exc, top, AgentConfig))
        return None


def _check_output_urls(settings: AgentConfig, root: YDict, issues: list[ConfigIssue]) -> None:
    """A URL is printed and logged freely, so it must not carry a credential."""
    raw = root["outputs"]["influxdb"] if settings.outputs.influxdb else None
    for i, out in enumerate(settings.outputs.influxdb):
        parts = urlsplit(out.url)
        if parts.username is None and parts.password is None and not parts.query:
            continue
        item = raw[i] if isinstance(raw, YList) else raw
        line = item.key_lines.get("url", item.line) if isinstance(item, YDict) else root.line
        path = f"outputs.influxdb[{i}].url" if isinstance(raw, YList) else "outputs.influxdb.url"
        issues.append(ConfigIssue(root.file, line, path, "the URL must not carry user info or a query "
                                  "(URLs are shown in logs); use token: (api v2) or username:/password: "
                                  "(api v1) with ${NAME}"))


def _read_key_files(settings: AgentConfig, root: YDict, config_dir: Path,
                    loader: Loader) -> dict[str, SnmpAuth]:
    """Read each `key_file:` now, so a missing file stops the start rather than the first SNMPv3 poll."""
    out = {}
    for name, auth in settings.auths.items():
        update: dict[str, KeySpec] = {}
        for part in ("auth", "priv"):
            spec: KeySpec | None = getattr(auth, part)
            if spec is None or spec.key_file is None:
                continue
            file = Path(spec.key_file)
            file = file if file.is_absolute() else config_dir / file
            raw = root["auths"][name][part]
            where = (raw.file, raw.key_lines.get("key_file", raw.line), f"auths.{name}.{part}.key_file")
            try:
                key = file.read_text(encoding="utf-8").strip()
            except (OSError, UnicodeDecodeError) as exc:
                why = exc.strerror if isinstance(exc, OSError) and exc.strerror else "not UTF-8 text"
                loader.issues.append(ConfigIssue(*where, f"cannot read key file {loader.display(file)} "
                                                 f"({why}); check the path and that netmon may read it"))
                continue
            if not key:
                loader.issues.append(ConfigIssue(*where, f"key file {loader.display(file)} is empty; "
                                                 "put the key on its first line"))
                continue
            update[part] = spec.model_copy(update={"key": Secret(key, f"file {file}")})
        out[name] = auth.model_copy(update=update) if update else auth
    return out


def _profile_dirs(root: YDict, settings: AgentConfig | None, config_dir: Path, loader: Loader) -> list[Path]:
    """The config's `profiles:` folders, then the bundled `probes/`, then /etc/netmon/probes."""
    raw = root.get("profiles")
    listed = settings.profiles if settings else [p for p in raw if isinstance(p, str)] \
        if isinstance(raw, YList) else []
    dirs = []
    for i, folder in enumerate(listed):
        path = Path(folder) if Path(folder).is_absolute() else config_dir / folder
        if not path.is_dir():
            line = raw.item_lines[i] if isinstance(raw, YList) and i < len(raw.item_lines) else root.line
            loader.issues.append(ConfigIssue(root.file, line, f"profiles[{i}]", f"folder "
                                             f"{loader.display(path)} does not exist; create it or remove "
                                             "the entry"))
        dirs.append(path)
    return [*dirs, BUNDLED_PROFILES, SYSTEM_PROFILES]
