"""RSS and Atom feeds: every published issue in full, and one feed per kind of item.

Feeds carry the HTML stored at publication (links made absolute), so a feed costs the same
few queries however many items the issues hold.
"""

from django.conf import settings
from django.contrib.syndication.views import Feed
from django.shortcuts import get_object_or_404
from django.templatetags.static import static
from django.urls import reverse
from django.utils.feedgenerator import Atom1Feed, Rss201rev2Feed, Stylesheet
from django.utils.xmlutils import SimplerXMLGenerator

from newsletter import rendering
from newsletter.models import Issue, IssueItem, Topic
from portal.site import absolute_url
from portal.text import strip_controls

from .archive import KIND_TITLES, KINDS_BY_SLUG, kind_filter

FEED_LENGTH = 20


def feed_stylesheets() -> list[Stylesheet]:
    """A feed opened in a browser reads as a page explaining feeds (static/feeds/feed.xsl)."""
    return [Stylesheet(static("feeds/feed.xsl"), mimetype="text/xsl", media="screen")]


def _clean(values: dict) -> dict:
    return {k: strip_controls(v) if isinstance(v, str) else v for k, v in values.items()}


# Served as application/xml, which every feed reader takes: a browser applies the feed's
# stylesheet to application/xml but shows application/rss+xml and atom+xml as raw text.
FEED_CONTENT_TYPE = "application/xml; charset=utf-8"


class CleanRssFeed(Rss201rev2Feed):
    """XML 1.0 cannot carry control characters: drop any that reached stored text."""

    content_type = FEED_CONTENT_TYPE

    def add_item(self, **kwargs):
        super().add_item(**_clean(kwargs))


class CleanAtomFeed(Atom1Feed):
    content_type = FEED_CONTENT_TYPE

    def add_item(self, **kwargs):
        super().add_item(**_clean(kwargs))

    def write(self, outfile, encoding):
        """Atom1Feed.write with the stylesheets Django adds to RSS only."""
        handler = SimplerXMLGenerator(outfile, encoding, short_empty_elements=True)
        handler.startDocument()
        for stylesheet in self.feed["stylesheets"] or []:
            handler.processingInstruction("xml-stylesheet", stylesheet)
        handler.startElement("feed", self.root_attributes())
        self.add_root_elements(handler)
        self.write_items(handler)
        handler.endElement("feed")


class IssueRssFeed(Feed):
    feed_type = CleanRssFeed
    title = f"{settings.SITE_NAME} newsletter"
    description = "Every issue of the community newsletter, in full."

    def stylesheets(self):
        return feed_stylesheets()

    def link(self):
        return absolute_url(reverse("newsletter:archive"))

    def feed_url(self):
        return absolute_url(reverse("newsletter:feed-rss"))

    def item_link(self, item: Issue) -> str:
        return absolute_url(item.get_absolute_url())

    def items(self):
        return (
            Issue.objects.published()
            .order_by("-published_at", "-number")
            .only("number", "slug", "title", "body_html", "published_at", "corrected_at")[
                :FEED_LENGTH
            ]
        )

    def item_title(self, item: Issue) -> str:
        return f"#{item.number} {item.title}"

    def item_description(self, item: Issue) -> str:
        return rendering.absolutize(item.body_html)

    def item_pubdate(self, item: Issue):
        return item.published_at

    def item_updateddate(self, item: Issue):
        return item.corrected_at or item.published_at

    def item_guid(self, item: Issue) -> str:
        return absolute_url(reverse("newsletter:issue-number", args=[item.number]))

    item_guid_is_permalink = False


class IssueAtomFeed(IssueRssFeed):
    feed_type = CleanAtomFeed
    subtitle = IssueRssFeed.description

    def feed_url(self):
        return absolute_url(reverse("newsletter:feed-atom"))


