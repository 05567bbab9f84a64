"""The exception tree: every error class netmon raises on purpose sits on the right branch."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

from netmon.central.influxql import CentralError
from netmon.cli import exit_code
from netmon.config.errors import ConfigError, ConfigIssue
from netmon.config.files import FileProblem
from netmon.errors import ConfigurationError, LabError, NetmonError, OutputError, ProbeError, StoreError
from netmon.guard import OutsideLabError
from netmon.lab.netns import LabError as NetnsLabError
from netmon.probers.icmp import ResolveError
from netmon.probers.icmp_socket import IcmpPermissionError
from netmon.probers.snmp_fields import BadValue
from netmon.probers.snmp_transport import TransportClosed
from netmon.probers.snmp_wire import WireError
from netmon.scheduler import PlanError
from netmon.sheets.importer import ImportRefused
from netmon.sheets.workbook import SheetError
from netmon.sinks.influx import Halt
from netmon.ui.probe import TargetError

NETMON = Path(__file__).resolve().parents[2] / "netmon"
BRANCHES = {
    ConfigurationError: (ConfigError, FileProblem, PlanError, SheetError, ImportRefused, TargetError),
    ProbeError: (IcmpPermissionError, ResolveError, WireError, BadValue, TransportClosed),
    LabError: (OutsideLabError,),
    OutputError: (Halt, CentralError),
}


@pytest.mark.parametrize("branch", list(BRANCHES))
def test_classes_sit_on_their_branch(branch: type) -> None:
    for cls in BRANCHES[branch]:
        assert issubclass(cls, branch), cls
        others = [b for b in (ConfigurationError, ProbeError, StoreError, OutputError, LabError) if b is not branch]
        assert not any(issubclass(cls, b) for b in others), cls


def test_historical_bases_still_catch() -> None:
    assert issubclass(IcmpPermissionError, PermissionError) and issubclass(PlanError, ValueError)
    assert issubclass(OutsideLabError, RuntimeError) and NetnsLabError is LabError


def test_exit_codes_follow_the_tree() -> None:
    assert exit_code(ConfigError([ConfigIssue("a.yaml", 1, "x", "bad")])) == 2
    assert exit_code(PlanError("bad interval")) == 2
    assert exit_code(FileNotFoundError("no store")) == 2
    assert exit_code(IcmpPermissionError("no socket")) == 1
    assert exit_code(OutsideLabError("outside")) == 1
    assert exit_code(StoreError("disk")) == 1 and exit_code(OutputError("x")) == 1


def test_every_exception_class_in_netmon_is_a_netmon_error() -> None:
    """A new exception class must join the tree (or be listed here with a reason)."""
    found = []
    for path in sorted(NETMON.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.ClassDef) and any(
                    isinstance(b, ast.Name) and (b.id.endswith(("Error", "Exception")) or b.id in (
                        "Exception", "ValueError", "RuntimeError")) for b in node.bases):
                found.append((path.relative_to(NETMON.parent), node.name))
    assert len(found) >= 13, found  # the scan itself works
    for rel, name in found:
        module = importlib.import_module(".".join(rel.with_suffix("").parts))
        cls = getattr(module, name)
        assert issubclass(cls, NetmonError), f"{rel}: {name} is not a NetmonError (see netmon/errors.py)"
