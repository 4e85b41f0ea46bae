"""One model of an issue, three outputs: the web page, a Markdown document, Discord messages.

`issue_document(issue)` reads an issue once into plain data; the three renderers below are
functions of that data alone, so what readers see on the site, what editors download and what
Discord receives never disagree. Nothing here writes: `newsletter.issues` stores the results.

The layout follows the reference edition: a starred title, the introduction, one "## Heading:"
per section, items as "emoji [Title](url)" with the blurb below (or after a colon in a compact
section), extra links as "Bonus: ...", event times as Discord timestamps, then the closing.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime

from django.conf import settings
from django.db.models import Prefetch
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import strip_tags
from django.utils.safestring import SafeString, mark_safe

from newsletter.discord import split
from newsletter.discord.text import discord_timestamp, markdown_link, markdown_text
from portal.markdown import render_markdown
from portal.site import absolute_url

from .models import DeliveryMessage, ExtraLink, Issue, IssueItem, Section

EVENT_KIND = "event"
TIME_FORMAT = "l j F Y, H:i T"


@dataclass(frozen=True)
class TopicRef:
    """A topic as items show it: a chip linking to the topic's page."""

    name: str
    slug: str


@dataclass(frozen=True)
class Item:
    """One item as every output shows it."""

    pk: int | None
    kind: str
    emoji: str
    title: str
    url: str  # absolute
    blurb: str = ""  # Markdown
    links_label: str = "Bonus"
    extra_links: tuple[tuple[str, str], ...] = ()
    credit: str = ""  # the submitter's public name, when they allow it
    credit_url: str = ""  # their public list on the site (a path)
    starts_at: datetime | None = None  # events only
    discussion_url: str = ""  # its forum post's thread in Discord, once posted
    topics: tuple[TopicRef, ...] = ()
    page_url: str = ""  # the item's own page (a path), for submissions

    @property
    def anchor(self) -> str:
        return f"item-{self.pk}"


@dataclass(frozen=True)
class DocumentSection:
    heading: str
    slug: str
    compact: bool
    items: tuple[Item, ...]


@dataclass(frozen=True)
class IssueDocument:
    number: int
    title: str
    introduction: str  # Markdown
    closing: str  # Markdown
    sections: tuple[DocumentSection, ...]


@dataclass
class Rendered:
    """The stored renderings of an issue, and what search needs of each item."""

    body_html: str
    body_markdown: str
    search_text: str
    item_html: dict[int, str] = field(default_factory=dict)
    item_search: dict[int, tuple[str, str]] = field(default_factory=dict)  # pk: (title, text)


# --- Reading the issue ---------------------------------------------------------------------------


# Where a forum post's thread is in Discord's web and desktop app.
DISCORD_THREAD_URL = "https://discord.com/channels/{guild}/{thread}"


def issue_items_queryset(issue: Issue):
    """The items of an issue with everything the renderers read, in five queries."""
    return issue.items.select_related("section", "submission__author", "event").prefetch_related(
        Prefetch("submission__extra_links", queryset=ExtraLink.objects.order_by("position", "id")),
        Prefetch("forum_posts", queryset=forum_threads()),
        "submission__topics",
    )


def forum_threads():
    """Forum posts that opened a thread in a channel whose server is known, oldest first."""
    return (
        DeliveryMessage.objects.filter(state=DeliveryMessage.State.SENT)
        .exclude(thread_name="")
        .exclude(thread_id="")
        .exclude(delivery__channel__guild_id="")
        .select_related("delivery__channel")
        .order_by("delivery__created_at", "delivery_id", "position")
    )


def discussion_url(issue_item: IssueItem) -> str:
    """The item's thread in Discord (the first forum channel's), or ""."""
    for post in issue_item.forum_posts.all():
        return DISCORD_THREAD_URL.format(
            guild=post.delivery.channel.guild_id, thread=post.thread_id
        )
    return ""


