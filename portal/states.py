"""The one guard every state machine uses: submissions, issues, events (and their RSVPs).

Each machine declares its moves as a table, `{state: {states it may become}}`, and asks
`transition_check` before it changes anything; an illegal move raises `IllegalTransition`
with a sentence for the person who asked ("A published issue cannot become draft.").
"""

from __future__ import annotations

from collections.abc import Mapping, Set

from django.core.exceptions import ValidationError


class IllegalTransition(ValidationError):
    """A move the state machine does not allow; nothing was changed."""


def transition_check(
    transitions: Mapping[str, Set[str]],
    *,
    thing: str,
    from_state: str,
    to_state: str,
    labels: Mapping[str, str],
    hint: str = "",
) -> None:
    """Raise IllegalTransition unless `transitions` allows `from_state` → `to_state`.

    `thing` names what moves ("submission", "issue", "event"); `labels` gives each state's
    display name, so the message reads as the rest of the site does.
    """
    if to_state not in labels:
        raise IllegalTransition(f"“{to_state}” is not a state of any {thing}.", code="illegal")
    if to_state in transitions.get(from_state, ()):
        return
    message = f"A {labels[from_state].lower()} {thing} cannot become {labels[to_state].lower()}."
    raise IllegalTransition(f"{message} {hint}".strip(), code="illegal")
