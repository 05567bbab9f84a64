"""What the status view shows: the technician's filter, and the snapshot laid out as lines and pages.

Provinces -> communes -> villages in inventory order after the filter, split into pages that
repeat their province/commune heading; netmon.ui.status_render draws them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from netmon.analysis.status_view import CommuneRow, Snapshot, State, VillageRow
from netmon.config.slugs import slug
from netmon.i18n import _
from netmon.ui.status_words import state_word

# ---------------------------------------------------------------- filtering


def _norm(text: str) -> str:
    return slug(text)


@dataclass(slots=True)
class Filter:
    """What the technician asked to see: by place, state, flag and free text."""

    province: str | None = None
    commune: str | None = None
    states: frozenset[State] = frozenset()
    flagged: bool = False
    text: str = ""

    def place_matches(self, province: str, commune: str, commune_id: str) -> bool:
        """True when the commune lies in the chosen province and commune (name or id)."""
        prov_id, _, com = commune_id.partition("/")
        if self.province and _norm(self.province) not in (_norm(province), prov_id):
            return False
        return not self.commune or _norm(self.commune) in (_norm(commune), com) or self.commune == commune_id

    def narrows_villages(self) -> bool:
        """True when villages are filtered beyond their place."""
        return bool(self.states or self.flagged or self.text)

    def matches(self, row: VillageRow) -> bool:
        """True when the village passes every part of the filter."""
        i = row.info
        if not self.place_matches(i.province, i.commune, i.commune_id):
            return False
        if self.states and row.state not in self.states:
            return False
        if self.flagged and not row.flagged:
            return False
        if self.text:
            hay = _norm(f"{i.province} {i.commune} {i.name} {i.operator} {row.cause}")
            if _norm(self.text) not in hay:
                return False
        return True

    def describe(self) -> str:
        """The filter in words for the header ('' when showing everything)."""
        parts = [_("province={name}").format(name=self.province) if self.province else "",
                 _("commune={name}").format(name=self.commune) if self.commune else "",
                 _("state=") + ",".join(state_word(s) for s in State if s in self.states) if self.states else "",
                 _("flagged") if self.flagged else "", f"/{self.text}" if self.text else ""]
        return " ".join(p for p in parts if p)


def parse_states(text: str | None) -> frozenset[State]:
    """`unstable,down` -> {UNSTABLE, DOWN}; raises ValueError naming the valid states."""
    if not text:
        return frozenset()
    out = set()
    for part in (p.strip().lower() for p in text.split(",")):
        if part:
            try:
                out.add(State(part))
            except ValueError:
                raise ValueError(_("unknown state {state!r}; use {states}").format(
                    state=part, states=", ".join(s.value for s in State))) from None
    return frozenset(out)


@dataclass(slots=True)
class Line:
    """One body line: a province, a commune (with its office devices) or a village."""

    kind: str
    province: str
    commune: CommuneRow | None = None
    village: VillageRow | None = None
    context: bool = False
    """A repeated province/commune heading at the top of a page that starts mid-list."""


@dataclass(slots=True)
class View:
    """What the technician is looking at: the filter, the page, a half-typed search."""

    filter: Filter = field(default_factory=Filter)
    page: int = 0
    prompt: str | None = None
    """The text being typed after `/`, or None when not typing."""


# ---------------------------------------------------------------- body lines


def body_lines(snapshot: Snapshot, flt: Filter) -> list[Line]:
    """Province, commune and village lines in inventory order, after the filter."""
    lines: list[Line] = []
    seen_province, seen_commune = None, None
    by_commune: dict[str, list[VillageRow]] = {}
    for row in snapshot.villages:
        if flt.matches(row):
            by_commune.setdefault(row.info.commune_id, []).append(row)
    for cid, commune in snapshot.communes.items():
        info = commune.info
        villages = by_commune.get(cid, [])
        if not villages and (flt.narrows_villages() or not flt.place_matches(info.province, info.name, cid)):
            continue
        if info.province != seen_province:
            lines.append(Line("province", info.province))
            seen_province = info.province
        if cid != seen_commune:
            lines.append(Line("commune", info.province, commune))
            seen_commune = cid
        lines += [Line("village", info.province, commune, v) for v in villages]
    return lines


def paginate(lines: Sequence[Line], height: int) -> list[list[Line]]:
    """Split lines into pages of `height`, repeating the province/commune heading on each page."""
    height = max(3, height)
    pages: list[list[Line]] = []
    page: list[Line] = []
    for line in lines:
        if len(page) >= height:
            pages.append(page)
            page = []
            if line.kind == "village":
                page += [Line("province", line.province, context=True),
                         Line("commune", line.province, line.commune, context=True)]
            elif line.kind == "commune":
                page.append(Line("province", line.province, context=True))
        page.append(line)
    if page or not pages:
        pages.append(page)
    return pages
