"""Load `netmon.yaml`: expand includes, load profiles, validate, read key files, resolve devices.

Every problem found on the way is collected; `load_config` raises one `ConfigError` listing them
all, sorted by file and line, so a technician fixes a config in one pass rather than one error
per restart.
"""

from __future__ import annotations

import gc
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any
from urllib.parse import urlsplit

from pydantic import TypeAdapter, ValidationError

from netmon.config import yamlload
from netmon.config.errors import ConfigError, ConfigIssue
from netmon.config.explain import explain
from netmon.config.files import MAX_KEY_BYTES, FileProblem, read_text
from netmon.config.includes import Loader
from netmon.config.resolve import resolve_devices
from netmon.config.schema import AgentConfig, CheckSpec, KeySpec, Profile, Province, SnmpAuth, check_v3_key
from netmon.config.search import default_profile_dirs
from netmon.config.secrets import label_file, mask, remember
from netmon.config.shard import Assignment, assign
from netmon.config.slugs import slug
from netmon.config.yamlload import YDict, YList
from netmon.i18n import _, kept, prefer
from netmon.model import Device, Secret

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


def load_config(path: str | Path, environ: Mapping[str, str] | None = None, *, secrets: bool = True) -> Config:
    """Load and check the whole configuration; raise `ConfigError` listing every problem.

    `secrets=False` is for readers of the store (`netmon status`, `netmon report`): a technician's
    shell has neither the service's `${ENV}` secrets nor access to its key files, and reading needs
    none of them, so those become placeholders instead of errors.
    """
    # A big inventory is ~10^6 young objects that all survive; cyclic GC passes over them are
    # pure cost (they tripled load time), so collection waits until the load is done.
    collecting = gc.isenabled()
    gc.disable()
    try:
        env = os.environ if environ is None else environ
        with kept():  # the config's `agent.language` speaks its errors, not the caller's later output
            return _load(Path(path), env if secrets else _ReaderEnv(env), secrets)
    finally:
        if collecting:
            gc.enable()


class _ReaderEnv(Mapping[str, str]):
    """The environment as a reader sees it: every `${NAME}` resolves, unset ones to a placeholder."""

    PLACEHOLDER = "not-available-to-readers"

    def __init__(self, environ: Mapping[str, str]) -> None:
        self._env = environ

    def __getitem__(self, name: str) -> str:
        return self._env.get(name, self.PLACEHOLDER)

    def __contains__(self, name: object) -> bool:
        return True

    def get(self, name: str, default: Any = None) -> Any:  # lookups of netmon's own variables stay real
        return self._env.get(name, default)

    def __iter__(self) -> Iterator[str]:
        return iter(self._env)

    def __len__(self) -> int:
        return len(self._env)