def item_from(issue_item: IssueItem) -> Item:
    """The output-neutral data of one issue item (a submission or an event)."""
    section = issue_item.section
    blurb = issue_item.blurb.strip()
    submission = issue_item.submission
    if submission is not None:
        author = submission.author
        credit = author.public_name if author.credit_me else ""
        return Item(
            pk=issue_item.pk,
            kind=submission.kind,
            emoji=section.emoji_for(submission.kind),
            title=submission.title or submission.url,
            url=submission.url,
            blurb=blurb or submission.summary.strip(),
            extra_links=tuple((link.label, link.url) for link in submission.extra_links.all()),
            credit=credit,
            credit_url=reverse("newsletter:submitter", args=[author.pk]) if credit else "",
            discussion_url=discussion_url(issue_item) if issue_item.pk else "",
            topics=tuple(TopicRef(t.name, t.slug) for t in submission.topics.all()),
            page_url=submission.get_page_url(),
        )
    event = issue_item.event
    links = ((event.resource_title or "Paper", event.resource_url),) if event.resource_url else ()
    return Item(
        pk=issue_item.pk,
        kind=EVENT_KIND,
        emoji=section.emoji_for(EVENT_KIND),
        title=event.title,
        url=absolute_url(event.get_absolute_url()),
        blurb=blurb,
        links_label="Read",
        extra_links=links,
        starts_at=event.start,
        discussion_url=discussion_url(issue_item) if issue_item.pk else "",
    )


def issue_document(issue: Issue, items=None) -> IssueDocument:
    """The issue as plain data. `items` may be given already loaded (issue_items_queryset)."""
    if items is None:
        items = list(issue_items_queryset(issue))
    by_section: dict[int, list[IssueItem]] = {}
    sections: dict[int, Section] = {}
    for issue_item in items:
        by_section.setdefault(issue_item.section_id, []).append(issue_item)
        sections[issue_item.section_id] = issue_item.section
    ordered = sorted(sections.values(), key=lambda s: (s.position, s.pk))
    return IssueDocument(
        number=issue.number,
        title=issue.title,
        introduction=issue.introduction.replace("\r\n", "\n").strip(),
        closing=issue.closing.replace("\r\n", "\n").strip(),
        sections=tuple(
            DocumentSection(
                heading=section.heading,
                slug=section.slug,
                compact=section.compact,
                items=tuple(
                    item_from(issue_item)
                    for issue_item in sorted(
                        by_section[section.pk], key=lambda i: (i.position, i.pk or 0)
                    )
                ),
            )
            for section in ordered
        ),
    )


# --- Markdown and Discord ------------------------------------------------------------------------


def item_head(item: Item) -> str:
    """An item's title: "📰 [Title](url)", and an event's time."""
    head = f"{item.emoji} {markdown_link(item.title, item.url)}"
    if item.starts_at is not None:
        head += f" on {discord_timestamp(item.starts_at)}"
    return head


DISCUSS_LABEL = "Discuss on Discord"


def item_markdown(item: Item, *, compact: bool = False, discussion: bool = False) -> str:
    """One item: "📰 [Title](url)", the blurb below (after ": " when compact), then extras;
    with `discussion`, the link to its thread in Discord (the Markdown download has it, the
    messages posted to Discord do not)."""
    head = item_head(item)
    tail = []
    if item.extra_links:
        links = ", ".join(markdown_link(label, url) for label, url in item.extra_links)
        tail.append(f"{item.links_label}: {links}")
    if item.credit:
        tail.append(f"— shared by {markdown_text(item.credit)}")
    if discussion and item.discussion_url:
        tail.append(f"💬 {markdown_link(DISCUSS_LABEL, item.discussion_url)}")
    body, ends_in_block = _close_blocks(item.blurb.replace("\r\n", "\n").strip())
    if tail:
        # After a block (code, quote, list...) the extras start a paragraph of their own:
        # glued onto a closing fence they would leave the code block open.
        separator = "\n\n" if ends_in_block else " "
        body = f"{body}{separator}{' '.join(tail)}" if body else " ".join(tail)
    if not body:
        return head
    if compact and not _BLOCK_START.match(body):
        return f"{head}: {body}"
    return f"{head}\n{body}"


# A line that starts a block other than a paragraph: a fence, a quote, a heading, a list item,
# a table row, indented code.
_BLOCK_START = re.compile(
    r" {0,3}(?:`{3}|~{3}|>|#{1,6}(?:\s|$)|[-*+](?:\s|$)|\d{1,9}[.)](?:\s|$)|\|)| {4}|\t"
)
_FENCE = re.compile(r" {0,3}(`{3,}|~{3,})")


