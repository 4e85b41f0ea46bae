"""The public archive under /archive/. Issue and item URLs are stable: readers link to them."""

from django.urls import path, register_converter

from portal.pagecache import reader_page

from . import feeds, views
from .models import KIND_SLUGS

app_name = "newsletter"


class KindConverter:
    """Only the known kinds' slugs (papers, blog-posts, ...), so they never shadow other pages."""

    regex = "|".join(sorted(KIND_SLUGS.values(), key=len, reverse=True))

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value


register_converter(KindConverter, "kind")

urlpatterns = [
    path("", views.issue_list, name="archive"),
    path("latest/", views.issue_latest, name="issue-latest"),
    path("search/", views.search_view, name="search"),
    path("feed/rss/", reader_page("archive")(feeds.IssueRssFeed()), name="feed-rss"),
    path("feed/atom/", reader_page("archive")(feeds.IssueAtomFeed()), name="feed-atom"),
    path("by/<int:user_id>/", views.submitter_items, name="submitter"),
    path("preview/<int:pk>/", views.issue_preview, name="issue-preview"),
    path("<kind:kind_slug>/", views.kind_items, name="kind"),
    path(
        "<kind:kind_slug>/feed/", reader_page("archive")(feeds.KindRssFeed()), name="kind-feed-rss"
    ),
    path(
        "<kind:kind_slug>/feed/atom/",
        reader_page("archive")(feeds.KindAtomFeed()),
        name="kind-feed-atom",
    ),
    path("<int:number>/", views.issue_redirect, name="issue-number"),
    path("<int:number>/<slug:slug>/", views.issue_detail, name="issue-detail"),
    path("<int:number>/<slug:slug>.md", views.issue_markdown, name="issue-markdown"),
    # Anything else after a number (an old or mangled title) goes to the canonical URL.
    path("<int:number>/<path:rest>", views.issue_redirect),
]
