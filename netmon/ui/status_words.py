"""The words of the status view in the language in use: states, flag causes, commune service problems.

The snapshot (status_model) and its JSON keep the machine words (`unstable`, `link`) and the
English problem texts; the text view shows them through these functions.
"""

from __future__ import annotations

from netmon.i18n import N_, _, display
from netmon.ui.status_model import State

# "maint.": "⚒ maintenance" would widen the state column that "≈ unstable*" sets; the note says until when and why.
STATE_WORDS = {State.GOOD: N_("good"), State.DEGRADED: N_("degraded"), State.UNSTABLE: N_("unstable"),
               State.DOWN: N_("down"), State.UNKNOWN: N_("unknown"), State.MAINTENANCE: N_("maint.")}


CAUSE_WORDS = (N_("link"), N_("power"), N_("upstream"), N_("pending"))
"""Flag causes as shown beside a flagged village (translated where shown; the JSON keeps the code)."""


def state_word(state: State) -> str:
    """The state as shown in the language in use (the JSON keeps `state.value`)."""
    return _(STATE_WORDS[state])


_SERVICE_SHAPES = (
    (" unreachable from this place only (other places reach it): link?",
     N_("{name} unreachable from this place only (other places reach it): link?")),
    (" failing now and then (seen from one place)", N_("{name} failing now and then (seen from one place)")),
    (": service down (seen from one place)", N_("{name}: service down (seen from one place)")),
    (" down from every place that checks it: the service itself",
     N_("{name} down from every place that checks it: the service itself")),
)


def service_words(text: str) -> str:
    """A commune's service problem (status_model writes it in English, as the JSON keeps it) in the language in use."""
    for ending, template in _SERVICE_SHAPES:
        if text.endswith(ending):
            return _(template).format(name=display(text[: -len(ending)]))
    return text
