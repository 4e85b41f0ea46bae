"""Composing an issue: the pool of accepted submissions, adding, moving and removing items."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Max, Q, QuerySet
from django.utils import timezone

from events.models import Event
from newsletter.models import Issue, IssueItem, Section, Submission

from .issues import IssueError, State, _check_can_place, _refresh
from .submissions import submission_transition

# Like a submission's summary, which a blurb replaces: an item and its title fit one Discord
# message.
BLURB_MAX_LENGTH = 1500


def issue_pool(*, issue: Issue | None = None, search: str = "") -> QuerySet[Submission]:
    """Accepted submissions not yet in a published issue (nor in `issue`), oldest first;
    with `search`, those whose title, link, or submitter's name or email contain it.

    An accepted submission is by definition not published: publishing moves it to
    "published". Submissions placed in another draft stay in the pool until that one is
    published.
    """
    pool = Submission.objects.accepted().select_related("author").order_by("state_changed_at", "id")
    if issue is not None:
        pool = pool.exclude(issue_items__issue=issue)
    if search := search.strip():
        pool = pool.filter(
            Q(title__icontains=search)
            | Q(url__icontains=search)
            | Q(author__display_name__icontains=search)
            | Q(author__email__icontains=search)
        )
    return pool


def issue_events_window(*, now: datetime | None = None) -> QuerySet[Event]:
    """Published events starting within NEWSLETTER_EVENTS_WEEKS weeks of `now`."""
    now = now or timezone.now()
    until = now + timedelta(weeks=settings.NEWSLETTER_EVENTS_WEEKS)
    return Event.objects.published().filter(start__gte=now, start__lt=until).order_by("start", "id")


def section_for_kind(kind: str, *, sections: Sequence[Section] | None = None) -> Section | None:
    """The first section (by position) collecting a kind of submission; from `sections` when
    the caller has them all (the composer asks for every kind)."""
    if sections is None:
        sections = Section.objects.filter(collects_events=False).order_by("position", "id")
    else:
        sections = sorted(sections, key=lambda section: (section.position, section.pk))
    for section in sections:
        if not section.collects_events and kind in section.kinds:
            return section
    return None


def events_section() -> Section | None:
    return Section.objects.filter(collects_events=True).order_by("position", "id").first()


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
    position: float | None = None  # a sort key within the section; 1.5 goes between 1 and 2
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
                if len(change.blurb.strip()) > BLURB_MAX_LENGTH:
                    raise IssueError(
                        f"A blurb has at most {BLURB_MAX_LENGTH} characters.", code="blurb"
                    )
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