def _close_blocks(body: str) -> tuple[str, bool]:
    """The blurb, with a code fence it leaves open closed, and whether it ends with a block
    after which more text needs a paragraph of its own."""
    fence = ""
    closed_last = False
    for line in body.split("\n"):
        match = _FENCE.match(line)
        rest = line[match.end() :] if match else ""
        closed_last = False
        if match and not fence and not (match.group(1)[0] == "`" and "`" in rest):
            fence = match.group(1)  # opens (a backtick fence's info string has no backtick)
        elif match and fence and match.group(1).startswith(fence) and not rest.strip():
            fence, closed_last = "", True
    if fence:
        return f"{body}\n{fence}", True
    return body, closed_last or bool(_BLOCK_START.match(body.rsplit("\n\n", 1)[-1]))


def section_heading(heading: str) -> str:
    return f"## {heading.strip().rstrip(':')}:"


def issue_preamble(document: IssueDocument) -> str:
    title = f"# ⭐ {markdown_text(document.title)} ⭐"
    return f"{title}\n\n{document.introduction}" if document.introduction else title


def discord_sections(document: IssueDocument, *, discussion: bool = False) -> list[split.Section]:
    return [
        split.Section(
            heading=section_heading(section.heading),
            items=[
                # The splitter keeps the title with its summary.
                split.Item(
                    item_markdown(item, compact=section.compact, discussion=discussion),
                    title=item_head(item),
                )
                for item in section.items
            ],
        )
        for section in document.sections
        if section.items
    ]


def document_markdown(document: IssueDocument) -> str:
    """The Markdown document editors download and paste elsewhere."""
    text = split.document_text(
        discord_sections(document, discussion=True),
        preamble=issue_preamble(document),
        closing=document.closing,
    )
    return text + "\n"


def document_discord_messages(document: IssueDocument, *, limit: int | None = None) -> list[str]:
    """The same document cut into Discord messages of at most `limit` characters each."""
    return split.split_document(
        discord_sections(document),
        limit=limit,
        preamble=issue_preamble(document),
        closing=document.closing,
    )


def issue_discord_messages(issue: Issue, *, limit: int | None = None) -> list[str]:
    """What the Discord delivery posts for an issue, in order."""
    return document_discord_messages(issue_document(issue), limit=limit)


def issue_markdown(issue: Issue) -> str:
    return document_markdown(issue_document(issue))


# --- Forum channels ------------------------------------------------------------------------------

THREAD_NAME_LIMIT = 100  # Discord's limit for a thread's name


@dataclass(frozen=True)
class ForumPost:
    """One message of a forum delivery. With a `thread_name` it opens a forum post (a thread);
    without, it continues the thread of the post before it (an item too long for one message).
    `item_pk`: the issue item it is about (None for the introduction)."""

    content: str
    thread_name: str = ""
    item_pk: int | None = None


def thread_name(title: str) -> str:
    """A title cut to Discord's 100 characters at a word boundary, with an ellipsis if cut."""
    title = " ".join(title.split())
    if len(title) <= THREAD_NAME_LIMIT:
        return title
    cut = title[: THREAD_NAME_LIMIT - 1]
    if " " in cut:
        cut = cut.rsplit(" ", 1)[0]
    return cut.rstrip(" ,.;:-–—") + "…"


def document_forum_posts(document: IssueDocument, *, limit: int | None = None) -> list[ForumPost]:
    """The introduction, then each item in issue order, each a forum post of its own."""
    limit = limit or split.default_limit()
    posts: list[ForumPost] = []

    def add(text: str, name: str, item_pk: int | None) -> None:
        for index, part in enumerate(split.split_text(text, limit=limit)):
            posts.append(ForumPost(part, thread_name(name) if index == 0 else "", item_pk))

    opening = "\n\n".join(part for part in (issue_preamble(document), document.closing) if part)
    add(opening, document.title or f"Issue {document.number}", None)
    for section in document.sections:
        for item in section.items:
            add(item_markdown(item, compact=section.compact), item.title, item.pk)
    return posts


