"""Every write to issues: composing, publishing, scheduling and correcting.

Views, admin pages, commands and the beat task call these functions; none re-implements
them. `issue_transition` is the one way an issue changes state. Each change re-renders and
stores the issue (`Issue.body_html`, `Issue.body_markdown`, each item's HTML), so reader pages
do no Markdown work; a change to a published issue is a correction and shows at once (the
archive's cache keys carry the issues' `updated_at`).
"""

from __future__ import annotations

import logging
from datetime import datetime

from django.contrib.postgres.search import SearchVector
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import Max, Value
from django.utils import timezone

from events.models import Event
from newsletter import rendering
from newsletter.models import Issue, IssueItem, Submission
from portal.pagecache import reader_pages_changed
from portal.states import transition_check
from portal.text import one_line

from .delivery import deliveries_create_for_issue
from .email_delivery import email_sends_create_for_issue
from .search_words import search_words_add
from .submissions import submission_transition

logger = logging.getLogger(__name__)

State = Issue.State
SEARCH_CONFIG = "english"

# Which state may follow which; anything else is refused by `issue_transition`.
TRANSITIONS: dict[str, set[str]] = {
    State.DRAFT: {State.SCHEDULED, State.PUBLISHED},
    State.SCHEDULED: {State.SCHEDULED, State.DRAFT, State.PUBLISHED},  # rescheduling too
    State.PUBLISHED: set(),
}


class IssueError(ValidationError):
    """A change to an issue that is refused, with a message for the editor."""


# --- Creating and editing ------------------------------------------------------------------------


def issue_next_number() -> int:
    return (Issue.objects.aggregate(top=Max("number"))["top"] or 0) + 1


def issue_create(
    *,
    title: str,
    actor=None,
    number: int | None = None,
    introduction: str = "",
    closing: str = "",
) -> Issue:
    """A new draft, numbered after the last issue unless a number is given."""
    number = number or issue_next_number()
    if Issue.objects.filter(number=number).exists():
        raise IssueError(f"Issue #{number} already exists.", code="number")
    issue = Issue.objects.create(
        number=number,
        title=one_line(title),
        introduction=introduction,
        closing=closing,
        state_changed_at=timezone.now(),
        state_changed_by=actor,
    )
    issue_render(issue=issue)
    return issue


def issue_update(
    *,
    issue: Issue,
    actor=None,
    title: str | None = None,
    slug: str | None = None,
    number: int | None = None,
    introduction: str | None = None,
    closing: str | None = None,
) -> Issue:
    """Edit the issue's own text. On a published issue this is a correction."""
    changed = []
    with transaction.atomic():
        locked = Issue.objects.select_for_update().get(pk=issue.pk)
        if number is not None and number != locked.number:
            if locked.state == State.PUBLISHED:
                raise IssueError("A published issue keeps its number: readers link to it.")
            if Issue.objects.filter(number=number).exclude(pk=locked.pk).exists():
                raise IssueError(f"Issue #{number} already exists.", code="number")
            locked.number = number
            changed.append("number")
        for name, value in (("title", title), ("introduction", introduction), ("closing", closing)):
            if value is not None and value != getattr(locked, name):
                setattr(locked, name, one_line(value) if name == "title" else value)
                changed.append(name)
        if slug is not None and slug != locked.slug:
            locked.slug = slug
            changed.append("slug")
        if changed:
            locked.save(update_fields=[*changed, "updated_at"])
            _refresh(locked, actor=actor)
    issue.refresh_from_db()
    return issue


# --- The pool and composing ----------------------------------------------------------------------


def _published_in(submission: Submission) -> Issue | None:
    item = (
        IssueItem.objects.filter(submission=submission, is_published=True)
        .select_related("issue")
        .first()
    )
    return item.issue if item else None


def _check_can_place(submission: Submission, issue: Issue) -> None:
    if submission.state == Submission.State.PUBLISHED:
        other = _published_in(submission)
        where = f"issue #{other.number}" if other else "an earlier issue"
        raise IssueError(
            f"“{submission}” was already published in {where}; "
            "a submission appears in at most one published issue.",
            code="published",
        )
    if submission.state != Submission.State.ACCEPTED:
        raise IssueError(
            f"“{submission}” is {submission.get_state_display().lower()}; "
            "only accepted submissions go in an issue.",
            code="state",
        )


# --- Rendering and search ------------------------------------------------------------------------