def _load(path: Path, environ: Mapping[str, str], secrets: bool = True) -> Config:
    """`load_config` without the GC pause."""
    loader = Loader(environ)
    raw = loader.load(path)
    if raw is None and loader.issues:
        # unreadable or not YAML: anything further would be noise
        raise ConfigError(_masked(loader.issues, loader.masks))
    if not isinstance(raw, YDict):
        what = _("the file is empty; start from config/netmon.example.yaml") if raw is None else \
            _("the top level must be a mapping (version: 1, agent:, inventory:, ...)")
        raise ConfigError([ConfigIssue(loader.display(path), 1, "", what)])
    root = raw
    _speak(root)
    config_dir = path.resolve().parent
    inventory = loader.inventory(root, path)
    settings = _settings(root, loader.issues)
    provinces = _validate(_PROVINCES, list[Province], inventory, ("inventory",), loader.issues)
    auths = _read_key_files(settings, root, config_dir, loader, environ, secrets) if settings else {}
    if settings:
        _check_output_urls(settings, root, loader.issues)
    profiles, paths, broken = loader.profiles(_profile_dirs(root, settings, config_dir, loader, environ))
    # With broken settings, still know the auth names written, so devices are not blamed for them.
    raw_auths = root.get("auths")
    known_auths = auths if settings else dict.fromkeys(raw_auths if isinstance(raw_auths, YDict) else ())
    devices = resolve_devices(inventory, provinces, profiles, broken, known_auths, loader.issues)
    assignment = assign(devices, settings.agent, inventory, loader.issues) if settings else None
    if settings:
        _inline_secrets(settings, auths, loader.masks)
    remember(loader.masks)
    # The load-time memos hold a string per device (hosts, names): 2-10 MB that a running
    # daemon would keep for nothing; the next load fills them again in a few ms.
    slug.cache_clear()
    yamlload.clear_scalar_memo()
    if loader.issues or settings is None or assignment is None:
        raise ConfigError(sorted(_masked(loader.issues, loader.masks), key=lambda i: (i.file, i.line)))
    settings = settings.model_copy(update={"auths": auths, "inventory": _without_devices(provinces or [])})
    mine = assignment.mine(devices)
    state_dir = Path(settings.agent.state_dir)
    state_dir = state_dir if state_dir.is_absolute() else config_dir / state_dir
    return Config(
        path=path.resolve(), settings=settings, devices=tuple(mine), all_devices=tuple(devices),
        profiles=MappingProxyType(profiles), state_dir=state_dir,
        device_by_id=MappingProxyType({d.id: d for d in devices}), profile_paths=MappingProxyType(paths),
        assignment=assignment)


def _speak(root: YDict) -> None:
    """Explain this config's problems in its `agent.language` (unless --lang or NETMON_LANG chose)."""
    agent = root.get("agent")
    language = agent.get("language") if isinstance(agent, YDict) else None
    if isinstance(language, str):
        prefer(language)


def _masked(issues: list[ConfigIssue], masks: Mapping[str, str]) -> list[ConfigIssue]:
    """The issues with every value taken from the environment or a key file replaced by its origin."""
    return [ConfigIssue(mask(i.file, masks), i.line, mask(i.path, masks), mask(i.message, masks))
            for i in issues]


def _inline_secrets(settings: AgentConfig, auths: Mapping[str, SnmpAuth], masks: dict[str, str]) -> None:
    """Credentials written into the file itself are masked too, under the key that holds them."""
    found: list[tuple[str, Secret | None]] = []
    for name, auth in auths.items():
        found += [(f"auths.{name}.community", auth.community)]
        found += [(f"auths.{name}.{part}.key", getattr(getattr(auth, part), "key", None)) for part in ("auth", "priv")]
    for out in settings.outputs.influxdb:
        found += [(f"outputs.influxdb '{out.name}' token", out.token), (f"outputs.influxdb '{out.name}' password",
                                                                        out.password)]
    for where, secret in found:
        if secret is not None:
            masks.setdefault(secret.reveal(), f"<hidden {where}>")


def _without_devices(provinces: list[Province]) -> list[Province]:
    """The inventory tree with its device entries left out: `Config.devices` holds them resolved.

    What is read of the tree after loading is per commune and village (operators, thresholds); the
    validated device entries were ~15 MB per 20,000 devices kept twice.
    """
    return [p.model_copy(update={"communes": [
        c.model_copy(update={"devices": [], "villages": [v.model_copy(update={"devices": []}) for v in c.villages]})
        for c in p.communes]}) for p in provinces]


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
        parts = urlsplit(out.url)  # parses: the schema checked it
        if parts.username is None and parts.password is None and not parts.query:
            continue
        item = raw[i] if isinstance(raw, YList) and i < len(raw) else raw
        line = item.key_lines.get("url", item.line) if isinstance(item, YDict) else root.line
        path = f"outputs.influxdb[{i}].url" if isinstance(raw, YList) else "outputs.influxdb.url"
        issues.append(ConfigIssue(root.file, line, path, _(
            "the URL must not carry user info or a query (URLs are shown in logs); use token: (api v2) or "
            "username:/password: (api v1) with ${NAME}")))


