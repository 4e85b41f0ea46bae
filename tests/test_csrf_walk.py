"""Every URL of the site, found by walking the URL conf, is safe to GET and refuses a forged POST.

The walk covers our views, the admin's (with every ModelAdmin's own URLs) and allauth's, so a new
view cannot forget: it appears here the moment it is routed. For each pattern the test builds a
concrete URL from a sample site, then

1. GETs it as an editor with superuser rights and as a visitor: no INSERT, UPDATE or DELETE may
   run (a GET that changes state could be triggered by an <img> on another site);
2. POSTs to it, signed in as the superuser but without a CSRF token: the answer is 403 (or 405
   for a view that only answers GET), and no write may run. The few views that take no token by
   design (CSRF_EXEMPT, each with its reason) get the POST with their secret spoiled instead,
   and must refuse it (4xx) without writing.

A pattern with a URL parameter this file has no sample value for fails the test with the
parameter's name: add the value to `sample_kwargs`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pytest
from django.apps import apps
from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.core import signing
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import URLPattern, URLResolver, get_resolver, resolve, reverse

from newsletter.interactions.linking import LINK_SALT
from newsletter.models import KIND_SLUGS, Issue, Kind, Submission
from newsletter.services.subscribers import confirm_token, unsubscribe_token
from tests.sample_site import Site, build_site

# Patterns the walk does not request, each with the reason. Keep it short: a pattern belongs here
# only when no sample value can be built for it.
ALLOW_LIST: dict[str, str] = {}

# Views that take no CSRF token by design, and why. Their authority is a secret in the request
# (a signed link, a webhook's credentials) or none at all (anyone may ask; the owner of the
# address confirms by email). Keep it short: every other POST must need the token.
CSRF_EXEMPT: dict[str, str] = {
    "email/subscribe/": (
        "its form is on cached reader pages, which cannot carry a per-visitor token; it acts on "
        "no session, and the address's owner confirms by email (double opt-in)"
    ),
    "email/unsubscribe/<str:token>/": (
        "RFC 8058: mail providers POST the one-click unsubscribe without any token; the signed "
        "link is the authority"
    ),
    "email/webhooks/postmark/tracking/": "django-anymail's bounce webhook, with basic auth",
    "email/webhooks/mailgun/tracking/": "django-anymail's bounce webhook, basic auth and HMAC",
    "discord/interactions/": (
        "Discord POSTs interactions signed with the application's Ed25519 key (checked first)"
    ),
}
SPOILED_TOKEN = "1:not-a-signature"

# Admin models that have no sample object: their object pages are requested with a pk that does
# not exist (the admin answers with a redirect), which still checks GET and the CSRF refusal.
# Social accounts, tokens and apps: third-party sign-in is configured by environment variables
# and these rows exist only once a provider is set up.
ADMIN_MODELS_WITHOUT_SAMPLE = {
    "socialaccount.socialapp",
    "socialaccount.socialtoken",
    "socialaccount.socialaccount",
}
MISSING_PK = "999999"

# Writes a GET may make, each for a reason that is not a change of the site's state:
IGNORED_WRITE_TABLES = {
    # The session: allauth keeps a password-reset key in it before redirecting (so the key
    # leaves the URL), and messages may be stored there. It is the visitor's own scratch space.
    "django_session",
}
# Not ignored because they never show up as SQL here: allauth's rate-limit counters live in the
# cache, and last_login is written when a user logs in (force_login, before the walk), not on
# the GETs of the walk.

WRITE = re.compile(r"^\s*(INSERT|UPDATE|DELETE)\b", re.IGNORECASE)
TABLE = re.compile(r'^\s*(?:INSERT\s+INTO|UPDATE|DELETE\s+FROM)\s+"?(\w+)"?', re.IGNORECASE)


@dataclass(frozen=True)
class Route:
    template: str  # the route as written, with its converters and regex groups
    pattern: URLPattern
    admin_model: str  # "app_label.model_name" under admin/<app>/<model>/, else ""


def walk(resolver: URLResolver, prefix: str = "", admin_model: str = "") -> list[Route]:
    routes = []
    for entry in resolver.url_patterns:
        piece = str(entry.pattern)
        if isinstance(entry, URLResolver):
            model = admin_model
            match = re.fullmatch(r"admin/(\w+)/(\w+)/", prefix + piece)
            if match:
                model = f"{match[1]}.{match[2]}"
            routes += walk(entry, prefix + piece, model)
        else:
            routes.append(Route(prefix + piece, entry, admin_model))
    return routes


PARAM = re.compile(
    r"<(?:(?P<converter>\w+):)?(?P<name>\w+)>|\(\?P<(?P<group>\w+)>(?:[^()]|\([^()]*\))*\)"
)


def sample_kwargs(route: Route, site: Site) -> dict[str, str]:
    """A real value for each URL parameter, chosen by its name and where the pattern lives."""
    if route.admin_model:
        app_label, model_name = route.admin_model.split(".")
        model = apps.get_model(app_label, model_name)
        if route.admin_model in ADMIN_MODELS_WITHOUT_SAMPLE:
            pk = MISSING_PK
        else:
            obj = model._default_manager.order_by("pk").first()
            assert obj is not None, (
                f"build_site() makes no {route.admin_model} for {route.template}"
            )
            pk = str(obj.pk)
        return {"object_id": pk, "pk": pk, "id": pk}
    if route.template.startswith("admin/"):
        return {
            "app_label": "newsletter",
            "url": "no-such-page/",
            "content_type_id": str(ContentType.objects.get_for_model(Issue).pk),
            "object_id": str(site.issue.pk),
        }
    if route.template.startswith("accounts/"):
        return {"key": site.confirm_key, "uidb36": site.reset_uidb36} | (
            {"key": site.reset_key} if "uidb36" in route.template else {}
        )
    if route.template.startswith("archive/"):
        return {
            "user_id": str(site.member.pk),
            "pk": str(site.draft.pk),
            "kind_slug": KIND_SLUGS[Kind.PAPER],
            "number": str(site.issue.number),
            "slug": site.issue.slug,
            "rest": "an/old title",
        }
    if route.template.startswith("events/"):
        # The personal calendar's token: any will do, an unknown one is a 404 like a known one's
        # GET (the walk checks that POSTs without a CSRF token change nothing).
        return {"slug": site.event.slug, "token": "no-such-calendar"}
    if route.template.startswith("discord/"):
        return {"token": signing.dumps({"p": 0, "u": "0"}, salt=LINK_SALT)}
    if route.template.startswith("email/"):
        if "unsubscribe" in route.template:
            return {"token": unsubscribe_token(site.reader)}
        return {"token": confirm_token(site.reader)}
    # The members' side: the pending submission belongs to the superuser.
    return {"pk": str(site.submission.pk)}


def build_url(route: Route, site: Site, *, spoiled: bool = False) -> str:
    values = sample_kwargs(route, site)
    if spoiled and "token" in values:
        values["token"] = SPOILED_TOKEN
    missing = []

    def fill(match: re.Match) -> str:
        name = match["name"] or match["group"]
        if name not in values:
            missing.append(name)
            return ""
        return values[name]

    path = PARAM.sub(fill, route.template)
    assert not missing, (
        f"no sample value for {missing} in {route.template}: add one to sample_kwargs"
    )
    return "/" + path.replace("^", "").replace("$", "")


def writes(queries: CaptureQueriesContext) -> list[str]:
    found = []
    for query in queries.captured_queries:
        sql = query["sql"]
        if not WRITE.match(sql):
            continue
        table = TABLE.match(sql)
        if table and table[1] in IGNORED_WRITE_TABLES:
            continue
        found.append(sql[:200])
    return found


def all_routes() -> list[Route]:
    return [r for r in walk(get_resolver()) if r.template not in ALLOW_LIST]


def test_allow_list_stays_small_and_current():
    templates = {r.template for r in walk(get_resolver())}
    assert len(ALLOW_LIST) <= 5
    assert set(ALLOW_LIST) <= templates, "an allow-listed pattern no longer exists: remove it"


def test_exactly_the_listed_views_are_csrf_exempt():
    """What CSRF_EXEMPT names is exempt, and nothing of ours else: a new exempt view fails here."""
    exempt = {
        route.template
        for route in all_routes()
        if getattr(route.pattern.callback, "csrf_exempt", False)
        and not route.template.startswith(("admin/", "accounts/"))
    }
    assert exempt == set(CSRF_EXEMPT)


def test_walk_finds_the_admin_allauth_and_our_views():
    templates = {r.template for r in all_routes()}
    assert "admin/newsletter/issue/<path:object_id>/change/" in templates
    assert "accounts/password/reset/" in templates
    assert "my/submissions/<int:pk>/withdraw/" in templates
    assert "events/<slug:slug>/rsvp/" in templates
    assert len(templates) > 100


@pytest.mark.django_db
def test_every_url_is_safe_to_get_and_refuses_a_post_without_csrf_token():
    site = build_site()
    editor = Client()
    editor.force_login(site.superuser)
    visitor = Client()
    forger = Client(enforce_csrf_checks=True)
    forger.force_login(site.superuser)
    problems = []
    requested = 0
    before = row_counts()
    for route in all_routes():
        url = build_url(route, site)
        match = resolve(url.split("?")[0])
        assert match.func == route.pattern.callback, (
            f"{url} resolves elsewhere than {route.template}"
        )
        for who, client in (("editor", editor), ("visitor", visitor)):
            with CaptureQueriesContext(connection) as queries:
                try:
                    response = client.get(url, secure=True)
                except Exception as exc:  # reported with the others, so one run shows them all
                    problems.append(f"GET {url} as {who} raised {type(exc).__name__}: {exc}")
                    continue
            if response.status_code >= 500:
                problems.append(f"GET {url} as {who}: {response.status_code}")
            problems += [f"GET {url} as {who} wrote: {sql}" for sql in writes(queries)]
        exempt = route.template in CSRF_EXEMPT
        if exempt:
            url = build_url(route, site, spoiled=True)
        with CaptureQueriesContext(connection) as queries:
            response = forger.post(url, {"title": "forged", "status": "going"}, secure=True)
        if exempt and not 400 <= response.status_code < 500:
            problems.append(f"POST {url} (exempt) with a spoiled secret: {response.status_code}")
        elif not exempt and response.status_code not in (403, 405):
            problems.append(f"POST {url} without CSRF token: {response.status_code}")
        problems += [f"POST {url} without CSRF token wrote: {sql}" for sql in writes(queries)]
        requested += 1
    assert not problems, "\n".join(problems)
    assert requested == len(all_routes())
    assert row_counts() == before


def row_counts() -> dict[str, int]:
    """Rows per table, sessions aside: what a GET or a refused POST must leave as it was."""
    return {
        model._meta.db_table: model._default_manager.count()
        for model in apps.get_models()
        if model._meta.db_table not in IGNORED_WRITE_TABLES
    }


@pytest.mark.django_db
def test_forged_post_is_refused_but_the_same_post_with_the_token_works():
    """The control: the 403s above come from the missing token, not from the view."""
    site = build_site()
    client = Client(enforce_csrf_checks=True)
    client.force_login(site.superuser)
    withdraw = reverse("portal:submission-withdraw", args=[site.submission.pk])
    assert client.post(withdraw, secure=True).status_code == 403
    site.submission.refresh_from_db()
    assert site.submission.state == Submission.State.PENDING

    page = client.get(site.submission.get_absolute_url(), secure=True)
    token = client.cookies[settings.CSRF_COOKIE_NAME].value
    assert page.status_code == 200
    response = client.post(
        withdraw,
        {"csrfmiddlewaretoken": token},
        secure=True,
        HTTP_REFERER=f"https://testserver{site.submission.get_absolute_url()}",
    )
    assert response.status_code == 302
    site.submission.refresh_from_db()
    assert site.submission.state == Submission.State.WITHDRAWN