def issue_render(*, issue: Issue) -> Issue:
    """Store the web HTML, the Markdown and each item's HTML (and, once published, the
    search vectors on PostgreSQL)."""
    items = list(rendering.issue_items_queryset(issue))
    rendered = rendering.render_issue(issue, items)
    issue.body_html = rendered.body_html
    issue.body_markdown = rendered.body_markdown
    issue.search_text = rendered.search_text
    issue.save(update_fields=["body_html", "body_markdown", "search_text", "updated_at"])
    changed = []
    for item in items:
        title, text = rendered.item_search.get(item.pk, ("", ""))
        html = rendered.item_html.get(item.pk, "")
        if item.html != html or item.search_text != text:
            item.html, item.search_text = html, text
            changed.append(item)
    IssueItem.objects.bulk_update(changed, ["html", "search_text"])
    if issue.state == State.PUBLISHED:
        if connection.vendor == "postgresql":
            _store_search_vectors(issue, items, rendered)
        search_words_add(
            texts=[issue.title, issue.search_text]
            + [f"{title} {text}" for title, text in rendered.item_search.values()]
        )
        # Readers see the publication or the correction at once.
        transaction.on_commit(lambda: reader_pages_changed("archive"))
    return issue


def _store_search_vectors(issue: Issue, items, rendered: rendering.Rendered) -> None:
    """Titles weigh more than text, so a match in a title ranks first."""
    Issue.objects.filter(pk=issue.pk).update(
        search_vector=SearchVector("title", weight="A", config=SEARCH_CONFIG)
        + SearchVector("search_text", weight="B", config=SEARCH_CONFIG)
    )
    for item in items:
        title, _ = rendered.item_search.get(item.pk, ("", ""))
        IssueItem.objects.filter(pk=item.pk).update(
            search_vector=SearchVector(Value(title), weight="A", config=SEARCH_CONFIG)
            + SearchVector("search_text", weight="B", config=SEARCH_CONFIG)
        )


def _refresh(issue: Issue, *, actor=None) -> None:
    """Re-render after a change; on a published issue the change is a correction."""
    if issue.state == State.PUBLISHED:
        issue.corrected_at = timezone.now()
        issue.save(update_fields=["corrected_at", "updated_at"])
    issue_render(issue=issue)


def issue_correct(*, issue: Issue, actor=None) -> Issue:
    """Re-render a published issue now, e.g. after a section's heading or emoji changed."""
    with transaction.atomic():
        locked = Issue.objects.select_for_update().get(pk=issue.pk)
        if locked.state != State.PUBLISHED:
            raise IssueError("Only a published issue can be corrected; edit the draft instead.")
        _refresh(locked, actor=actor)
    issue.refresh_from_db()
    return issue


def issues_rerender_for_author(*, user) -> int:
    """Re-render the published issues crediting a member, after they change name or consent."""
    count = 0
    for issue in Issue.objects.filter(
        items__submission__author=user, state=State.PUBLISHED
    ).distinct():
        issue_correct(issue=issue)
        count += 1
    return count


# --- Publishing ----------------------------------------------------------------------------------


def _publishing_problems(issue: Issue) -> list[str]:
    """Why the issue cannot be published now, in words an editor can act on."""
    items = list(issue.items.select_related("event"))
    if not items:
        return ["Add at least one item before publishing."]
    problems = [
        f"“{item.event}” is {item.event.get_state_display().lower()}; remove it from the issue."
        for item in items
        if item.event is not None and item.event.state != Event.State.PUBLISHED
    ]
    submission_ids = [item.submission_id for item in items if item.submission_id]
    # Locking the submissions makes a second issue publishing the same one wait, then see it.
    for submission in Submission.objects.select_for_update().filter(pk__in=submission_ids):
        try:
            _check_can_place(submission, issue)
        except IssueError as exc:
            problems.extend(exc.messages)
    return problems