def _read_key_files(settings: AgentConfig, root: YDict, config_dir: Path,
                    loader: Loader, environ: Mapping[str, str], secrets: bool) -> dict[str, SnmpAuth]:
    """Read each `key_file:` now, so a missing file stops the start rather than the first SNMPv3 poll.

    A relative `key_file:` is first looked up among the systemd credentials ($CREDENTIALS_DIRECTORY,
    set by `LoadCredential=NAME:/etc/netmon/NAME`), so the service reads root-only key files without
    being root; anywhere else (e.g. `netmon check` run by root) it is relative to the config's folder.
    """
    credentials = environ.get("CREDENTIALS_DIRECTORY")
    out = {}
    for name, auth in settings.auths.items():
        update: dict[str, KeySpec] = {}
        for part in ("auth", "priv"):
            spec: KeySpec | None = getattr(auth, part)
            if spec is None or spec.key_file is None:
                continue
            file = Path(spec.key_file)
            if not file.is_absolute():
                credential = Path(credentials, file) if credentials else None
                file = credential if credential and credential.is_file() else config_dir / file
            raw = root["auths"][name][part]
            where = (raw.file, raw.key_lines.get("key_file", raw.line), f"auths.{name}.{part}.key_file")
            shown = loader.display(file)
            try:
                key = read_text(file, MAX_KEY_BYTES).strip()
            except (FileNotFoundError, FileProblem) as exc:
                if not secrets:
                    update[part] = spec.model_copy(update={"key": Secret(_ReaderEnv.PLACEHOLDER, f"file {file}")})
                    continue
                why = _("No such file or directory") if isinstance(exc, FileNotFoundError) else exc.strerror
                if why is None:  # opened, but not a usable key file (a FIFO, too big, not UTF-8)
                    loader.issues.append(ConfigIssue(*where, _("key file {file} {problem}").format(
                        file=shown, problem=exc)))
                    continue
                hint = _("; under systemd, hand it over with LoadCredential={name}:{file} and write "
                         "key_file: {name}").format(name=file.name, file=file) \
                    if getattr(exc, "permission", False) else ""
                loader.issues.append(ConfigIssue(*where, _(
                    "cannot read key file {file} ({why}); check the path and that netmon may read it{hint}")
                    .format(file=shown, why=why, hint=hint)))
                continue
            if not key:
                loader.issues.append(ConfigIssue(*where, _("key file {file} is empty; put the key on its "
                                                           "first line").format(file=shown)))
                continue
            loader.masks.setdefault(key, label_file(shown))
            try:
                check_v3_key(key)
            except ValueError as exc:
                loader.issues.append(ConfigIssue(*where, _("key file {file}: {problem}").format(
                    file=shown, problem=exc)))
                continue
            update[part] = spec.model_copy(update={"key": Secret(key, f"file {file}")})
        out[name] = auth.model_copy(update=update) if update else auth
    return out


def _profile_dirs(root: YDict, settings: AgentConfig | None, config_dir: Path, loader: Loader,
                  environ: Mapping[str, str]) -> list[Path]:
    """The config's `profiles:` folders, then /etc/netmon/probes, then the bundled ones (see config.search)."""
    raw = root.get("profiles")
    listed = settings.profiles if settings else [p for p in raw if isinstance(p, str)] \
        if isinstance(raw, YList) else []
    dirs = []
    for i, folder in enumerate(listed):
        path = Path(folder) if Path(folder).is_absolute() else config_dir / folder
        if not path.is_dir():
            line = raw.item_lines[i] if isinstance(raw, YList) and i < len(raw.item_lines) else root.line
            loader.issues.append(ConfigIssue(root.file, line, f"profiles[{i}]", _(
                "folder {folder} does not exist; create it or remove the entry").format(
                    folder=loader.display(path))))
        dirs.append(path)
    return [*dirs, *(folder for _source, folder in default_profile_dirs(environ))]
