"""Hypothesis fuzz of the loader (issue 15, item 4): >= 1,000 mutated configs, never a traceback.

Seeds: config/demo.yaml (with its demo-probes/) and the good province of tests/testdata (includes,
a key file, a profile folder). Each example mutates one file of a seed, at the level of the
parsed tree (values, types, keys, nesting) or of the text (tags, aliases, control characters,
environment references, truncation), then loads the seed. The loader must return a `Config` or
raise `ConfigError` whose every line starts with `file:line: `, never anything else, and no
line may show a value taken from the environment or a key file. A config that loads must print
its `netmon check` summary and be planned by the scheduler without an exception.
"""

from __future__ import annotations

import io
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from rich.console import Console

from netmon.config import Config, ConfigError, load_config
from netmon.scheduler import ProbeSchedule
from netmon.ui.check import render_check

REPO = Path(__file__).resolve().parents[2]
ENV = {"NETMON_SNMP_COMMUNITY": "s3cret-c0mmunity", "NETMON_INFLUX_TOKEN": "t0ken-value",
       "NETMON_SNMP_PRIV_KEY": "priv-k3y-value", "FUZZ_SECRET": "fuzz-s3cret-env"}
SECRETS = [*ENV.values(), "auth-k3y-from-file"]
LINE = re.compile(r"^[^\n:][^\n]*?:\d+: \S")

# Values that have knocked loaders over, here or elsewhere (the issue's list first).
NASTY = [
    ".nan", ".inf", "-.inf", "1e999", "9" * 5000, "9" * 30, "-1", "0", "0x1F", "0o17", "1_000", "2001-02-03",
    "!!timestamp notadate", "!!int x", "!!float x", "!!bool maybe", "!!binary aGk=", "!!python/object:os.system x",
    "!!set {a, b}", "!!omap [a: 1]", "!!str", "!!null x", '"\\0"', '"a\\0b"', '"\\x07"', "'http://[::1'",
    "'http://127.0.0.1:99999999/'", "'http://127.0.0.1/?apikey=${FUZZ_SECRET}'", "'https://${FUZZ_SECRET}@h/'",
    "'${UNSET_VAR}'", "'${FUZZ_SECRET}'", "'${NETMON_INFLUX_TOKEN}'", "'x-${FUZZ_SECRET}-y'",
    "'${FUZZ_SECRET:-d}'", "'${UNSET:-d}'", "'${UNSET:?say why}'", "'$FUZZ_SECRET'", "'${BAD'", "'${1X}'",
    "'$$'", "~", "[]", "{}", "[[[[]]]]", "''", "' '", "true", "no", "'Tả Phìn, Nậm Tăm'", "'\u202e\u200b'",
    "*no_such_anchor", "&a [*a]", "'" + "x" * 300 + "'", "{<<: 1}", "[1, [2, {3: 4}]]", "60s", "5 min",
    "'10.0.300.1'", "'::1'", "'/dev/zero'", "'/etc/netmon/../../dev/zero'", "'keys/auth.key'",
]
TEXT_INSERTS = [
    "x-bomb: &b0 [lol, lol, lol, lol, lol, lol, lol, lol]\nx-b1: &b1 [*b0, *b0, *b0, *b0, *b0, *b0, *b0, *b0]\n"
    "x-b2: &b2 [*b1, *b1, *b1, *b1, *b1, *b1, *b1, *b1]\nx-b3: &b3 [*b2, *b2, *b2, *b2, *b2, *b2, *b2, *b2]\n"
    "x-b4: &b4 [*b3, *b3, *b3, *b3, *b3, *b3, *b3, *b3]\nx-b5: &b5 [*b4, *b4, *b4, *b4, *b4, *b4, *b4, *b4]\n"
    "x-b6: &b6 [*b5, *b5, *b5, *b5, *b5, *b5, *b5, *b5]\nx-b7: &b7 [*b6, *b6, *b6, *b6, *b6, *b6, *b6, *b6]\n",
    "x-loop: &loop {a: *loop}\n", "\x00", "\x07", "\t", "---\n", "...\n", "%YAML 1.1\n", "? [a, b]\n: c\n",
    "<<: *nothing\n", "key: value: other\n", "  - stray\n", "\ufeff", "'unterminated\n", "{", "]", "&x\n",
    "x-deep: " + "[" * 80 + "]" * 80 + "\n", "version: 1\n", "inventory: 42\n", "agent: !!timestamp no\n",
]
KEYS = ["name", "kind", "host", "url", "port", "interval", "timeout", "include", "profile", "parent", "auth",
        "version", "checks", "prober", "key_file", "key", "community", "token", "retention", "<<", "x-any",
        "namee", "", "0", "devices", "villages", "communes", "location", "lat", "get", "walk"]