def issue_transition(
    *,
    issue: Issue,
    to_state: str,
    actor=None,
    publish_at: datetime | None = None,
    published_at: datetime | None = None,
    error: str = "",
    deliver: bool = True,
) -> Issue:
    """The one way an issue changes state.

    - draft → scheduled (needs `publish_at` in the future), scheduled → draft;
    - draft or scheduled → published: sets the publication time, marks the items published,
      moves each submission to "published" (which emails its submitter), stores the
      renderings and creates the Discord deliveries, all in one transaction.

    `actor=None` means the system (the beat task). Moving to the current state does nothing,
    so a task that runs twice publishes once. `deliver=False` (an imported past edition)
    publishes on the site only: nothing goes to Discord or to the email list.
    """
    with transaction.atomic():
        locked = Issue.objects.select_for_update().get(pk=issue.pk)
        from_state = locked.state
        if to_state == from_state != State.SCHEDULED:
            issue.refresh_from_db()
            return issue
        transition_check(
            TRANSITIONS,
            thing="issue",
            from_state=from_state,
            to_state=to_state,
            labels=dict(State.choices),
        )
        now = timezone.now()
        fields = ["state", "state_changed_at", "state_changed_by", "publish_error", "updated_at"]
        if to_state == State.SCHEDULED:
            if publish_at is None or publish_at <= now:
                raise IssueError(
                    "Choose a publication time in the future, or publish now.", code="time"
                )
            problems = _publishing_problems(locked)
            if problems:
                raise IssueError(problems, code="problems")
            locked.publish_at = publish_at
            fields.append("publish_at")
        elif to_state == State.DRAFT:
            locked.publish_at = None
            fields.append("publish_at")
        elif to_state == State.PUBLISHED:
            problems = _publishing_problems(locked)
            if problems:
                raise IssueError(problems, code="problems")
            try:
                with transaction.atomic():
                    locked.items.update(is_published=True)
            except IntegrityError:
                raise IssueError(
                    "An item of this issue was just published in another issue; reload the page.",
                    code="published",
                ) from None
            for item in locked.items.filter(submission__isnull=False).select_related("submission"):
                submission_transition(
                    submission=item.submission,
                    to_state=Submission.State.PUBLISHED,
                    actor=actor,
                    detail=f"Published in issue #{locked.number}",
                )
            locked.published_at = published_at or now
            locked.published_by = actor
            fields += ["published_at", "published_by"]
        locked.state = to_state
        locked.state_changed_at = now
        locked.state_changed_by = actor
        locked.publish_error = error
        locked.save(update_fields=fields)
        if to_state == State.PUBLISHED:
            issue_render(issue=locked)
            if deliver:
                deliveries_create_for_issue(issue=locked)
                email_sends_create_for_issue(issue=locked)
    issue.refresh_from_db()
    return issue


def issue_publish(
    *, issue: Issue, actor=None, published_at: datetime | None = None, deliver: bool = True
) -> Issue:
    """Publish now (or, for importing old editions, at a given past time and without
    delivering: `deliver=False`)."""
    return issue_transition(
        issue=issue,
        to_state=State.PUBLISHED,
        actor=actor,
        published_at=published_at,
        deliver=deliver,
    )


def issue_schedule(*, issue: Issue, publish_at: datetime, actor=None) -> Issue:
    """Publish at `publish_at`; the beat task looks every minute. Rescheduling is allowed."""
    return issue_transition(
        issue=issue, to_state=State.SCHEDULED, actor=actor, publish_at=publish_at
    )


def issue_unschedule(*, issue: Issue, actor=None) -> Issue:
    return issue_transition(issue=issue, to_state=State.DRAFT, actor=actor)


def issues_publish_due(*, now: datetime | None = None) -> list[Issue]:
    """Publish every scheduled issue whose time has come (the beat task's work).

    Each issue publishes in its own transaction. One that cannot be published goes back to
    draft with the reason, shown to editors in the admin, instead of failing every minute.
    """
    now = now or timezone.now()
    published = []
    for pk in Issue.objects.due(now).order_by("publish_at", "number").values_list("pk", flat=True):
        try:
            with transaction.atomic():
                locked = Issue.objects.select_for_update().filter(pk=pk).first()
                if locked is None or locked.state != State.SCHEDULED or locked.publish_at > now:
                    continue  # unscheduled, rescheduled or published meanwhile
                published.append(issue_transition(issue=locked, to_state=State.PUBLISHED))
        except IssueError as exc:
            reason = " ".join(exc.messages)
            logger.warning("Scheduled issue %s was not published: %s", pk, reason)
            issue = Issue.objects.filter(pk=pk, state=State.SCHEDULED).first()
            if issue is not None:
                issue_transition(
                    issue=issue,
                    to_state=State.DRAFT,
                    error=f"Not published at the scheduled time: {reason}",
                )
    return published
