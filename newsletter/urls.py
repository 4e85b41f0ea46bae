"""The newsletter's URLs: the public archive under /archive/, members' submission pages, and
the email edition's pages under /email/.

Issue and item URLs are stable: readers link to them, and so do the emails' unsubscribe links.
"""

from anymail import urls as anymail_urls
from anymail.exceptions import AnymailImproperlyInstalled
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.urls import URLPattern, path, register_converter

from portal.pagecache import reader_page

from .models import KIND_SLUGS
from .views import (
    archive,
    cards,
    discord,
    feeds,
    items,
    search,
    submissions,
    subscribers,
    topics,
)

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
    path("", archive.issue_list, name="archive"),
    path("latest/", archive.issue_latest, name="issue-latest"),
    path("search/", search.search_view, name="search"),
    path("feed/rss/", reader_page("archive")(feeds.IssueRssFeed()), name="feed-rss"),
    path("feed/atom/", reader_page("archive")(feeds.IssueAtomFeed()), name="feed-atom"),
    path("by/<int:user_id>/", archive.submitter_items, name="submitter"),
    path("preview/<int:pk>/", archive.issue_preview, name="issue-preview"),
    path("<kind:kind_slug>/", archive.kind_items, name="kind"),
    path(
        "<kind:kind_slug>/feed/", reader_page("archive")(feeds.KindRssFeed()), name="kind-feed-rss"
    ),
    path(
        "<kind:kind_slug>/feed/atom/",
        reader_page("archive")(feeds.KindAtomFeed()),
        name="kind-feed-atom",
    ),
    path("topics/", topics.topic_list, name="topic-list"),
    path("topics/<slug:slug>/", topics.topic_detail, name="topic"),
    path(
        "topics/<slug:slug>/feed/",
        reader_page("archive")(feeds.TopicRssFeed()),
        name="topic-feed-rss",
    ),
    path(
        "topics/<slug:slug>/feed/atom/",
        reader_page("archive")(feeds.TopicAtomFeed()),
        name="topic-feed-atom",
    ),
    path("items/<int:pk>/", items.item_redirect, name="item-redirect"),
    path("items/<int:pk>/card.png", cards.item_card, name="item-card"),
    path("items/<int:pk>/<slug:slug>/", items.item_detail, name="item-detail"),
    path("<int:number>/<slug:slug>/card.png", cards.issue_card, name="issue-card"),
    path("<int:number>/", archive.issue_redirect, name="issue-number"),
    path("<int:number>/<slug:slug>/", archive.issue_detail, name="issue-detail"),
    path("<int:number>/<slug:slug>.md", archive.issue_markdown, name="issue-markdown"),
    # Anything else after a number (an old or mangled title) goes to the canonical URL.
    path("<int:number>/<path:rest>", archive.issue_redirect),
]

# Members' pages: submitting a link and following one's submissions. They sit at the site's
# root (/submit/, /my/submissions/) under the "portal" namespace, next to home and profile.
submission_patterns = [
    path("submit/", submissions.submission_create, name="submission-create"),
    path("submit/check/", submissions.submission_check, name="submission-check"),
    path("submit/fetch/", submissions.submission_fetch, name="submission-fetch"),
    path("submit/<int:pk>/endorse/", submissions.submission_endorse, name="submission-endorse"),
    path(
        "my/submissions/",
        # The member's own page, stored for them until a submission or an issue changes.
        reader_page("submissions", "archive", query=["page"], timeout=60, per_member=True)(
            submissions.SubmissionListView.as_view()
        ),
        name="submission-list",
    ),
    path("my/submissions/<int:pk>/", submissions.submission_detail, name="submission-detail"),
    path("my/submissions/<int:pk>/edit/", submissions.submission_edit, name="submission-edit"),
    path(
        "my/submissions/<int:pk>/withdraw/",
        submissions.submission_withdraw,
        name="submission-withdraw",
    ),
    path(
        "my/submissions/<int:pk>/withdraw/undo/",
        submissions.submission_withdraw_undo,
        name="submission-withdraw-undo",
    ),
]


def _tracking_webhooks() -> list[URLPattern]:
    """django-anymail's tracking webhook of each provider in EMAIL_TRACKING_PROVIDERS (by
    default the one EMAIL_BACKEND names) at /email/webhooks/<provider>/tracking/."""
    views = {
        pattern.name: pattern.callback
        for pattern in anymail_urls.urlpatterns
        if isinstance(pattern, URLPattern)
    }
    patterns = []
    for provider in settings.EMAIL_TRACKING_PROVIDERS:
        view = views.get(f"{provider}_tracking_webhook")
        if view is None:
            raise ImproperlyConfigured(
                f"EMAIL_TRACKING_PROVIDERS: django-anymail has no tracking webhook for {provider!r}."
            )
        _check_installed(provider, view)
        patterns.append(path(f"webhooks/{provider}/tracking/", view, name=f"tracking-{provider}"))
    return patterns


def _check_installed(provider: str, view) -> None:
    """A provider whose webhook needs an extra package (Amazon SES's needs boto3) fails at
    start-up with the command to fix it, not with a 500 to the provider's first bounce."""
    try:
        view.view_class(**view.view_initkwargs)
    except AnymailImproperlyInstalled as exc:
        extra = provider.replace("_", "-")
        raise ImproperlyConfigured(
            f"EMAIL_TRACKING_PROVIDERS: {provider!r} needs an extra package: "
            f"pip install 'django-anymail[{extra}]' ({exc})."
        ) from exc


# The email edition, at /email/ under the "email" namespace (portal/urls.py).
subscription_patterns = [
    path("subscribe/", subscribers.subscribe, name="subscribe"),
    path("subscribe/done/", subscribers.subscribe_done, name="subscribe-done"),
    path("confirm/<str:token>/", subscribers.confirm, name="confirm"),
    path("unsubscribe/<str:token>/", subscribers.unsubscribe, name="unsubscribe"),
    path("unsubscribe/<str:token>/again/", subscribers.resubscribe, name="resubscribe"),
    *_tracking_webhooks(),
]

# Discord interactions (members share, editors review) and the link that completes a
# submission typed in Discord, under /discord/ ("discord" namespace).
discord_patterns = [
    path("interactions/", discord.interactions, name="interactions"),
    path("link/<str:token>/", discord.link, name="link"),
]
