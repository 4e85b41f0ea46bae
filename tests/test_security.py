"""Security as a browser meets it: headers, cookies, no inline code, rate limits, flood limit.

Tests run with production settings (DEBUG off, so HSTS and secure cookies are on) and request
over https (`secure=True`), as a browser behind the TLS proxy would.
"""

from __future__ import annotations

import html
import threading

import pytest
from django.conf import settings
from django.core import mail
from django.core.cache import cache
from django.db import connection
from django.test import Client
from django.urls import reverse

from newsletter.models import Kind, Submission
from newsletter.services.submissions import SubmissionLimitReached, submission_create
from portal.settings import ACCOUNT_RATE_LIMITS as PRODUCTION_RATE_LIMITS
from tests.factories import UserFactory
from tests.html_inline import inline_code
from tests.sample_site import PASSWORD, build_site
from tests.test_csrf_walk import all_routes, build_url

STRICT_REFERRER_POLICIES = {
    "no-referrer",
    "same-origin",
    "strict-origin",
    "strict-origin-when-cross-origin",
}


@pytest.fixture
def site(db):
    return build_site()


def reader_pages(site) -> dict[str, tuple[str, bool]]:
    """The pages the issue names: name -> (path, needs a signed-in member)."""
    return {
        "home": ("/", False),
        "submit": (reverse("portal:submission-create"), True),
        "archive": (reverse("newsletter:archive"), False),
        "issue": (site.issue.get_absolute_url(), False),
        "event": (site.event.get_absolute_url(), False),
        # The editors' desk sends its visitors to the site's one login form.
        "admin login": (reverse("account_login") + "?next=/admin/", False),
        "sign-up": (reverse("account_signup"), False),
    }


def csp_directives(header: str) -> dict[str, list[str]]:
    directives = {}
    for part in header.split(";"):
        words = part.split()
        if words:
            directives[words[0]] = words[1:]
    return directives