def issue_forum_posts(issue: Issue, *, limit: int | None = None) -> list[ForumPost]:
    """What the Discord delivery posts to a forum channel for an issue, in order."""
    return document_forum_posts(issue_document(issue), limit=limit)


# --- The web page --------------------------------------------------------------------------------

_LOCAL_TIME = re.compile(r'<time class="local-time" datetime="([^"<>]+)">[^<]*</time>')


def format_time(moment: datetime) -> str:
    """A time as readers see it: in the active time zone (the member's, or UTC)."""
    return date_format(timezone.localtime(moment), TIME_FORMAT)


def time_html(moment: datetime) -> str:
    iso = moment.astimezone(UTC).isoformat()
    with timezone.override(UTC):
        text = format_time(moment)
    return f'<time class="local-time" datetime="{iso}">{html.escape(text)}</time>'


def localize_times(stored_html: str) -> SafeString:
    """Show the event times of stored HTML in the reader's time zone.

    Stored renderings hold times in UTC; this rewrites the text of each time element the
    renderer made, so one stored page serves every time zone.
    """

    def local(match: re.Match) -> str:
        try:
            moment = datetime.fromisoformat(match.group(1))
        except ValueError:
            return match.group(0)
        if timezone.is_naive(moment):
            return match.group(0)
        return (
            f'<time class="local-time" datetime="{match.group(1)}">'
            f"{html.escape(format_time(moment))}</time>"
        )

    return mark_safe(_LOCAL_TIME.sub(local, stored_html))  # noqa: S308  (our own sanitised HTML)


def markdown_html(text: str) -> SafeString:
    return mark_safe(render_markdown(text)) if text.strip() else mark_safe("")  # noqa: S308  (render_markdown sanitises)


def item_html(item: Item, *, compact: bool = False, blurb_html: str | None = None) -> str:
    """One item on the web: the anchor readers link to, the blurb sanitised."""
    if blurb_html is None:
        blurb_html = markdown_html(item.blurb)
    return render_to_string(
        "newsletter/includes/_issue_item.html",
        {
            "item": item,
            "compact": compact,
            "blurb_html": mark_safe(blurb_html),  # noqa: S308  (sanitised by render_markdown)
            "time_html": mark_safe(time_html(item.starts_at)) if item.starts_at else "",  # noqa: S308  (built from escaped parts)
        },
    ).strip()


def plain_text(fragment_html: str) -> str:
    return " ".join(html.unescape(strip_tags(fragment_html)).split())


def render_issue(issue: Issue, items=None) -> Rendered:
    """Every stored rendering of an issue from one document."""
    document = issue_document(issue, items)
    item_fragments: dict[int, str] = {}
    item_search: dict[int, tuple[str, str]] = {}
    sections = []
    for section in document.sections:
        fragments = []
        for item in section.items:
            blurb_html = markdown_html(item.blurb)
            fragment = item_html(item, compact=section.compact, blurb_html=blurb_html)
            fragments.append(mark_safe(fragment))  # noqa: S308  (fragments rendered from sanitised parts)
            if item.pk is not None:
                item_fragments[item.pk] = fragment
                text = " ".join(
                    [plain_text(blurb_html)] + [label for label, _ in item.extra_links]
                ).strip()
                item_search[item.pk] = (item.title, text)
        sections.append({"section": section, "fragments": fragments})
    introduction_html = markdown_html(document.introduction)
    closing_html = markdown_html(document.closing)
    body_html = render_to_string(
        "newsletter/includes/_issue_body.html",
        {
            "document": document,
            "sections": sections,
            "introduction_html": introduction_html,
            "closing_html": closing_html,
        },
    ).strip()
    return Rendered(
        body_html=body_html,
        body_markdown=document_markdown(document),
        search_text=" ".join(
            part for part in (plain_text(introduction_html), plain_text(closing_html)) if part
        ),
        item_html=item_fragments,
        item_search=item_search,
    )


def absolutize(stored_html: str) -> str:
    """Site-relative links made absolute, for feeds read away from the site."""
    return re.sub(r'(href|src)="/(?!/)', rf'\1="{settings.SITE_URL}/', stored_html)
