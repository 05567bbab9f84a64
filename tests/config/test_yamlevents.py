"""Converting from libyaml's events gives exactly what the composed-tree walk gives: values, lines, issues."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from netmon.config import yamlevents
from netmon.config.yamlload import YDict, YList, _Loader, _Reader

REPO = Path(__file__).resolve().parents[2]
FILES = sorted(p for folder in ("tests/testdata", "config", "probes") for p in (REPO / folder).rglob("*.yaml"))
ENV = {"NETMON_SNMP_COMMUNITY": "s3cret-c0mmunity", "NETMON_INFLUX_TOKEN": "t0ken-value"}
TRICKY = {
    "duplicate-keys": "a: 1\nb: [x, {c: 2, c: 3}]\na: 4\n",
    "scalars": "n: 12\nf: 1.5\nb: yes\nz: ~\nd: 2024-01-02\nbad: !!int x\ntag: !custom v\nbig: 99999999999999999999\n"
               "q: '12'\nnul: \"a\\0b\"\n",
    "environment": "t: ${NETMON_INFLUX_TOKEN}\nu: ${UNSET}\nd: ${UNSET:-fallback}\nbare: $HOME\nlit: $$5\n",
    "deep": "a: " + "[" * 70 + "]" * 70 + "\nb: {x: [1, [2, {y: [3]}]]}\n",
    "nested-lists": "- - - 1\n    - 2\n  - []\n- {}\n-\n",
    "empty": "",
    "scalar-root": "just text\n",
}


def walked(text: str) -> tuple:
    issues: list = []
    masks: dict = {}
    node = yaml.compose(text, Loader=_Loader)
    value = _Reader("f.yaml", ENV, issues, masks).value(node) if node is not None else None
    return shape(value), issues, masks


def streamed(text: str) -> tuple:
    issues: list = []
    masks: dict = {}
    value = yamlevents.convert(text, _Reader("f.yaml", ENV, issues, masks))
    return shape(value), issues, masks


def shape(value: object) -> object:
    """The value with every line it carries, so lines are compared too."""
    if isinstance(value, YDict):
        return ("map", value.line, {k: (value.key_lines[k], shape(v)) for k, v in value.items()})
    if isinstance(value, YList):
        return ("list", value.line, list(value.item_lines), [shape(v) for v in value])
    return (type(value).__name__, value)


@pytest.mark.parametrize("path", [p for p in FILES if "&" not in p.read_text(encoding="utf-8")],
                         ids=lambda p: str(p.relative_to(REPO)))
def test_every_fixture_and_shipped_file_converts_as_the_walk_does(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    try:
        expected = walked(text)
    except yaml.YAMLError:  # a syntax error: this path raises too, and load_yaml lets the composer word it
        with pytest.raises(yaml.YAMLError):
            streamed(text)
        return
    assert streamed(text) == expected


@pytest.mark.parametrize("name", sorted(TRICKY))
def test_tricky_documents_convert_as_the_walk_does(name: str) -> None:
    assert streamed(TRICKY[name]) == walked(TRICKY[name])


@pytest.mark.parametrize("text", ["a: *nowhere\n", "<<: {a: 1}\nb: 2\n", "? [a]\n: 1\n", "a: 1\n---\nb: 2\n"])
def test_what_needs_the_composer_falls_back(text: str) -> None:
    with pytest.raises(yamlevents.Fallback):
        streamed(text)
