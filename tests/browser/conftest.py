"""Playwright fixtures: Debian's Chromium driving the site on pytest-django's live server.

Every test here is marked `browser` (skipped with a clear reason when Chromium is missing) and
uses the live server, so it runs on a real database with committed rows; data created by the
migrations (the Editors group, the default sections) is restored for each test by the
`_data_migration_rows` fixture in tests/conftest.py.

`Tab` wraps a Playwright page: it records every dialog, console error, page error and CSP
violation, and `shot(step)` saves full-page screenshots at 1280 and at 390 pixels wide under
artifacts/screenshots/<journey>-<step>-<desktop|phone>.png, noting any page that scrolls
sideways at either width. A failed test leaves its pages there too (failed-<test>-<n>.png/html).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from django.conf import settings
from django.core import mail
from django.test import Client
from playwright.sync_api import expect

# Playwright's sync API runs an event loop in this thread; Django's ORM refuses to run in a
# thread with a running loop unless told that this is deliberate.
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "artifacts" / "screenshots"
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
TIMEOUT_MS = 10_000

# Marks for every browser test: the skip rule, and a live server on a real (committed) database
# whose migration data comes back for each test.
browser_test = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
]

# Runs before the page's own scripts: records what the Content-Security-Policy blocks.
_WATCH_SCRIPT = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", function (e) {
  window.__cspViolations.push(e.violatedDirective + " " + (e.blockedURI || "inline"));
});
"""


# Chromium's own XSLT machinery on a feed (our feeds carry an XSL stylesheet): it warns that
# XSLT is deprecated and shows a banner whose inline style and handlers our CSP refuses. The
# feed page itself has no inline style or handler (tests/browser/test_feed_journey.py checks).
_CHROMIUM_XSLT_NOISE = (
    "XSLT",
    "Applying inline style violates",
    "Executing inline event handler violates",
)


def _is_feed(url: str) -> bool:
    return "/feed/" in urlsplit(url).path


@dataclass
class Tab:
    """A browser tab on the live server, with what went wrong in it recorded."""

    page: object
    base_url: str
    journey: str
    dialogs: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    csp_violations: list[str] = field(default_factory=list)
    # Pages that scroll sideways (with the elements that stick out), controls out of sight.
    layout_problems: list[str] = field(default_factory=list)

    def go(self, path: str, *, status: int = 200):
        response = self.page.goto(self.url(path))
        if response is None:  # only the #fragment changed: no request was made
            assert "#" in path, f"{path}: no response"
        else:
            assert response.status == status, f"{path}: HTTP {response.status}"
        self._check_styled()
        return response

    def url(self, path: str) -> str:
        return path if path.startswith("http") else f"{self.base_url}{path}"

    def path(self) -> str:
        return self.page.url.removeprefix(self.base_url)

    def _check_styled(self) -> None:
        """The stylesheet loaded (the live server serves static files); the admin and the
        feeds have none of ours."""
        loaded = self.page.evaluate(
            """() => !document.querySelector("link[href*='css/portal.css']") ||
                [...document.styleSheets].some(
                  s => (s.href || "").includes("portal.css") && s.cssRules.length > 0)"""
        )
        assert loaded, f"portal.css did not load on {self.page.url}"

    def collect_csp(self) -> list[str]:
        found = self.page.evaluate("() => window.__cspViolations || []")
        if _is_feed(self.page.url):  # Chromium's XSLT banner, above
            found = [v for v in found if not v.endswith("-attr inline")]
        self.csp_violations.extend(found)
        return found

    def shot(self, step: str) -> None:
        """Full-page screenshots at desktop and phone width. A layout that scrolls sideways at
        either width is noted in `layout_problems`; the journey goes on, so that every screenshot
        is taken and every problem listed at the end."""
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        name = f"{self.journey}-{step}"
        for label, viewport in (("desktop", DESKTOP), ("phone", PHONE)):
            self.page.set_viewport_size(viewport)
            overflow = self.page.evaluate(_OVERFLOW_SCRIPT, viewport["width"])
            if overflow:
                self.layout_problems.append(
                    f"{name}-{label}: wider than {viewport['width']} px: {overflow}"
                )
            self.page.screenshot(path=SCREENSHOTS / f"{name}-{label}.png", full_page=True)
        self.page.set_viewport_size(DESKTOP)

    def expect_in_view(self, locator, what: str) -> None:
        """Note a control the person would have to scroll sideways to find."""
        try:
            expect(locator).to_be_in_viewport(timeout=2_000)
        except AssertionError:
            self.layout_problems.append(
                f"{self.journey}: {what} is out of sight at {self.page.url}"
            )

    def assert_clean(self) -> None:
        """Nothing went wrong in this tab: no dialog, error, CSP violation or too-wide page."""
        assert self.dialogs == [], self.dialogs
        assert self.errors == [], self.errors
        assert self.collect_csp() == [], self.csp_violations
        assert self.layout_problems == [], "\n".join(self.layout_problems)


