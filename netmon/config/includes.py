"""Reading the files a config is made of: the main file, included inventory files, profiles.

`inventory: {include: "inventory/*.yaml"}` and list items `- include: lai-chau.yaml` are expanded
here (paths relative to the including file, globs sorted); an included file holds a list of
provinces or one province. Profiles are found by name along a search path; the first wins.
"""

from __future__ import annotations

import glob
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from netmon.config.errors import ConfigIssue
from netmon.config.explain import explain
from netmon.config.schema import Profile
from netmon.config.yamlbounds import Budget
from netmon.config.yamlload import YDict, YList, load_yaml
from netmon.i18n import _

_GLOB_CHARS = frozenset("*?[")
MAX_INCLUDED = 10_000
"""Files read through includes, in all: a file included 1,000 times by a file included 1,000 times
is a million reads."""


class Loader:
    """Reads YAML files with one environment, one issue list and one way of naming files."""

    def __init__(self, environ: Mapping[str, str]) -> None:
        self.environ = environ
        self.issues: list[ConfigIssue] = []
        self.masks: dict[str, str] = {}
        self.included = 0
        self.budget = Budget()
        """Bytes, values and alias expansion of all the files together."""
        """Every value taken from the environment or a key file -> how it is shown instead."""
        self.cwd = Path.cwd()

    def display(self, path: Path) -> str:
        """How a file is named in messages: relative to the working folder when inside it."""
        absolute = Path(os.path.abspath(path))
        try:
            return str(absolute.relative_to(self.cwd))
        except ValueError:
            return str(absolute)

    def load(self, path: Path) -> Any:
        """One YAML file as Y-containers (None when empty or broken; problems are in `issues`)."""
        return load_yaml(path, self.display, self.environ, self.issues, self.masks, self.budget)

    def inventory(self, root: YDict, path: Path) -> YList:
        """The `inventory:` list with every include expanded, provinces in file order."""
        out = YList(root.file, root.key_lines.get("inventory", root.line))
        value = root.get("inventory")
        if value is None:
            return out
        if isinstance(value, YDict) and "include" in value:
            self._include(value, path, out, [path.resolve()])
        elif isinstance(value, YList):
            self._items(value, path, out, [path.resolve()])
        else:
            self.issues.append(ConfigIssue(root.file, out.line, "inventory", _(
                "must be a list of provinces or {include: FILES}, e.g. include: inventory/*.yaml")))
        return out

    def _items(self, items: YList, path: Path, out: YList, stack: list[Path]) -> None:
        for line, item in zip(items.item_lines, items, strict=True):
            if isinstance(item, YDict) and "include" in item:
                self._include(item, path, out, stack)
            else:
                out.item_lines.append(getattr(item, "line", line))
                out.append(item)

    def _include(self, item: YDict, path: Path, out: YList, stack: list[Path]) -> None:
        line = item.key_lines.get("include", item.line)
        pattern = item.get("include")
        if len(item) > 1 or not isinstance(pattern, str) or not pattern:
            self.issues.append(ConfigIssue(item.file, line, "include", _(
                "an include holds only include: FILE (a path or glob, relative to this file)")))
            return
        full = Path(pattern) if Path(pattern).is_absolute() else path.resolve().parent / pattern
        if _GLOB_CHARS & set(pattern):
            files = sorted(Path(f) for f in glob.glob(str(full)))
            if not files:
                self.issues.append(ConfigIssue(item.file, line, "include", _(
                    "'{pattern}' matches no file (looked for {path}); check the pattern").format(
                        pattern=pattern, path=self.display(full))))
        else:
            files = [full]
            if not full.exists() and not full.is_symlink():
                self.issues.append(ConfigIssue(item.file, line, "include", _(
                    "included file {path} does not exist; check the name").format(path=self.display(full))))
                return
        for file in files:
            if file.resolve() in stack:
                self.issues.append(ConfigIssue(item.file, line, "include", _(
                    "{path} includes itself (through a chain of includes); remove one include").format(
                        path=self.display(file))))
                continue
            self._included(file, out, [*stack, file.resolve()])

    def _included(self, file: Path, out: YList, stack: list[Path]) -> None:
        self.included += 1
        if self.included > MAX_INCLUDED:
            if self.included == MAX_INCLUDED + 1:
                self.issues.append(ConfigIssue(self.display(stack[-2]) if len(stack) > 1 else self.display(file),
                                               1, "include", _("more than {n} included files in all; include "
                                                               "each file once").format(n=f"{MAX_INCLUDED:,}")))
            return
        data = self.load(file)
        if data is None:
            return
        if isinstance(data, YList):
            self._items(data, file, out, stack)
        elif isinstance(data, YDict) and "include" in data:
            self._include(data, file, out, stack)
        elif isinstance(data, YDict):
            out.item_lines.append(data.line)
            out.append(data)
        else:
            self.issues.append(ConfigIssue(self.display(file), 1, "", _(
                "an inventory file holds a list of provinces or one province (name:, communes:)")))

    def profiles(self, dirs: list[Path]) -> tuple[dict[str, Profile], dict[str, Path], set[str]]:
        """Profiles by name (file stem; the first folder wins), their files, and names that failed."""
        found: dict[str, Path] = {}
        for folder in dirs:
            if folder.is_dir():
                for file in sorted([*folder.glob("*.yaml"), *folder.glob("*.yml")]):
                    found.setdefault(file.stem, file)
        profiles: dict[str, Profile] = {}
        broken: set[str] = set()
        for name, file in sorted(found.items()):
            raw = self.load(file)
            if raw is None:
                broken.add(name)
                if not any(i.file == self.display(file) for i in self.issues):
                    self.issues.append(ConfigIssue(self.display(file), 1, "", _(
                        "the profile is empty; it needs kind: and checks:")))
                continue
            if not isinstance(raw, YDict):
                broken.add(name)
                self.issues.append(ConfigIssue(self.display(file), getattr(raw, "line", 1), "", _(
                    "a profile is a mapping (kind:, description:, checks:)")))
                continue
            try:
                profiles[name] = Profile.model_validate(raw)
            except ValidationError as exc:
                broken.add(name)
                self.issues.extend(explain(exc, raw, Profile))
        return profiles, found, broken
