"""sitemap.xml: the archive, every published issue and item, the per-kind and topic pages, and
the events readers can see.

URLs use SITE_URL, not the sites framework's domain. Submitters' pages are left out: they
are linked from the issues, not advertised.
"""

from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.sitemaps import Sitemap
from django.urls import reverse

from events.models import Event

from .models import KIND_SLUGS, Issue, IssueItem, Kind, Topic


class SiteUrlSitemap(Sitemap):
    def get_protocol(self, protocol=None):
        return urlsplit(settings.SITE_URL).scheme or "https"

    def get_domain(self, site=None):
        return urlsplit(settings.SITE_URL).netloc


class ArchiveSitemap(SiteUrlSitemap):
    changefreq = "weekly"
    priority = 0.8

    def items(self):
        return ["newsletter:archive", "newsletter:search"]

    def location(self, name):
        return reverse(name)


class IssueSitemap(SiteUrlSitemap):
    changefreq = "monthly"
    priority = 0.6

    def items(self):
        return (
            Issue.objects.published()
            .only("number", "slug", "published_at", "corrected_at")
            .order_by("-number")
        )

    def lastmod(self, issue):
        return issue.corrected_at or issue.published_at


class KindSitemap(SiteUrlSitemap):
    """The per-kind pages that have at least one published item."""

    changefreq = "weekly"
    priority = 0.5

    def items(self):
        kinds = set(
            IssueItem.objects.published()
            .order_by()
            .values_list("submission__kind", flat=True)
            .distinct()
        )
        if None in kinds:  # an event item
            kinds.add(Kind.EVENT)
        return [slug for kind, slug in KIND_SLUGS.items() if kind in kinds]

    def location(self, slug):
        return reverse("newsletter:kind", args=[slug])


class ItemSitemap(SiteUrlSitemap):
    """Each published item's own page."""

    changefreq = "monthly"
    priority = 0.5
    limit = 5000

    def items(self):
        return (
            IssueItem.objects.published()
            .filter(submission__isnull=False)
            .select_related("submission", "issue")
            .only("submission__title", "issue__published_at", "issue__corrected_at")
            .order_by("-issue__published_at", "id")
        )

    def location(self, item):
        return item.submission.get_page_url()

    def lastmod(self, item):
        return item.issue.corrected_at or item.issue.published_at


class TopicSitemap(SiteUrlSitemap):
    changefreq = "weekly"
    priority = 0.5

    def items(self):
        return Topic.objects.filter(
            submissions__in=IssueItem.objects.published().values("submission_id")
        ).distinct()


class EventSitemap(SiteUrlSitemap):
    """Published and cancelled events: their pages stay up."""

    changefreq = "weekly"
    priority = 0.5

    def items(self):
        return Event.objects.visible().only("slug", "start", "updated_at").order_by("-start")

    def lastmod(self, event):
        return event.updated_at


SITEMAPS = {
    "archive": ArchiveSitemap,
    "issues": IssueSitemap,
    "items": ItemSitemap,
    "kinds": KindSitemap,
    "topics": TopicSitemap,
    "events": EventSitemap,
}
