"""Root URLs: the members' side, the archive, events, accounts and the admin."""

from django.conf import settings
from django.contrib import admin
from django.contrib.sitemaps.views import sitemap
from django.urls import include, path
from django.views.generic import TemplateView

from newsletter.sitemaps import SITEMAPS
from newsletter.urls import discord_patterns, submission_patterns, subscription_patterns
from portal import views

admin.site.site_header = f"{settings.SITE_NAME} editors"
admin.site.site_title = "Editors"
admin.site.index_title = "Review, compose and deliver"
# The desk has no login form of its own: the site's one login (allauth's) and its limits.
admin.site.login = views.admin_login
# The editors' pages are wide tables (the review queue, the composer): give them the room.
admin.site.enable_nav_sidebar = False

# The members' side: home, profile, and (from the newsletter) submitting and following links.
member_patterns = [
    path("", views.home, name="home"),
    path("profile/", views.profile, name="profile"),
    path("profile/my-data.json", views.account_data, name="account-data"),
    path("profile/delete/", views.account_delete_view, name="account-delete"),
    *submission_patterns,
]

urlpatterns = [
    path("admin/", admin.site.urls),
    path("accounts/", include("allauth.urls")),
    # markdownx's live preview, for signed-in members, at the address its editor posts to.
    # Its image upload has no URL: nothing on the site can show an image (docs/security.md).
    path("markdownx/markdownify/", views.markdown_preview, name="markdownx_markdownify"),
    path("archive/", include("newsletter.urls")),
    path("events/", include("events.urls")),
    path("email/", include((subscription_patterns, "email"))),
    path("discord/", include((discord_patterns, "discord"))),
    path("healthz", views.healthz, name="healthz"),
    path("readyz", views.readyz, name="readyz"),
    path("sitemap.xml", sitemap, {"sitemaps": SITEMAPS}, name="sitemap"),
    path(
        "robots.txt",
        TemplateView.as_view(template_name="robots.txt", content_type="text/plain"),
        name="robots",
    ),
    path("", include((member_patterns, "portal"))),
]
