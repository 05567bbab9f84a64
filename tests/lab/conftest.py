"""Fixtures for the lab tests: real network namespaces, real snmpd, real nft, all torn down by PID.

Without root, iproute2, nftables, net-snmp or fping the namespace tests skip, except under
CI=true, where they fail.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from lab_helpers import SMALL, RootSnapshot, all_procs, assert_gone, lab_name, need_lab, write_scenario

from netmon.lab import builder
from netmon.lab.state import LabState


@pytest.fixture(scope="module")
def small_lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabState]:
    """The SMALL scenario, built once per module; teardown proves nothing is left behind."""
    need_lab()
    folder = tmp_path_factory.mktemp("lab")
    before = RootSnapshot.take()
    name = lab_name()
    state = builder.up(write_scenario(folder, SMALL), name, run_dir=folder / "run", lifetime_s=120)
    try:
        yield state
    finally:
        procs = all_procs(LabState.load(name) or state)
        builder.down(name)
        assert_gone(name, procs, before)


@pytest.fixture
def make_lab(tmp_path: Path) -> Iterator[Callable[..., LabState]]:
    """Build extra labs in a test; each is taken down afterwards even if the test failed."""
    need_lab()
    names: list[str] = []

    def make(body: str = SMALL, **kwargs: object) -> LabState:
        name = lab_name()
        names.append(name)
        return builder.up(write_scenario(tmp_path, body), name, run_dir=tmp_path / name, **kwargs)

    yield make
    for name in names:
        builder.down(name)
