"""Past editions by paste: what a pasted edition would import, and importing it.

`edition_preview` reads the paste (`newsletter.paste`) and says, item by item, where each goes:
which section (an existing one, matched by heading, or a new one), and whether the link is
already in the archive (by canonical key, as the duplicate check of submissions). An editor
looks at it, then `edition_import` imports it in one transaction: a published issue with the
edition's original date, its links as submissions (accepted and published, in the editor's
name), its dated items as events. Nothing goes to Discord or to the email list, and nobody is
emailed: the edition went out long ago. A paste that cannot be read, or a refusal at any step,
leaves nothing behind.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.text import slugify

from events.models import Event
from events.services import event_save
from newsletter.links.canonical import arxiv_id, canonical_key, github_repo
from newsletter.models import Issue, IssueItem, Kind, Notification, Section, Submission
from newsletter.paste import PastedEdition, PastedItem, edition_parse

from .compose import issue_item_add
from .issues import issue_create, issue_publish
from .submissions import submission_create, submission_find_duplicate, submission_transition

# Emoji the editions use for a kind, when the section does not say.
_EMOJI_KINDS = {"📰": Kind.PAPER, "📝": Kind.BLOG, "🎤": Kind.TALK, "🛠️": Kind.TOOL, "🛠": Kind.TOOL}


TITLE_LIMIT = 200  # an event's title; a submission's may be longer
URL_LIMIT = 2000


class EditionImportError(ValidationError):
    """The paste cannot be imported as it is; the messages say why, for the editor."""


@dataclass
class PlannedItem:
    item: PastedItem
    kind: str  # a submission's kind, or "event"
    existing: Submission | None = None
    published_in: Issue | None = None  # already in the archive: not imported again

    @property
    def skipped(self) -> bool:
        return self.published_in is not None


@dataclass
class PlannedSection:
    heading: str
    section: Section | None  # None: created by the import
    items: list[PlannedItem] = field(default_factory=list)


@dataclass
class EditionPreview:
    edition: PastedEdition
    sections: list[PlannedSection] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def notes(self) -> list[str]:
        return self.edition.notes

    @property
    def importable(self) -> int:
        return sum(1 for s in self.sections for p in s.items if not p.skipped)


def edition_preview(*, text: str) -> EditionPreview:
    """Read the paste and plan the import, without writing anything."""
    edition = edition_parse(text)
    preview = EditionPreview(edition=edition, problems=list(edition.problems))
    if preview.problems:
        return preview
    if len(edition.title) > TITLE_LIMIT:
        preview.problems.append(f"The title is over {TITLE_LIMIT} characters; shorten it.")
    sections = list(Section.objects.all())
    seen: dict[str, int] = {}  # canonical key: line
    for pasted in edition.sections:
        section = _section_for(pasted.heading, sections)
        planned = PlannedSection(heading=pasted.heading, section=section)
        for item in pasted.items:
            _check_item(item, seen, preview.problems)
            planned.items.append(_plan_item(item, section, preview.problems))
        preview.sections.append(planned)
    if preview.sections and not preview.importable and not preview.problems:
        preview.problems.append("Every item of this edition is already in the archive.")
    return preview


def _section_for(heading: str, sections: list[Section]) -> Section | None:
    wanted = heading.casefold()
    for section in sections:
        if section.heading.casefold().rstrip(":") == wanted or section.slug == slugify(heading):
            return section
    return None


def _check_item(item: PastedItem, seen: dict[str, int], problems: list[str]) -> None:
    """What the models would refuse, said with the line to fix."""
    where = f"Line {item.line}: “{item.title[:80]}”"
    if len(item.title) > TITLE_LIMIT:
        problems.append(f"{where} has a title over {TITLE_LIMIT} characters; shorten it.")
    for _, url in [("", item.url), *item.extra_links]:
        if len(url) > URL_LIMIT:
            problems.append(f"{where} has a link over {URL_LIMIT} characters.")
    if item.starts_at is not None:
        return
    try:
        key = canonical_key(item.url)
    except ValueError:
        return  # said by _plan_item
    if key in seen:
        problems.append(f"{where} links to the same page as line {seen[key]}; keep one of them.")
    seen.setdefault(key, item.line)


def _plan_item(item: PastedItem, section: Section | None, problems: list[str]) -> PlannedItem:
    if item.starts_at is not None:
        return PlannedItem(item=item, kind=Kind.EVENT)
    try:
        canonical_key(item.url)
    except ValueError as exc:
        problems.append(f"Line {item.line}: the link of “{item.title}” cannot be used: {exc}")
        return PlannedItem(item=item, kind=Kind.OTHER)
    existing = submission_find_duplicate(item.url)
    published_in = None
    if existing is not None and existing.state == Submission.State.PUBLISHED:
        placed = (
            IssueItem.objects.filter(submission=existing, is_published=True)
            .select_related("issue")
            .first()
        )
        published_in = placed.issue if placed else Issue(number=0, title="an earlier issue")
    elif existing is not None and existing.state not in (
        Submission.State.ACCEPTED,
        Submission.State.PENDING,
    ):
        problems.append(
            f"Line {item.line}: “{item.title}” is a {existing.get_state_display().lower()} "
            "submission; decide on it first."
        )
    return PlannedItem(
        item=item,
        kind=existing.kind if existing else _kind_for(item, section),
        existing=existing,
        published_in=published_in,
    )


def _kind_for(item: PastedItem, section: Section | None) -> str:
    if section is not None:
        for kind, emoji in section.kind_emoji.items():
            if emoji == item.emoji and kind in Kind.values:
                return kind
    if item.emoji in _EMOJI_KINDS:
        return _EMOJI_KINDS[item.emoji]
    if arxiv_id(item.url):
        return Kind.PAPER
    if github_repo(item.url):
        return Kind.REPO
    if section is not None and section.kinds and section.kinds[0] in Kind.values:
        return section.kinds[0]
    return Kind.OTHER


def edition_import(
    *, text: str, published_at: datetime, actor, number: int | None = None, author=None
) -> Issue:
    """Import the pasted edition as a published issue dated `published_at`; all or nothing.

    `actor`: the editor importing it; `author`: the member its new submissions are credited
    to (default: the editor). Raises EditionImportError (nothing written) with every reason the editor must fix.
    """
    if published_at > timezone.now():
        raise EditionImportError("A past edition's date cannot be in the future.", code="date")
    with transaction.atomic():
        preview = edition_preview(text=text)
        if preview.problems:
            raise EditionImportError(preview.problems, code="paste")
        edition = preview.edition
        issue = issue_create(
            title=edition.title,
            number=number,
            introduction=edition.introduction,
            closing=edition.closing,
            actor=actor,
        )
        touched: list[int] = []
        position = 0
        for planned in preview.sections:
            section = planned.section or _section_create(planned, position)
            position = section.position
            for entry in planned.items:
                if entry.skipped:
                    continue
                if entry.kind == Kind.EVENT:
                    event = _event_for(entry.item, actor)
                    issue_item_add(
                        issue=issue,
                        event=event,
                        section=section,
                        blurb=entry.item.summary,
                        actor=actor,
                    )
                    continue
                submission = _submission_for(entry, actor, author or actor)
                touched.append(submission.pk)
                issue_item_add(issue=issue, submission=submission, section=section, actor=actor)
        issue = issue_publish(issue=issue, actor=actor, published_at=published_at, deliver=False)
        # Nobody is told: the links went out with the edition long ago.
        Notification.objects.filter(submission_id__in=touched, sent_at__isnull=True).update(
            sent_at=timezone.now()
        )
    return issue


def _section_create(planned: PlannedSection, position: int) -> Section:
    """A section the site does not have yet, shaped like the pasted one, right after the
    section before it in the paste (sections of one position go in the order made)."""
    items = [entry.item for entry in planned.items]
    slug = slugify(planned.heading)[:100] or "section"
    base, suffix = slug, 2
    while Section.objects.filter(slug=slug).exists():
        slug, suffix = f"{base}-{suffix}", suffix + 1
    return Section.objects.create(
        heading=planned.heading[:120],
        slug=slug,
        emoji=items[0].emoji if items else "🔗",
        kinds=sorted({entry.kind for entry in planned.items if entry.kind != Kind.EVENT}),
        collects_events=any(item.starts_at for item in items),
        compact=bool(items) and all(item.compact for item in items),
        position=position,
    )


def _submission_for(entry: PlannedItem, actor, author) -> Submission:
    item = entry.item
    submission = entry.existing
    if submission is None:
        submission = submission_create(
            author=author,
            url=item.url,
            kind=entry.kind,
            title=item.title,
            summary=item.summary,
            extra_links=[(label[:200], url) for label, url in item.extra_links],
            flood_limit=False,
        )
    if submission.state == Submission.State.PENDING:
        submission = submission_transition(
            submission=submission, to_state=Submission.State.ACCEPTED, actor=actor
        )
    return submission


def _event_for(item: PastedItem, actor) -> Event:
    """The edition's dated item as an event: this site's event when the link is its page,
    else a published event with the link (or the first extra link) as its paper."""
    slug = _own_event_slug(item.url)
    if slug is not None:
        existing = Event.objects.filter(slug=slug).first()
        if existing is not None:
            return existing
    resource_title, resource_url = item.extra_links[0] if item.extra_links else ("", item.url)
    if slug is None:
        found = Event.objects.filter(title=item.title[:200], start=item.starts_at).first()
        if found is not None:
            return found
        slug = slugify(item.title)[:180] or "event"
        base, suffix = slug, 2
        while Event.objects.filter(slug=slug).exists():
            slug, suffix = f"{base}-{suffix}", suffix + 1
    event = Event(
        title=item.title[:200],
        slug=slug,
        kind=Event.Kind.READING_GROUP if "reading" in item.title.lower() else Event.Kind.TALK,
        description=item.summary,
        start=item.starts_at,
        end=item.starts_at + timedelta(hours=1),
        resource_title=resource_title[:300],
        resource_url=resource_url,
        state=Event.State.PUBLISHED,
    )
    return event_save(event=event, by=actor)


def _own_event_slug(url: str) -> str | None:
    """The slug of this site's event page the link points to, or None."""
    site = urlsplit(settings.SITE_URL)
    parts = urlsplit(url)
    if (parts.scheme, parts.netloc) != (site.scheme, site.netloc):
        return None
    segments = [s for s in parts.path.split("/") if s]
    if len(segments) == 2 and segments[0] == "events":
        return segments[1]
    return None