_SEEDS = {
    "demo": ("config", ["demo.yaml", "demo-probes/demo-ping.yaml"], "demo.yaml"),
    "province": ("tests/testdata/good/province",
                 ["netmon.yaml", "inventory/dien-bien.yaml", "inventory/z-son-la.yaml", "probes/ping.yaml"],
                 "netmon.yaml"),
}


@pytest.fixture(scope="module")
def seeds(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Copies of the seed folders (mutated in place, restored after every example)."""
    root = tmp_path_factory.mktemp("fuzz")
    out = {}
    for name, (folder, _files, _main) in _SEEDS.items():
        shutil.copytree(REPO / folder, root / name, ignore=shutil.ignore_patterns(".demo-state", "state"))
        out[name] = root / name
    return out


def _paths(data: Any, prefix: tuple = ()) -> list[tuple]:
    """Every path into a parsed YAML tree (mapping keys and list indexes)."""
    out = [prefix]
    if isinstance(data, dict):
        for key, value in data.items():
            out += _paths(value, (*prefix, key))
    elif isinstance(data, list):
        for i, value in enumerate(data):
            out += _paths(value, (*prefix, i))
    return out


def _get(data: Any, path: tuple) -> Any:
    for seg in path:
        data = data[seg]
    return data


@st.composite
def tree_mutation(draw: st.DrawFn, text: str) -> str:
    """Change the parsed tree: a value to a nasty one (as YAML text), a key renamed or dropped, a type changed."""
    data = yaml.safe_load(text)
    for _ in range(draw(st.integers(1, 3))):
        paths = [p for p in _paths(data) if p]
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        parent, last = _get(data, path[:-1]), path[-1]
        action = draw(st.sampled_from(["value", "value", "drop", "rename", "wrap", "dup"]))
        if action == "value":
            parent[last] = f"@@NASTY{draw(st.integers(0, len(NASTY) - 1))}@@"
        elif action == "drop":
            del parent[last]
        elif action == "rename" and isinstance(parent, dict):
            parent[draw(st.sampled_from(KEYS))] = parent.pop(last)
        elif action == "wrap":
            parent[last] = draw(st.sampled_from([[parent[last]], {"x": parent[last]}, str(parent[last])]))
        elif action == "dup" and isinstance(parent, list):
            parent.append(parent[last])
    dumped = yaml.safe_dump(data, allow_unicode=True, sort_keys=False, width=10_000)
    return re.sub(r"'?@@NASTY(\d+)@@'?", lambda m: NASTY[int(m.group(1))].replace("\n", " "), dumped)


@st.composite
def text_mutation(draw: st.DrawFn, text: str) -> str:
    """Change the text: insert a hostile snippet, delete/duplicate/indent a line, truncate, flip a character."""
    lines = text.splitlines(keepends=True)
    for _ in range(draw(st.integers(1, 3))):
        i = draw(st.integers(0, max(0, len(lines) - 1)))
        action = draw(st.sampled_from(["insert", "insert", "value", "delete", "dup", "indent", "truncate", "flip"]))
        if not lines:
            lines = [""]
        if action == "insert":
            lines.insert(i, draw(st.sampled_from(TEXT_INSERTS)))
        elif action == "value" and ":" in lines[i]:
            head = lines[i].split(":", 1)[0]
            lines[i] = f"{head}: {draw(st.sampled_from(NASTY))}\n"
        elif action == "delete":
            del lines[i]
        elif action == "dup":
            lines.insert(i, lines[i])
        elif action == "indent":
            lines[i] = draw(st.sampled_from([" ", "  ", "\t", ""])) + lines[i].lstrip(" ")
        elif action == "truncate":
            cut = draw(st.integers(0, max(0, len(lines[i]))))
            lines = [*lines[:i], lines[i][:cut]]
        elif action == "flip" and lines[i]:
            j = draw(st.integers(0, len(lines[i]) - 1))
            lines[i] = lines[i][:j] + draw(st.sampled_from(list(":-[]{}&*!|>'\"#%@`,?$ \\"))) + lines[i][j + 1:]
    return "".join(lines)


@st.composite
def mutated(draw: st.DrawFn) -> tuple[str, str, str]:
    """(seed, file inside it, new text of that file)."""
    seed = draw(st.sampled_from(sorted(_SEEDS)))
    folder, files, _main = _SEEDS[seed]
    file = draw(st.sampled_from(files))
    text = (REPO / folder / file).read_text(encoding="utf-8")
    how = draw(st.sampled_from([tree_mutation, text_mutation]))
    return seed, file, draw(how(text))


def check_outcome(seed_dir: Path, main: str) -> Config | ConfigError:
    """Load; a config that loads must also print (`netmon check`) and plan (the scheduler) without error."""
    try:
        config = load_config(seed_dir / main, environ=ENV)
    except ConfigError as exc:
        lines = str(exc).splitlines()
        assert lines and len(lines) == min(len(exc.issues), 501), str(exc)
        for issue in exc.issues:
            text = str(issue)
            assert issue.line >= 1 and LINE.match(text), f"no file:line in {text!r}"
            for secret in SECRETS:
                assert secret not in text, f"secret {secret!r} shown in {text!r}"
        return exc
    console = Console(width=120, file=io.StringIO(), record=True, no_color=True)
    render_check(config, console)
    shown = console.export_text()
    assert "configuration OK" in shown
    for secret in SECRETS:
        assert secret not in shown
    ProbeSchedule({}, lambda r: None).plan(config, dict.fromkeys(("icmp", "snmp", "tcp", "http")))  # type: ignore[arg-type]
    return config


@settings(max_examples=1200, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much,
                                 HealthCheck.function_scoped_fixture])
@given(case=mutated())
def test_mutated_configs_load_or_fail_with_file_and_line(seeds: dict[str, Path], case: tuple[str, str, str]) -> None:
    seed, file, text = case
    target = seeds[seed] / file
    original = target.read_bytes()
    try:
        target.write_text(text, encoding="utf-8", errors="surrogatepass")
        outcome = check_outcome(seeds[seed], _SEEDS[seed][2])
        event("loaded" if isinstance(outcome, Config) else "refused")
    finally:
        target.write_bytes(original)


@pytest.mark.parametrize("value", NASTY)
@pytest.mark.parametrize("key", ["agent.name", "interval", "host", "url", "key_file", "port"])
def test_every_nasty_value_in_every_sensitive_place(seeds: dict[str, Path], key: str, value: str) -> None:
    """The pool above, each value in each kind of field, deterministically (not left to the draw)."""
    main = seeds["province"] / "netmon.yaml"
    profile = seeds["province"] / "probes" / "ping.yaml"
    originals = {main: main.read_bytes(), profile: profile.read_bytes()}
    flat = value.replace("\n", " ")
    try:
        if key == "agent.name":
            main.write_text(main.read_text().replace("name: dien-bien-01", f"name: {flat}"))
        elif key == "interval":
            profile.write_text(re.sub(r"interval: \S+?([,}\n])", lambda m: f"interval: {flat}{m.group(1)}",
                                      profile.read_text(), count=1))
        elif key == "host":
            main.write_text(main.read_text().replace("host: 127.0.10.1,", f"host: {flat},"))
        elif key == "url":
            main.write_text(main.read_text().replace('url: "http://127.0.0.1:8080/dich-vu-cong"', f"url: {flat}"))
        elif key == "key_file":
            main.write_text(main.read_text().replace("key_file: keys/auth.key", f"key_file: {flat}"))
        else:
            main.write_text(main.read_text().replace("port: 8443", f"port: {flat}"))
        check_outcome(seeds["province"], "netmon.yaml")
    finally:
        for path, data in originals.items():
            path.write_bytes(data)
