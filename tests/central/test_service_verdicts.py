"""The central service rule, place by place (the influxd test covers the path from real checks)."""

from __future__ import annotations

import pytest

from netmon.central.services import Verdict, judge


def seen(*outcomes: tuple[str, bool, str]) -> dict[str, tuple[bool, set[str]]]:
    return {agent: (ok, {commune}) for agent, ok, commune in outcomes}


@pytest.mark.parametrize(("outcomes", "verdict", "text"), [
    ((("a", True, "Sìn Hồ"), ("b", True, "Phong Thổ")), Verdict.OK, "reached from every vantage point (2)"),
    ((("a", False, "Sìn Hồ"),), Verdict.DOWN_ONE_PLACE, "service down (seen from one place)"),
    ((("a", False, "Sìn Hồ"), ("b", False, "Phong Thổ")), Verdict.DOWN,
     "fails from every vantage point (2): service down"),
    ((("x", False, "Mù Sang"), ("y", True, "Tả Phìn"), ("z", True, "Nậm Tăm")), Verdict.LINK,
     "fails from Mù Sang only while Tả Phìn (agent y) and Nậm Tăm (agent z) reach it: Mù Sang's link"),
    ((("x", False, "Mù Sang"), ("y", False, "Tả Phìn"), ("z", True, "Nậm Tăm")), Verdict.DOWN,
     "fails from 2 of 3 vantage points: service down (still reached from Nậm Tăm (agent z))"),
    ((("w", False, "A"), ("x", False, "B"), ("y", True, "C"), ("z", True, "D")), Verdict.LINK,
     "fails from A and B only while C (agent y) and D (agent z) reach it: the links of A and B"),
    ((("a", False, "Sìn Hồ"), ("b", True, "Phong Thổ")), Verdict.LINK,
     "fails from Sìn Hồ only while Phong Thổ (agent b) reaches it: Sìn Hồ's link"),
])
def test_rule(outcomes: tuple, verdict: Verdict, text: str) -> None:
    """All fail or most (of 3+) fail: down; a minority or one of two: those places' links; one place: says so."""
    j = judge("https://dichvucong.gov.vn/", "http", 0.0, seen(*outcomes))
    assert j.verdict is verdict
    assert j.text == text
