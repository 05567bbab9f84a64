"""The words of the status view in the language in use: states, flag causes, commune service problems.

The snapshot (analysis.status_view) and its JSON keep the machine words (`unstable`, `link`) and the
English problem texts; the text view shows them through these functions.
"""

from __future__ import annotations

from netmon.analysis.service_report import PROBLEM_TEMPLATES
from netmon.analysis.status_view import State
from netmon.i18n import N_, _, display

# "maint.": "⚒ maintenance" would widen the state column that "≈ unstable*" sets; the note says until when and why.
STATE_WORDS = {State.GOOD: N_("good"), State.DEGRADED: N_("degraded"), State.UNSTABLE: N_("unstable"),
               State.DOWN: N_("down"), State.UNKNOWN: N_("unknown"), State.MAINTENANCE: N_("maint.")}


CAUSE_WORDS = (N_("link"), N_("power"), N_("upstream"), N_("pending"))
"""Flag causes as shown beside a flagged village (translated where shown; the JSON keeps the code)."""


def state_word(state: State) -> str:
    """The state as shown in the language in use (the JSON keeps `state.value`)."""
    return _(STATE_WORDS[state])


def service_words(text: str) -> str:
    """A commune's service problem in the language in use (analysis.service_report writes English for JSON)."""
    for template in PROBLEM_TEMPLATES:
        ending = template.removeprefix("{name}")
        if text.endswith(ending):
            return _(template).format(name=display(text[: -len(ending)]))
    return text