class TopicRssFeed(Feed):
    """The published items of one topic, newest first, each linking to its own page."""

    feed_type = CleanRssFeed
    item_guid_is_permalink = False

    def get_object(self, request, slug: str) -> Topic:
        return get_object_or_404(Topic.objects.only("name", "slug", "description"), slug=slug)

    def title(self, topic: Topic) -> str:
        return f"{settings.SITE_NAME} newsletter: {topic.name}"

    def description(self, topic: Topic) -> str:
        return topic.description or f"Items about {topic.name} from every published issue."

    subtitle = description

    def link(self, topic: Topic) -> str:
        return absolute_url(topic.get_absolute_url())

    def feed_url(self, topic: Topic) -> str:
        return absolute_url(reverse("newsletter:topic-feed-rss", args=[topic.slug]))

    def items(self, topic: Topic):
        return (
            IssueItem.objects.published()
            .filter(submission__topics=topic)
            .select_related("issue", "submission")
            .only("html", "issue__published_at", "submission__title", "submission__url")
            .order_by(
                "-issue__published_at", "-issue__number", "section__position", "position", "id"
            )[:FEED_LENGTH]
        )

    def item_title(self, item: IssueItem) -> str:
        return item.submission.title or item.submission.url

    def item_link(self, item: IssueItem) -> str:
        return absolute_url(item.submission.get_page_url())

    def item_guid(self, item: IssueItem) -> str:
        return absolute_url(reverse("newsletter:item-redirect", args=[item.submission_id]))

    def item_description(self, item: IssueItem) -> str:
        return rendering.absolutize(item.html)

    def item_pubdate(self, item: IssueItem):
        return item.issue.published_at


class TopicAtomFeed(TopicRssFeed):
    feed_type = CleanAtomFeed

    def feed_url(self, topic: Topic) -> str:
        return absolute_url(reverse("newsletter:topic-feed-atom", args=[topic.slug]))


class KindRssFeed(Feed):
    """The published items of one kind (papers, tools, ...), newest first."""

    feed_type = CleanRssFeed

    def stylesheets(self, kind_slug: str):
        return feed_stylesheets()

    def get_object(self, request, kind_slug: str) -> str:
        return kind_slug

    def title(self, kind_slug: str) -> str:
        return f"{settings.SITE_NAME} newsletter: {KIND_TITLES[KINDS_BY_SLUG[kind_slug]].lower()}"

    def description(self, kind_slug: str) -> str:
        return "Items of this kind from every published issue."

    subtitle = description

    def link(self, kind_slug: str) -> str:
        return absolute_url(reverse("newsletter:kind", args=[kind_slug]))

    def feed_url(self, kind_slug: str) -> str:
        return absolute_url(reverse("newsletter:kind-feed-rss", args=[kind_slug]))

    def items(self, kind_slug: str):
        return (
            IssueItem.objects.published()
            .filter(kind_filter(KINDS_BY_SLUG[kind_slug]))
            .select_related("issue", "submission", "event")
            .only(
                "html",
                "issue__number",
                "issue__slug",
                "issue__published_at",
                "submission__title",
                "submission__url",
                "event__title",
            )
            .order_by(
                "-issue__published_at", "-issue__number", "section__position", "position", "id"
            )[:FEED_LENGTH]
        )

    def item_title(self, item: IssueItem) -> str:
        if item.submission_id:
            return item.submission.title or item.submission.url
        return item.event.title

    def item_link(self, item: IssueItem) -> str:
        return absolute_url(f"{item.issue.get_absolute_url()}#{item.anchor}")

    def item_description(self, item: IssueItem) -> str:
        return rendering.absolutize(item.html)

    def item_pubdate(self, item: IssueItem):
        return item.issue.published_at


class KindAtomFeed(KindRssFeed):
    feed_type = CleanAtomFeed

    def feed_url(self, kind_slug: str) -> str:
        return absolute_url(reverse("newsletter:kind-feed-atom", args=[kind_slug]))
