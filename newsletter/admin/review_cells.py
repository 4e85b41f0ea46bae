"""The review queue's cells that depend on the viewer: the tally and "my vote".

Written with `format_html` rather than a template: the queue shows a hundred rows, and a
template rendered twice a row was most of the page's time. The JSON answer to a vote
(static/js/review.js puts it in place) carries the same HTML.
"""

from __future__ import annotations

from django.utils.html import format_html, format_html_join

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
        inner = format_html(
            '<span class="review-count review-count-for">{} for</span> / '
            '<span class="review-count review-count-against">{} against</span> / '
            '<span class="review-count">{} abstain</span> · '
            '<strong class="review-net">net {}</strong>',
            tally["yes"],
            tally["no"],
            tally["abstain"],
            f"{tally['net']:+d}",
        )
    else:
        total = tally["yes"] + tally["no"] + tally["abstain"]
        inner = format_html(
            "{} vote{} · <em>hidden until you vote</em>", total, "" if total == 1 else "s"
        )
    return format_html(
        '<span class="review-tally" data-review-cell="tally" data-submission="{}">{}</span>',
        obj.pk,
        inner,
    )


def my_vote_cell(obj: Submission, user) -> str:
    """The viewer's vote and the buttons to cast or change it (they post the row's form)."""
    label = Vote.Value(obj.my_vote).label if obj.my_vote is not None else ""
    is_mine = obj.author_id == user.pk
    if is_mine:
        inner = format_html(
            '<span class="review-muted">{}</span>', "Your submission: the other editors vote"
        )
    elif obj.viewer_can_vote and obj.state == State.PENDING:
        now = format_html("You: <strong>{}</strong>", label) if label else "Not voted yet"
        buttons = format_html_join(
            "",
            '<button type="submit" form="review-vote-{}" name="value" value="{}" '
            'class="review-vote-button review-vote-{}" aria-pressed="{}">{}</button>',
            (
                (
                    obj.pk,
                    value,
                    str(text).lower(),
                    "true" if obj.my_vote == value else "false",
                    text,
                )
                for value, text in VOTE_BUTTONS
            ),
        )
        inner = format_html(
            '<span class="review-my-vote-now">{}</span>'
            '<span class="review-vote-buttons" role="group" aria-label="Vote on “{}”">{}</span>'
            '<label class="visually-hidden" for="review-comment-{}">Comment with your vote on '
            "“{}” (optional)</label>"
            '<textarea id="review-comment-{}" name="comment" form="review-vote-{}" rows="1" '
            'cols="20" maxlength="2000" placeholder="Comment (optional)" class="review-comment">'
            "</textarea>",
            now,
            obj,
            buttons,
            obj.pk,
            obj,
            obj.pk,
            obj.pk,
        )
    elif label:
        inner = format_html("You voted <strong>{}</strong>", label.lower())
    elif obj.viewer_can_vote:
        inner = format_html('<span class="review-muted">{}</span>', "Votes closed")
    else:
        inner = format_html('<span class="review-muted">{}</span>', "—")
    return format_html(
        '<div class="review-my-vote" data-review-cell="my_vote" data-submission="{}">{}</div>',
        obj.pk,
        inner,
    )
