"""The review queue's cells that depend on the viewer: the tally and "my vote".

Written as f-strings, every value through `escape`, rather than a template or `format_html`:
the queue shows a hundred rows, and a template rendered twice a row was most of the page's
time, then `format_html` most of the rest. The JSON answer to a vote (static/js/review.js puts
it in place) carries the same HTML.
"""

from __future__ import annotations

from html import escape

from django.utils.safestring import mark_safe

from newsletter import permissions
from newsletter.services.votes import vote_tally

from ..models import Submission, Vote

State = Submission.State
# The order of the buttons: for, against, abstain.
VOTE_BUTTONS = [
    (v.value, v.label) for v in (Vote.Value.FOR, Vote.Value.AGAINST, Vote.Value.ABSTAIN)
]


def tally_cell(obj: Submission, user) -> str:
    """For / against / abstain and net, or only how many voted while review is blind."""
    tally = vote_tally(obj)
    visible = permissions.votes_visible(
        submission=obj, viewer=user, has_voted=obj.my_vote is not None
    )
    if visible:
        inner = (
            f'<span class="review-count review-count-for">{tally["yes"]} for</span> / '
            f'<span class="review-count review-count-against">{tally["no"]} against</span> / '
            f'<span class="review-count">{tally["abstain"]} abstain</span> · '
            f'<strong class="review-net">net {tally["net"]:+d}</strong>'
        )
    else:
        total = tally["yes"] + tally["no"] + tally["abstain"]
        inner = f"{total} vote{'' if total == 1 else 's'} · <em>hidden until you vote</em>"
    return mark_safe(  # noqa: S308  (numbers and fixed text)
        f'<span class="review-tally" data-review-cell="tally" data-submission="{obj.pk}">'
        f"{inner}</span>"
    )


def _buttons(obj: Submission) -> str:
    return "".join(
        f'<button type="submit" form="review-vote-{obj.pk}" name="value" value="{value}" '
        f'class="review-vote-button review-vote-{escape(str(text).lower())}" '
        f'aria-pressed="{"true" if obj.my_vote == value else "false"}">{escape(str(text))}</button>'
        for value, text in VOTE_BUTTONS
    )


def my_vote_cell(obj: Submission, user) -> str:
    """The viewer's vote and the buttons to cast or change it (they post the row's form)."""
    label = Vote.Value(obj.my_vote).label if obj.my_vote is not None else ""
    is_mine = obj.author_id == user.pk
    if is_mine:
        inner = '<span class="review-muted">Your submission: the other editors vote</span>'
    elif obj.viewer_can_vote and obj.state == State.PENDING:
        now = f"You: <strong>{escape(str(label))}</strong>" if label else "Not voted yet"
        name, pk = escape(str(obj)), obj.pk
        inner = (
            f'<span class="review-my-vote-now">{now}</span>'
            f'<span class="review-vote-buttons" role="group" aria-label="Vote on “{name}”">'
            f"{_buttons(obj)}</span>"
            f'<label class="visually-hidden" for="review-comment-{pk}">Comment with your vote on '
            f"“{name}” (optional)</label>"
            f'<textarea id="review-comment-{pk}" name="comment" form="review-vote-{pk}" rows="1" '
            'cols="20" maxlength="2000" placeholder="Comment (optional)" class="review-comment">'
            "</textarea>"
        )
    elif label:
        inner = f"You voted <strong>{escape(str(label).lower())}</strong>"
    elif obj.viewer_can_vote:
        inner = '<span class="review-muted">Votes closed</span>'
    else:
        inner = '<span class="review-muted">—</span>'
    return mark_safe(  # noqa: S308  (every value above is escaped or a number)
        f'<div class="review-my-vote" data-review-cell="my_vote" data-submission="{obj.pk}">'
        f"{inner}</div>"
    )