# The elements that stick out of a phone-wide page (outside scrollable boxes), for the message.
_OVERFLOW_SCRIPT = """
(width) => {
  if (document.documentElement.scrollWidth <= width) return [];
  const inScroller = (el) => {
    for (let p = el.parentElement; p; p = p.parentElement) {
      const s = getComputedStyle(p).overflowX;
      if (s === "auto" || s === "scroll" || s === "hidden") return true;
    }
    return false;
  };
  const wide = [];
  for (const el of document.body.querySelectorAll("*")) {
    const r = el.getBoundingClientRect();
    if (r.right > width + 1 && !inScroller(el)) {
      wide.push(el.tagName.toLowerCase() + (el.id ? "#" + el.id : "") +
        (el.className && typeof el.className === "string" ? "." + el.className.split(" ").join(".") : "") +
        " right=" + Math.round(r.right));
    }
  }
  return wide.length ? wide.slice(0, 8) : ["page scrollWidth " + document.documentElement.scrollWidth];
}
"""


@pytest.fixture
def browser_settings(settings, live_server):
    """What a browser on plain http://localhost needs from the production-like test settings."""
    settings.ACCOUNT_DEFAULT_HTTP_PROTOCOL = "http"
    settings.SITE_URL = live_server.url
    return settings


@pytest.fixture
def open_tab(chromium, live_server, browser_settings, request) -> Iterator:
    """open_tab(journey, user=None, bypass_csp=False) -> Tab; user: signed in through a cookie."""
    contexts = []

    def open_(journey: str, *, user=None, bypass_csp: bool = False) -> Tab:
        context = chromium.new_context(viewport=DESKTOP, bypass_csp=bypass_csp)
        context.set_default_timeout(TIMEOUT_MS)
        context.add_init_script(_WATCH_SCRIPT)
        contexts.append(context)
        if user is not None:
            sign_in(context, live_server.url, user)
        page = context.new_page()
        tab = Tab(page=page, base_url=live_server.url, journey=journey)

        def on_dialog(dialog) -> None:
            tab.dialogs.append(f"{dialog.type}: {dialog.message}")
            dialog.dismiss()

        def on_console(message) -> None:
            source = (message.location or {}).get("url", "")
            # The site has no favicon; the browser asks for one on its own.
            if message.type != "error" or source.endswith("/favicon.ico"):
                return
            if _is_feed(source) and any(n in message.text for n in _CHROMIUM_XSLT_NOISE):
                return
            tab.errors.append(f"console: {message.text} ({source})")

        page.on("dialog", on_dialog)
        page.on("console", on_console)
        page.on("pageerror", lambda exc: tab.errors.append(f"pageerror: {exc}"))
        return tab

    yield open_
    report = getattr(request.node, "rep_call", None)
    for context in contexts:
        if report is not None and report.failed:
            _save_failure(context, request.node.name)
        context.close()


def _save_failure(context, test_name: str) -> None:
    """The page as it was when the test failed, to look at afterwards."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for number, page in enumerate(context.pages):
        stem = SCREENSHOTS / f"failed-{test_name}-{number}"
        try:
            page.screenshot(path=f"{stem}.png", full_page=True)
            Path(f"{stem}.html").write_text(page.content())
        except Exception as exc:  # best effort: the test has failed already
            Path(f"{stem}.txt").write_text(f"could not save the page: {exc}")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report


def sign_in(context, base_url: str, user) -> None:
    """Give the browser a session for `user` (the login form has its own journey)."""
    client = Client()
    client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
    cookie = client.cookies[settings.SESSION_COOKIE_NAME]
    context.add_cookies(
        [{"name": cookie.key, "value": cookie.value, "url": base_url, "httpOnly": True}]
    )


def confirmation_link(base_url: str, address: str) -> str:
    """The confirmation link of the last email sent to `address`, on the live server."""
    sent = [m for m in mail.outbox if address in m.to]
    assert sent, f"no email to {address}; outbox: {[m.subject for m in mail.outbox]}"
    match = re.search(r"https?://[^/\s]+(/accounts/confirm-email/[^\s]+)", sent[-1].body)
    assert match, sent[-1].body
    return f"{base_url}{match.group(1)}"
