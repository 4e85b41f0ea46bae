"""Every write to submissions goes through these functions: the submission state machine.

Views, admin actions, commands and tasks call them; none re-implements them.
Follow-up work (emails, metadata fetches) is queued by task name after commit,
so a task never runs against a row that was rolled back.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from newsletter.links.canonical import CANONICAL_VERSION, canonical_key, clean_url
from newsletter.models import (
    TOPICS_PER_SUBMISSION,
    Activity,
    ExtraLink,
    Notification,
    Submission,
    Topic,
)
from newsletter.permissions import can_decide
from portal.celery import queue_after_commit
from portal.markdown import render_markdown
from portal.pagecache import reader_pages_changed
from portal.states import IllegalTransition, transition_check
from portal.text import one_line, strip_controls

State = Submission.State
REJECT_NOTE_MAX = 1000
# How long a member may take back a withdrawal.
WITHDRAW_UNDO_SECONDS = 60


class DuplicateSubmission(ValidationError):
    """The link is already in the system; `existing` says where."""

    def __init__(self, existing: Submission):
        self.existing = existing
        super().__init__(duplicate_message(existing), code="duplicate")


class SubmissionLimitReached(ValidationError):
    pass


# Which state may follow which. Anything else is refused by `submission_transition`.
TRANSITIONS: dict[str, set[str]] = {
    State.PENDING: {State.ACCEPTED, State.REJECTED, State.WITHDRAWN},
    State.ACCEPTED: {State.PUBLISHED, State.REJECTED, State.PENDING},
    State.REJECTED: {State.PENDING},
    State.WITHDRAWN: set(),
    State.PUBLISHED: set(),
}
# Only the submitter's own undo, within WITHDRAW_UNDO_SECONDS (`submission_withdraw_undo`).
UNDO_TRANSITIONS = {**TRANSITIONS, State.WITHDRAWN: {State.PENDING}}


@dataclass(frozen=True)
class DuplicateAnswer:
    """What the form says about a link that is already known."""

    submission: Submission
    message: str
    url: str | None


def duplicate_message(existing: Submission) -> str:
    if existing.state == State.PUBLISHED:
        item = existing.issue_items.filter(is_published=True).select_related("issue").first()
        if item:
            return f"This link was already published in issue #{item.issue.number}."
        return "This link was already published."
    if existing.state == State.ACCEPTED:
        return "This link was already submitted and accepted; it will be in an upcoming issue."
    return "This link was already submitted and is waiting for review."


def duplicate_answer(existing: Submission, *, viewer=None) -> DuplicateAnswer:
    """The message and the most useful link for a duplicate, for the form and its JSON."""
    url = None
    if existing.state == State.PUBLISHED:
        item = existing.issue_items.filter(is_published=True).select_related("issue").first()
        if item:
            url = f"{item.issue.get_absolute_url()}#{item.anchor}"
    elif viewer is not None and viewer.pk == existing.author_id:
        url = existing.get_absolute_url()
    return DuplicateAnswer(existing, duplicate_message(existing), url)


def submission_find_duplicate(url: str) -> Submission | None:
    """The live submission with the same canonical link, if any."""
    try:
        key = canonical_key(url)
    except ValueError:
        return None
    return Submission.objects.live().filter(canonical_key=key).first()


def submissions_today(author) -> int:
    since = timezone.now() - timedelta(days=1)
    return Submission.objects.filter(author=author, created_at__gte=since).count()


def _log(submission: Submission, action: str, actor=None, detail: str = "", **fields) -> None:
    """Record a change in the activity log; every change is logged, so here the member's
    cached "My submissions" page is also retired once it commits."""
    Activity.objects.create(
        submission=submission, actor=actor, action=action, detail=detail, **fields
    )
    transaction.on_commit(lambda: reader_pages_changed("submissions"))


def _check_one_line(*urls: str) -> None:
    """A link with a line break or tab in it would add lines to the Discord messages and the
    Markdown download: refused, whichever way it came in (forms check it first, kindly)."""
    for url in urls:
        if any(char.isspace() or unicodedata.category(char) == "Cc" for char in url.strip()):
            raise ValidationError(
                "A link cannot contain spaces, line breaks or tabs.", code="invalid"
            )


def _set_extra_links(submission: Submission, extra_links: Iterable[tuple[str, str]]) -> None:
    extra_links = list(extra_links)
    _check_one_line(*(url for _, url in extra_links))
    submission.extra_links.all().delete()
    ExtraLink.objects.bulk_create(
        ExtraLink(submission=submission, label=one_line(label), url=url, position=i)
        for i, (label, url) in enumerate(extra_links)
    )


def topics_check(topics: Iterable[Topic]) -> list[Topic]:
    """At most TOPICS_PER_SUBMISSION topics, each once."""
    topics = list(dict.fromkeys(topics))
    if len(topics) > TOPICS_PER_SUBMISSION:
        raise ValidationError(
            f"Pick at most {TOPICS_PER_SUBMISSION} topics; you picked {len(topics)}.",
            code="topics",
        )
    return topics


def topic_names(submission: Submission) -> list[str]:
    return sorted(topic.name for topic in submission.topics.all())


def submission_create(
    *,
    author,
    url: str,
    kind: str,
    title: str = "",
    summary: str = "",
    note_to_editors: str = "",
    extra_links: Sequence[tuple[str, str]] = (),
    flood_limit: bool = True,
    source: str = Submission.Source.WEBSITE,
    topics: Iterable[Topic] = (),
) -> Submission:
    """Store a member's link, refusing duplicates and floods; fetch details if missing.

    `flood_limit=False`: an editor importing a past edition's links, not a member sharing.
    """
    _check_one_line(url, *(link for _, link in extra_links))
    topics = topics_check(topics)
    key = canonical_key(url)  # raises ValueError for non-http(s) links
    summary, note_to_editors = strip_controls(summary), strip_controls(note_to_editors)
    limit = settings.NEWSLETTER_SUBMISSIONS_PER_DAY
    try:
        with transaction.atomic():
            # Lock the member's row: their submissions are counted and stored one at a time,
            # so simultaneous posts cannot all slip under the daily limit.
            get_user_model().objects.select_for_update().filter(pk=author.pk).first()
            if flood_limit and submissions_today(author) >= limit:
                raise SubmissionLimitReached(
                    f"You have reached today's limit of {limit} submissions. "
                    "Thank you for sharing so much! Please come back tomorrow.",
                    code="limit",
                )
            existing = Submission.objects.live().filter(canonical_key=key).first()
            if existing:
                raise DuplicateSubmission(existing)
            submission = Submission.objects.create(
                author=author,
                url=clean_url(url),
                canonical_key=key,
                canonical_version=CANONICAL_VERSION,
                kind=kind,
                title=one_line(title),
                summary=summary,
                summary_html=render_markdown(summary),
                note_to_editors=note_to_editors,
                original_title=one_line(title),
                original_summary=summary,
                source=source,
            )
            _set_extra_links(submission, extra_links)
            submission.topics.set(topics)
            _log(submission, Activity.Action.SUBMITTED, author, to_state=State.PENDING)
    except IntegrityError:
        # Another request stored the same link between our check and our insert.
        existing = Submission.objects.live().filter(canonical_key=key).first()
        if existing:
            raise DuplicateSubmission(existing) from None
        raise
    if not submission.title or not submission.summary:
        queue_after_commit("newsletter.fetch_submission_metadata", submission_id=submission.pk)
    return submission


def submission_update(
    *,
    submission: Submission,
    actor,
    url: str | None = None,
    kind: str | None = None,
    title: str | None = None,
    summary: str | None = None,
    note_to_editors: str | None = None,
    extra_links: Sequence[tuple[str, str]] | None = None,
    topics: Iterable[Topic] | None = None,
) -> Submission:
    """An author edits their pending submission, or an editor edits before deciding.

    The submitter's original title and summary stay in `original_*`, and the edit
    is recorded in the activity log.
    """
    is_author = actor.pk == submission.author_id
    _check_may_edit(submission, actor, is_author=is_author)
    topics = None if topics is None else topics_check(topics)
    before = {field: getattr(submission, field) for field in _SHOWN_CHANGES}
    with transaction.atomic():
        # Votes are cast under the same lock: an edit and a vote never interleave.
        Submission.objects.select_for_update().filter(pk=submission.pk).first()
        changed = _change_link(submission, url) if url is not None and is_author else []
        changed += _change_fields(
            submission,
            kind=kind,
            title=None if title is None else one_line(title),
            summary=None if summary is None else strip_controls(summary),
            note_to_editors=(
                strip_controls(note_to_editors)
                if note_to_editors is not None and is_author
                else None
            ),
        )
        if is_author:
            # The author's own words are the "original" editors can compare against.
            for field in ("title", "summary"):
                if field in changed:
                    setattr(submission, f"original_{field}", getattr(submission, field))
                    changed.append(f"original_{field}")
        if changed:
            submission.save(update_fields=[*changed, "updated_at"])
            fields = sorted(
                {f for f in changed if not f.startswith(("original_", "canonical_"))}
                - {"summary_html"}
            )
            detail = "Changed " + ", ".join(fields)
            if not is_author:
                detail += " (the submitter's original text is kept)"
            elif {"url", "summary"} & set(changed):
                detail += _votes_go_stale(submission)
            _log(
                submission,
                Activity.Action.EDITED,
                actor,
                detail=detail,
                changes={
                    field: [before[field], getattr(submission, field)]
                    for field in _SHOWN_CHANGES
                    if field in changed
                },
            )
        if extra_links is not None:
            _set_extra_links(submission, extra_links)
        if topics is not None:
            topics_change(submission, topics, actor)
    return submission


def topics_change(submission: Submission, topics: list[Topic], actor) -> bool:
    """Set the topics; a change is logged with the names before and after. True if changed."""
    before = topic_names(submission)
    after = sorted(topic.name for topic in topics)
    if before == after:
        return False
    submission.topics.set(topics)
    _log(
        submission,
        Activity.Action.EDITED,
        actor,
        detail="Changed topics",
        changes={"topics": [", ".join(before), ", ".join(after)]},
    )
    return True


# The fields whose before and after the activity log keeps for editors.
_SHOWN_CHANGES = ("url", "kind", "title", "summary", "note_to_editors")


def _votes_go_stale(submission: Submission) -> str:
    """The submitter changed what editors voted on: their votes stop counting (bait and
    switch: a vote for one link must not accept another). Returns words for the log."""
    stale = submission.votes.filter(stale=False).update(stale=True)
    if not stale:
        return ""
    return (
        f"; back to review: the {stale} vote{'s' if stale != 1 else ''} cast before no longer count"
    )


def _check_may_edit(submission: Submission, actor, *, is_author: bool) -> None:
    if is_author and submission.state != State.PENDING:
        raise PermissionDenied("Only a submission waiting for review can be edited.")
    if not is_author and not can_decide(actor):
        raise PermissionDenied("Only the submitter or an editor can edit a submission.")
    if not is_author and submission.state not in (State.PENDING, State.ACCEPTED):
        raise PermissionDenied("A decided submission can no longer be edited.")


def _change_link(submission: Submission, url: str) -> list[str]:
    """A new link, unless it is the same one or another live submission has it."""
    _check_one_line(url)
    key = canonical_key(url)
    if key == submission.canonical_key:
        return []
    other = Submission.objects.live().filter(canonical_key=key).exclude(pk=submission.pk).first()
    if other is not None:
        raise DuplicateSubmission(other)
    submission.url = clean_url(url)
    submission.canonical_key = key
    submission.canonical_version = CANONICAL_VERSION
    return ["url", "canonical_key", "canonical_version"]


def _change_fields(submission: Submission, **values: str | None) -> list[str]:
    """Set each given value that differs; the summary brings its rendering along."""
    changed = []
    for field, value in values.items():
        if value is None or value == getattr(submission, field):
            continue
        setattr(submission, field, value)
        changed.append(field)
        if field == "summary":
            submission.summary_html = render_markdown(value)
            changed.append("summary_html")
    return changed


def submission_transition(
    *,
    submission: Submission,
    to_state: str,
    actor=None,
    reason: str = "",
    note: str = "",
    detail: str = "",
    undo: bool = False,
) -> Submission:
    """The one way a submission changes state.

    Refuses illegal moves (`undo=True` allows the submitter's undo of a withdrawal), records
    who, when, from and to, and queues the submitter's email after commit. `actor=None` means the system (the vote rule,
    a scheduled publication).
    """
    if to_state not in State.values:
        raise IllegalTransition(f"“{to_state}” is not a state of any submission.", code="illegal")
    if to_state == State.REJECTED:
        if reason not in Submission.RejectReason.values:
            raise ValidationError(
                "Choose a reason for the rejection; the submitter will see it.", code="reason"
            )
        if len(note) > REJECT_NOTE_MAX:
            raise ValidationError(
                f"The note to the submitter has at most {REJECT_NOTE_MAX} characters.",
                code="note",
            )
    with transaction.atomic():
        locked = Submission.objects.select_for_update().get(pk=submission.pk)
        from_state = locked.state
        if to_state == from_state:
            submission.refresh_from_db()
            return submission
        transition_check(
            UNDO_TRANSITIONS if undo else TRANSITIONS,
            thing="submission",
            from_state=from_state,
            to_state=to_state,
            labels=dict(State.choices),
        )
        locked.state = to_state
        locked.state_changed_at = timezone.now()
        fields = ["state", "state_changed_at", "updated_at"]
        if to_state in (State.ACCEPTED, State.REJECTED, State.PENDING):
            # Reopening clears the decision: nobody has decided the item any more.
            locked.decided_by = actor if to_state != State.PENDING else None
            fields.append("decided_by")
        if to_state == State.REJECTED:
            locked.reject_reason = reason
            locked.reject_note = note
            fields += ["reject_reason", "reject_note"]
        elif from_state == State.REJECTED:
            locked.reject_reason = ""
            locked.reject_note = ""
            fields += ["reject_reason", "reject_note"]
        try:
            with transaction.atomic():
                locked.save(update_fields=fields)
        except IntegrityError:
            # Reopening a rejected link that was submitted again meanwhile: one live item per link.
            raise IllegalTransition(
                "This link was submitted again and that submission is still live; "
                "decide on that one instead.",
                code="duplicate",
            ) from None
        if to_state == State.REJECTED:
            label = Submission.RejectReason(reason).label
            detail = detail or (f"{label}: {note}" if note else label)
        _log(
            locked,
            Activity.Action.STATE,
            actor,
            detail=detail,
            from_state=from_state,
            to_state=to_state,
        )
        if to_state in Notification.Kind.values:
            # Each decision is emailed once. A new decision of a kind already emailed (rejected
            # again after a reopen, with a new reason) is news: its old row makes way for one.
            Notification.objects.filter(
                submission=locked, kind=to_state, sent_at__isnull=False
            ).delete()
            notification, _ = Notification.objects.get_or_create(submission=locked, kind=to_state)
            # An unsent row (its task lost) is queued again, which is safe: the task checks.
            queue_after_commit("newsletter.send_notification", notification_id=notification.pk)
    submission.refresh_from_db()
    return submission


def submission_withdraw(*, submission: Submission, actor) -> Submission:
    if actor.pk != submission.author_id:
        raise PermissionDenied("Only the submitter can withdraw a submission.")
    if submission.state != State.PENDING:
        raise IllegalTransition(
            f"This submission is {submission.get_state_display().lower()}; "
            "only a submission waiting for review can be withdrawn.",
            code="illegal",
        )
    return submission_transition(submission=submission, to_state=State.WITHDRAWN, actor=actor)


def withdraw_undo_until(submission: Submission) -> datetime | None:
    """Until when the submitter may take back their withdrawal; None when they no longer can."""
    if submission.state != State.WITHDRAWN:
        return None
    until = submission.state_changed_at + timedelta(seconds=WITHDRAW_UNDO_SECONDS)
    return until if until > timezone.now() else None


def submission_withdraw_undo(*, submission: Submission, actor) -> Submission:
    """Take back a withdrawal within the minute: the submission waits for review again, as it
    was (its votes, endorsements and activity were never touched)."""
    if actor.pk != submission.author_id:
        raise PermissionDenied("Only the submitter can undo a withdrawal.")
    submission.refresh_from_db(fields=["state", "state_changed_at"])
    if withdraw_undo_until(submission) is None:
        raise IllegalTransition(
            "A withdrawal can be undone for a minute only; submit the link again instead.",
            code="too-late",
        )
    return submission_transition(
        submission=submission,
        to_state=State.PENDING,
        actor=actor,
        detail="The submitter undid the withdrawal",
        undo=True,
    )


def submission_resubmit(*, submission: Submission, actor, **changes) -> Submission:
    """The submitter edits a rejected submission and sends it back for review.

    One transaction: back to pending (the rejection's reason is cleared), then the edit. The
    votes cast before stop counting, so every editor reviews the new version afresh and finds
    it in the queue under "not voted yet".
    """
    if actor.pk != submission.author_id:
        raise PermissionDenied("Only the submitter can send a submission back for review.")
    if submission.state != State.REJECTED:
        raise IllegalTransition(
            "Only a rejected submission can be edited and sent back for review.", code="illegal"
        )
    with transaction.atomic():
        submission_transition(
            submission=submission,
            to_state=State.PENDING,
            actor=actor,
            detail="Edited and sent back for review by the submitter",
        )
        stale = submission.votes.filter(stale=False).update(stale=True)
        if stale:
            _log(
                submission,
                Activity.Action.EDITED,
                actor,
                detail=f"The {stale} vote{'s' if stale != 1 else ''} cast before no longer count",
            )
        submission_update(submission=submission, actor=actor, **changes)
    submission.refresh_from_db()
    return submission


def submission_apply_metadata(
    *, submission: Submission, metadata: dict, error: str = ""
) -> Submission:
    """Fill the title and summary a member left empty from fetched details."""
    with transaction.atomic():
        locked = Submission.objects.select_for_update().get(pk=submission.pk)
        locked.metadata = metadata
        locked.metadata_error = error
        locked.metadata_fetched_at = timezone.now()
        fields = ["metadata", "metadata_error", "metadata_fetched_at", "updated_at"]
        filled = []
        if not locked.title and metadata.get("title"):
            locked.title = one_line(metadata["title"])[:300]
            fields.append("title")
            filled.append("title")
        if not locked.summary and metadata.get("summary"):
            locked.summary = metadata["summary"]
            locked.summary_html = render_markdown(locked.summary)
            fields += ["summary", "summary_html"]
            filled.append("summary")
        locked.save(update_fields=fields)
        detail = (
            f"Filled {', '.join(filled)} from {metadata.get('source', 'the page')}"
            if filled
            else ""
        )
        _log(locked, Activity.Action.METADATA, None, detail=error or detail or "Fetched details")
    return locked


def followups_sweep(*, now: datetime | None = None) -> int:
    """Queue again the follow-up work of submissions that never ran; returns how many.

    Emails not sent and details never fetched (the broker was down when they were queued, or
    a worker died): older than NEWSLETTER_SWEEP_AFTER seconds, so work still waiting in the
    queue is left alone, and younger than a day, so nothing is retried for ever. Running a
    task twice is safe: each checks its row first.
    """
    now = now or timezone.now()
    window = {
        "created_at__lte": now - timedelta(seconds=settings.NEWSLETTER_SWEEP_AFTER),
        "created_at__gte": now - timedelta(days=1),
    }
    emails = Notification.objects.filter(sent_at__isnull=True, **window).values_list(
        "pk", flat=True
    )
    fetches = (
        Submission.objects.filter(metadata_fetched_at__isnull=True, **window)
        .filter(Q(title="") | Q(summary=""))
        .values_list("pk", flat=True)
    )
    queued = 0
    for pk in emails:
        queue_after_commit("newsletter.send_notification", notification_id=pk)
        queued += 1
    for pk in fetches:
        queue_after_commit("newsletter.fetch_submission_metadata", submission_id=pk)
        queued += 1
    return queued