@pytest.mark.parametrize(
    "page", ["home", "submit", "archive", "issue", "event", "admin login", "sign-up"]
)
def test_security_headers_on_real_pages(site, client, page):
    path, signed_in = reader_pages(site)[page]
    if signed_in:
        client.force_login(site.member)
    response = client.get(path, secure=True)
    assert response.status_code == 200

    policy = csp_directives(response["Content-Security-Policy"])
    assert "'unsafe-inline'" not in response["Content-Security-Policy"]
    assert "'unsafe-eval'" not in response["Content-Security-Policy"]
    assert policy["default-src"] == ["'self'"]
    assert policy["script-src"] == ["'self'"]
    assert policy["style-src"] == ["'self'"]
    assert policy["object-src"] == ["'none'"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert policy["base-uri"] == ["'self'"]

    hsts = dict(
        (item.strip().split("=") + [""])[:2]
        for item in response["Strict-Transport-Security"].split(";")
    )
    assert int(hsts["max-age"]) >= 60 * 60 * 24 * 365
    assert "includeSubDomains" in hsts
    assert response["X-Frame-Options"] == "DENY"
    assert response["Referrer-Policy"] in STRICT_REFERRER_POLICIES
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Cross-Origin-Opener-Policy"] == "same-origin"


@pytest.mark.parametrize(
    "page", ["home", "submit", "archive", "issue", "event", "admin login", "sign-up"]
)
def test_page_has_no_inline_script_or_style(site, client, page):
    path, signed_in = reader_pages(site)[page]
    if signed_in:
        client.force_login(site.member)
    response = client.get(path, secure=True)
    assert inline_code(response.content.decode()) == []


# Not pages of the site but the email edition as subscribers get it, framed by the admin's
# preview: mail clients ignore style sheets, so its styles are inline. Its own policy allows
# inline styles, and no script at all (a sandbox without allow-scripts).
EMAIL_DOCUMENTS = {"admin/newsletter/issue/<int:pk>/email/preview.html"}


def test_no_html_page_of_the_site_needs_unsafe_inline(site):
    """Every page the URL walk reaches, as an editor and as a visitor, admin pages included."""
    editor = Client()
    editor.force_login(site.superuser)
    visitor = Client()
    found, scanned = [], 0
    for route in all_routes():
        url = build_url(route, site)
        for who, client in (("editor", editor), ("visitor", visitor)):
            response = client.get(url, secure=True)
            if response.status_code != 200 or "html" not in response.get("Content-Type", ""):
                continue
            if route.template in EMAIL_DOCUMENTS:
                policy = csp_directives(response["Content-Security-Policy"])
                assert policy["script-src"] == ["'self'"]
                assert policy["style-src"] == ["'self'", "'unsafe-inline'"]
                assert policy["sandbox"] == ["allow-popups", "allow-popups-to-escape-sandbox"]
                continue
            scanned += 1
            found += [
                f"{url} ({who}) {problem}" for problem in inline_code(response.content.decode())
            ]
    assert found == []
    assert scanned > 50


def test_inline_finder_sees_what_csp_blocks():
    page = (
        '<p style="color:red" onclick="x()">a</p><style>p{}</style>'
        "<script>alert(1)</script><script src='/static/js/a.js'></script>"
        '<script type="application/json">{"a": 1}</script><a href="javascript:alert(1)">b</a>'
    )
    found = inline_code(page)
    assert len(found) == 5
    assert any("inline <script>: 'alert(1)'" in item for item in found)


def test_login_sets_secure_httponly_session_and_csrf_cookies(site, client):
    page = client.get(reverse("account_login"), secure=True)
    csrf = page.cookies[settings.CSRF_COOKIE_NAME]
    assert csrf["secure"] and csrf["httponly"]
    assert csrf["samesite"] == "Lax"
    response = client.post(
        reverse("account_login"),
        {"login": site.member.email, "password": PASSWORD},
        secure=True,
    )
    assert response.status_code == 302
    session = response.cookies[settings.SESSION_COOKIE_NAME]
    assert session["secure"] and session["httponly"]
    assert session["samesite"] == "Lax"


def test_error_pages_carry_the_security_headers(site, client):
    response = client.get("/no-such-page/", secure=True)
    assert response.status_code == 404
    assert "'unsafe-inline'" not in response["Content-Security-Policy"]
    assert response["X-Frame-Options"] == "DENY"
    assert inline_code(response.content.decode()) == []


def test_plain_http_is_redirected_to_https_in_production(site, client, settings):
    settings.SECURE_SSL_REDIRECT = True  # production's default; tests turn it off
    response = client.get("/")
    assert response.status_code == 301
    assert response["Location"].startswith("https://")


# --- Rate limits (allauth, counted in the cache) ---------------------------------------------


@pytest.fixture
def rate_limits(settings):
    """Production's limits (tests switch them off globally), from an empty cache."""
    settings.ACCOUNT_RATE_LIMITS = PRODUCTION_RATE_LIMITS
    cache.clear()
    yield PRODUCTION_RATE_LIMITS
    cache.clear()


def test_failed_logins_for_one_account_are_limited(site, client, rate_limits):
    answers = []
    for _ in range(7):
        response = client.post(
            reverse("account_login"),
            {"login": site.member.email, "password": "wrong guess"},
            secure=True,
        )
        answers.append(response.status_code)
    text = response.content.decode()
    # Five tries per account in five minutes: then even the right password is refused.
    assert "Too many failed login attempts" in text
    response = client.post(
        reverse("account_login"), {"login": site.member.email, "password": PASSWORD}, secure=True
    )
    assert response.status_code != 302
    assert "_auth_user_id" not in client.session


def test_logins_from_one_address_are_limited(site, rate_limits):
    statuses = []
    for n in range(35):
        client = Client()
        response = client.post(
            reverse("account_login"),
            {"login": f"someone{n}@example.org", "password": "wrong guess"},
            secure=True,
        )
        statuses.append(response.status_code)
    assert statuses[0] == 200
    assert statuses[-1] == 429


def test_signups_from_one_address_are_limited(db, client, rate_limits):
    statuses = []
    for n in range(12):
        response = Client().post(
            reverse("account_signup"),
            {
                "email": f"newcomer{n}@example.org",
                "password1": "a long passphrase 42",
                "password2": "a long passphrase 42",
            },
            secure=True,
        )
        statuses.append(response.status_code)
    assert statuses[:10] == [302] * 10
    assert statuses[10:] == [429, 429]
    assert len(mail.outbox) == 10


def test_password_resets_are_limited_per_address_and_per_account(site, rate_limits):
    client = Client()
    statuses = []
    for _ in range(7):
        response = client.post(
            reverse("account_reset_password"), {"email": site.member.email}, secure=True
        )
        statuses.append(response.status_code)
    # Five reset emails per account and hour; the sixth request gets the limit page, no email.
    assert statuses[:5] == [302] * 5
    assert 429 in statuses[5:]
    assert len(mail.outbox) == 5


def test_rate_limited_page_is_friendly(site, rate_limits):
    for n in range(11):
        response = Client().post(
            reverse("account_signup"),
            {
                "email": f"flood{n}@example.org",
                "password1": "a long passphrase 42",
                "password2": "a long passphrase 42",
            },
            secure=True,
        )
    assert response.status_code == 429
    text = response.content.decode()
    assert "Too many" in text
    assert "<html" in text  # the site's own page, not a bare error string
    assert response["Content-Security-Policy"]


# --- The submission flood limit ----------------------------------------------------------------


def submit_data(n: int) -> dict:
    return {
        "url": f"https://example.org/flood/{n}",
        "kind": "blog",
        "title": f"Post {n}",
        "summary": "",
        "note_to_editors": "",
        "links-TOTAL_FORMS": "0",
        "links-INITIAL_FORMS": "0",
        "links-MIN_NUM_FORMS": "0",
        "links-MAX_NUM_FORMS": "3",
    }


def test_submission_flood_limit_holds_through_the_form(member_client, member, settings):
    settings.NEWSLETTER_SUBMISSIONS_PER_DAY = 3
    statuses = [
        member_client.post(reverse("portal:submission-create"), submit_data(n), secure=True)
        for n in range(5)
    ]
    assert [r.status_code for r in statuses] == [302, 302, 302, 200, 200]
    assert "today's limit of 3 submissions" in html.unescape(statuses[-1].content.decode())
    assert Submission.objects.filter(author=member).count() == 3


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_submission_flood_limit_holds_under_concurrent_posts(settings):
    """Twenty simultaneous submissions by one member: never more than the daily limit stored."""
    settings.NEWSLETTER_SUBMISSIONS_PER_DAY = 5
    author = UserFactory()
    barrier = threading.Barrier(20)
    outcomes: list[str] = []
    lock = threading.Lock()

    def submit(n: int) -> None:
        try:
            barrier.wait(timeout=10)
            submission_create(
                author=author, url=f"https://example.org/race/{n}", kind=Kind.BLOG, title=f"{n}"
            )
            outcome = "stored"
        except SubmissionLimitReached:
            outcome = "limit"
        except Exception as exc:  # reported below: every outcome must be one of the two
            outcome = f"{type(exc).__name__}: {exc}"
        finally:
            connection.close()
        with lock:
            outcomes.append(outcome)

    threads = [threading.Thread(target=submit, args=(n,)) for n in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(set(outcomes)) == ["limit", "stored"]
    assert outcomes.count("stored") == 5
    assert Submission.objects.filter(author=author).count() == 5
