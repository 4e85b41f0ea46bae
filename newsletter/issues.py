"""Every write to issues: composing, publishing, scheduling and correcting.

Views, admin pages, commands and the beat task call these functions; none re-implements
them. `issue_transition` is the one way an issue changes state. Each change re-renders and
stores the issue (`Issue.body_html`, `Issue.body_markdown`, each item's HTML), so reader pages
do no Markdown work; a change to a published issue is a correction and shows at once (the
archive's cache keys carry the issues' `updated_at`).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.postgres.search import SearchVector
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import Max, QuerySet, Value
from django.utils import timezone

from events.models import Event
from portal.pagecache import reader_pages_changed

from . import rendering
from .models import Issue, IssueItem, Section, Submission
from .services import submission_transition

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
        title=title.strip(),
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
                setattr(locked, name, value.strip() if name == "title" else value)
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


def issue_pool(*, issue: Issue | None = None) -> QuerySet[Submission]:
    """Accepted submissions not yet in a published issue (nor in `issue`), oldest first.

    An accepted submission is by definition not published: publishing moves it to
    "published". Submissions placed in another draft stay in the pool until that one is
    published.
    """
    pool = Submission.objects.accepted().select_related("author").order_by("state_changed_at", "id")
    if issue is not None:
        pool = pool.exclude(issue_items__issue=issue)
    return pool


def issue_events_window(*, now: datetime | None = None) -> QuerySet[Event]:
    """Published events starting within NEWSLETTER_EVENTS_WEEKS weeks of `now`."""
    now = now or timezone.now()
    until = now + timedelta(weeks=settings.NEWSLETTER_EVENTS_WEEKS)
    return Event.objects.published().filter(start__gte=now, start__lt=until).order_by("start", "id")


def section_for_kind(kind: str) -> Section | None:
    """The first section (by position) collecting a kind of submission."""
    for section in Section.objects.filter(collects_events=False).order_by("position", "id"):
        if kind in section.kinds:
            return section
    return None


def events_section() -> Section | None:
    return Section.objects.filter(collects_events=True).order_by("position", "id").first()


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


def _next_position(issue: Issue, section: Section) -> int:
    top = IssueItem.objects.filter(issue=issue, section=section).aggregate(top=Max("position"))
    return 0 if top["top"] is None else top["top"] + 1


def _add_item(
    issue: Issue,
    *,
    submission: Submission | None = None,
    event: Event | None = None,
    section: Section | None = None,
    blurb: str = "",
    actor=None,
) -> IssueItem:
    """Place one submission or event (without re-rendering). `issue` is locked by the caller."""
    if (submission is None) == (event is None):
        raise IssueError("Add either a submission or an event.")
    if submission is not None:
        submission = Submission.objects.select_for_update().get(pk=submission.pk)
        _check_can_place(submission, issue)
        if issue.items.filter(submission=submission).exists():
            raise IssueError(f"“{submission}” is already in this issue.", code="duplicate")
        section = section or section_for_kind(submission.kind)
        if section is None:
            raise IssueError(
                f"No section collects {submission.get_kind_display().lower()}s; choose one.",
                code="section",
            )
    else:
        if event.state != Event.State.PUBLISHED:
            raise IssueError(f"“{event}” is not a published event.", code="state")
        if issue.items.filter(event=event).exists():
            raise IssueError(f"“{event}” is already in this issue.", code="duplicate")
        section = section or events_section()
        if section is None:
            raise IssueError("No section collects events; choose one.", code="section")
    published = issue.state == State.PUBLISHED
    try:
        with transaction.atomic():
            item = IssueItem.objects.create(
                issue=issue,
                section=section,
                submission=submission,
                event=event,
                blurb=blurb,
                position=_next_position(issue, section),
                is_published=published,
            )
    except IntegrityError:
        raise IssueError(
            f"“{submission or event}” is already published in another issue.", code="published"
        ) from None
    if published and submission is not None:
        # Added in a correction: it is published the moment it is added.
        submission_transition(
            submission=submission,
            to_state=Submission.State.PUBLISHED,
            actor=actor,
            detail=f"Published in issue #{issue.number}",
        )
    return item


def issue_item_add(
    *,
    issue: Issue,
    submission: Submission | None = None,
    event: Event | None = None,
    section: Section | None = None,
    blurb: str = "",
    actor=None,
) -> IssueItem:
    """Add an accepted submission or a published event at the end of its section."""
    with transaction.atomic():
        locked = Issue.objects.select_for_update().get(pk=issue.pk)
        item = _add_item(
            locked, submission=submission, event=event, section=section, blurb=blurb, actor=actor
        )
        _refresh(locked, actor=actor)
    return item


def issue_items_add(
    *,
    issue: Issue,
    submissions: Sequence[tuple[Submission, Section | None]] = (),
    events: Sequence[Event] = (),
    actor=None,
) -> list[IssueItem]:
    """Add several submissions (each to the given section, or its kind's) and events at once:
    all or none, and the issue rendered once."""
    with transaction.atomic():
        locked = Issue.objects.select_for_update().get(pk=issue.pk)
        added = [
            _add_item(locked, submission=submission, section=section, actor=actor)
            for submission, section in submissions
        ]
        added += [_add_item(locked, event=event, actor=actor) for event in events]
        if added:
            _refresh(locked, actor=actor)
    return added


def issue_fill(*, issue: Issue, actor=None, now: datetime | None = None) -> list[IssueItem]:
    """Add the whole pool, each submission to the section of its kind, and the upcoming events.

    Submissions whose kind no section collects stay in the pool. Editors then remove, move
    and reorder what they like.
    """
    added = []
    with transaction.atomic():
        locked = Issue.objects.select_for_update().get(pk=issue.pk)
        if locked.state == State.PUBLISHED:
            raise IssueError("A published issue is not filled from the pool; add items one by one.")
        sections = list(Section.objects.filter(collects_events=False).order_by("position", "id"))
        for submission in issue_pool(issue=locked):
            section = next((s for s in sections if submission.kind in s.kinds), None)
            if section is not None:
                added.append(_add_item(locked, submission=submission, section=section, actor=actor))
        if (section := events_section()) is not None:
            present = set(
                locked.items.filter(event__isnull=False).values_list("event_id", flat=True)
            )
            for event in issue_events_window(now=now):
                if event.pk not in present:
                    added.append(_add_item(locked, event=event, section=section, actor=actor))
        if added:
            _refresh(locked, actor=actor)
    return added


@dataclass(frozen=True)
class ItemChange:
    """What the compose page changes of one item; None leaves a field as it is."""

    item_id: int
    section_id: int | None = None
    position: int | None = None
    blurb: str | None = None
    remove: bool = False


def issue_items_update(*, issue: Issue, changes: Sequence[ItemChange], actor=None) -> Issue:
    """Apply the compose page's edits at once: blurbs, sections, order, removals.

    Positions are a sort key within the section: items keep their relative order when equal.
    The blurb changes what this issue shows, never the submission.
    """
    with transaction.atomic():
        locked = Issue.objects.select_for_update().get(pk=issue.pk)
        items = {item.pk: item for item in locked.items.select_related("submission", "event")}
        sections = {section.pk: section for section in Section.objects.all()}
        order: dict[int, float] = {}
        touched = False
        for change in changes:
            item = items.get(change.item_id)
            if item is None:
                raise IssueError("An item you edited is no longer in this issue; reload the page.")
            if change.remove:
                del items[item.pk]
                item.delete()
                touched = True
                continue
            fields = []
            if change.section_id is not None and change.section_id != item.section_id:
                if change.section_id not in sections:
                    raise IssueError("That section no longer exists; reload the page.")
                item.section_id = change.section_id
                fields.append("section")
            if change.blurb is not None and change.blurb.strip() != item.blurb:
                item.blurb = change.blurb.strip()
                fields.append("blurb")
            if change.position is not None:
                order[item.pk] = change.position
            if fields:
                item.save(update_fields=fields)
                touched = True
        touched = _renumber(locked, order) or touched
        if touched:
            _refresh(locked, actor=actor)
    issue.refresh_from_db()
    return issue


def issue_item_set_blurb(*, item: IssueItem, blurb: str, actor=None) -> IssueItem:
    issue_items_update(issue=item.issue, changes=[ItemChange(item.pk, blurb=blurb)], actor=actor)
    item.refresh_from_db()
    return item


def issue_item_move(
    *,
    item: IssueItem,
    section: Section | None = None,
    position: int | None = None,
    actor=None,
) -> IssueItem:
    """Move an item to another section and/or place (0 = first) within its section."""
    with transaction.atomic():
        locked = Issue.objects.select_for_update().get(pk=item.issue_id)
        item = locked.items.get(pk=item.pk)
        target = section or item.section
        siblings = [
            pk
            for pk in locked.items.filter(section=target)
            .order_by("position", "id")
            .values_list("pk", flat=True)
            if pk != item.pk
        ]
        place = len(siblings) if position is None else max(0, min(position, len(siblings)))
        siblings.insert(place, item.pk)
        if target.pk != item.section_id:
            item.section = target
            item.save(update_fields=["section"])
        _renumber(locked, {pk: index for index, pk in enumerate(siblings)})
        _refresh(locked, actor=actor)
    item.refresh_from_db()
    return item


def issue_items_reorder(
    *, issue: Issue, section: Section, item_ids: Sequence[int], actor=None
) -> None:
    """Put the items of one section in the given order (ids not listed keep their place after)."""
    changes = [ItemChange(pk, position=index) for index, pk in enumerate(item_ids)]
    issue_items_update(issue=issue, changes=changes, actor=actor)


def issue_item_remove(*, item: IssueItem, actor=None) -> None:
    """Take an item out; a submission not yet published goes back to the pool."""
    issue_items_update(issue=item.issue, changes=[ItemChange(item.pk, remove=True)], actor=actor)


def _renumber(issue: Issue, order: dict[int, float]) -> bool:
    """Give each section's items positions 0, 1, 2... `order` overrides some sort keys."""
    changed = []
    current: dict[int, list[IssueItem]] = {}
    for item in issue.items.order_by("position", "id"):
        current.setdefault(item.section_id, []).append(item)
    for items in current.values():
        keyed = sorted(
            enumerate(items),
            key=lambda pair: (order.get(pair[1].pk, pair[1].position), pair[0]),
        )
        for index, (_, item) in enumerate(keyed):
            if item.position != index:
                item.position = index
                changed.append(item)
    IssueItem.objects.bulk_update(changed, ["position"])
    return bool(changed)


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
) -> Issue:
    """The one way an issue changes state.

    - draft → scheduled (needs `publish_at` in the future), scheduled → draft;
    - draft or scheduled → published: sets the publication time, marks the items published,
      moves each submission to "published" (which emails its submitter), stores the
      renderings and creates the Discord deliveries, all in one transaction.

    `actor=None` means the system (the beat task). Moving to the current state does nothing,
    so a task that runs twice publishes once.
    """
    with transaction.atomic():
        locked = Issue.objects.select_for_update().get(pk=issue.pk)
        from_state = locked.state
        if to_state == from_state != State.SCHEDULED:
            issue.refresh_from_db()
            return issue
        if to_state not in TRANSITIONS[from_state]:
            raise IssueError(
                f"A {locked.get_state_display().lower()} issue cannot become "
                f"{State(to_state).label.lower()}.",
                code="illegal",
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
            from .delivery import deliveries_create_for_issue

            deliveries_create_for_issue(issue=locked)
    issue.refresh_from_db()
    return issue


def issue_publish(*, issue: Issue, actor=None, published_at: datetime | None = None) -> Issue:
    """Publish now (or, for importing old editions, at a given past time)."""
    return issue_transition(
        issue=issue, to_state=State.PUBLISHED, actor=actor, published_at=published_at
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
