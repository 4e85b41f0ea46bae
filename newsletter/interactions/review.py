"""/review: the oldest pending submission an editor has not voted on, with For / Against / Skip.

Votes go through `vote_cast` (one per editor, no self-vote, the acceptance rule); the card
follows the blind-review rule of the review page: no tally before one's own vote.
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count, Q

from newsletter.models import Submission, Vote
from newsletter.permissions import can_vote, votes_visible
from newsletter.services.votes import vote_cast, vote_tally

from . import replies
from .accounts import member_for

VALUES = {"for": Vote.Value.FOR, "against": Vote.Value.AGAINST}
REFUSAL = "Only editors can review submissions. Editors link their Discord account on the site."


def next_for(editor, *, after: Submission | None = None) -> Submission | None:
    """The oldest pending submission, not the editor's own, without their counted vote."""
    queue = (
        Submission.objects.pending()
        .exclude(author=editor)
        .exclude(votes__editor=editor, votes__stale=False)
        .order_by("created_at", "id")
    )
    if after is not None:
        queue = queue.filter(
            Q(created_at__gt=after.created_at) | Q(created_at=after.created_at, id__gt=after.id)
        )
    return queue.select_related("author").first()


def _duplicates(submission: Submission) -> str:
    """Other submissions (in any state) with the same link or title, counted in one query."""
    same_link, same_title = Q(canonical_key=submission.canonical_key), Q(pk__in=[])
    if submission.title:
        same_title = Q(title__iexact=submission.title)
    counts = (
        Submission.objects.filter(same_link | same_title)
        .exclude(pk=submission.pk)
        .aggregate(link=Count("pk", filter=same_link), title=Count("pk", filter=same_title))
    )
    warnings = [
        f"{count} other{'s' if count != 1 else ''} with the same {what}"
        for what, count in (("link", counts["link"]), ("title", counts["title"]))
        if count
    ]
    return f"⚠ Possible duplicate: {', '.join(warnings)}.\n" if warnings else ""


def card(editor, submission: Submission | None, notice: str = "") -> dict:
    """The ephemeral review message for `submission` (or the end of the queue)."""
    head = f"{notice}\n" if notice else ""
    if submission is None:
        return replies.message_data(head + "Nothing left to review: thank you!")
    needed = settings.NEWSLETTER_VOTES_TO_ACCEPT
    rule = f"Accepted by itself with {needed} votes for and none against. " + (
        "Blind review: the others' votes show after yours, on the site."
        if settings.NEWSLETTER_BLIND_REVIEW
        else ""
    )
    if votes_visible(submission=submission, viewer=editor, has_voted=False):
        tally = vote_tally(submission)
        rule += f"Votes so far: {tally['yes']} for, {tally['no']} against."
    summary = replies.cut(submission.summary or "(no summary yet)", 900)
    text = (
        f"{head}**{replies.cut(submission.title or submission.url, 200)}** "
        f"({submission.get_kind_display()})\n<{submission.url}>\n{summary}\n"
        f"{_duplicates(submission)}{rule}"
    )
    pk = submission.pk
    buttons = replies.row(
        replies.button("For", f"review:for:{pk}", style=3),
        replies.button("Against", f"review:against:{pk}", style=4),
        replies.button("Skip", f"review:skip:{pk}", style=2),
    )
    return replies.message_data(text, [buttons])


def _editor(interaction: dict):
    editor = member_for(str(replies.discord_user(interaction).get("id") or ""))
    return editor if editor is not None and can_vote(editor) else None


def review_command(interaction: dict) -> dict:
    editor = _editor(interaction)
    if editor is None:
        return replies.ephemeral(REFUSAL)
    return {"type": replies.MESSAGE, "data": card(editor, next_for(editor))}


def review_button(interaction: dict, action: str, submission_id: str) -> dict:
    """A button on the card: vote (or skip), then show the next one in the same message."""
    editor = _editor(interaction)
    if editor is None:
        return replies.ephemeral(REFUSAL)
    submission = (
        Submission.objects.filter(pk=submission_id).first() if submission_id.isdigit() else None
    )
    if submission is None:
        return {
            "type": replies.UPDATE_MESSAGE,
            "data": card(editor, next_for(editor), "That submission is gone."),
        }
    notice = "Skipped."
    if action in VALUES:
        try:
            vote = vote_cast(submission=submission, editor=editor, value=VALUES[action])
        except (PermissionDenied, ValidationError) as exc:
            notice = " ".join(getattr(exc, "messages", None) or [str(exc)])
        else:
            accepted = vote.submission.state == Submission.State.ACCEPTED  # the locked row
            notice = f"Voted {action}." + (" It is now accepted." if accepted else "")
    return {
        "type": replies.UPDATE_MESSAGE,
        "data": card(editor, next_for(editor, after=submission), notice),
    }
