"""The email edition in a real browser: a reader subscribes from the home page, confirms and
unsubscribes; and the email itself, rendered by Chromium at a desktop client's 600 pixels and a
phone's 390, in light and dark mode (screenshots under artifacts/screenshots/email-*)."""

from __future__ import annotations

import re

from django.core import mail
from playwright.sync_api import expect

from newsletter.email import issue_email
from newsletter.models import Kind, Submission, Subscriber
from newsletter.services.compose import issue_item_add
from newsletter.services.issues import issue_create, issue_publish
from newsletter.services.subscribers import unsubscribe_token
from tests.browser.conftest import SCREENSHOTS, browser_test
from tests.factories import EditorFactory, SubmissionFactory

pytestmark = browser_test


def published_issue():
    editor = EditorFactory()
    issue = issue_create(
        title="Kernels, quantisation and a very long word: "
        "Supercalifragilisticexpialidociousnessofattentionkernels",
        introduction="Hello **readers**: a month of faster models. [All issues](/archive/).",
        closing="Thanks for reading — see you next month.",
        actor=editor,
    )
    for number, kind in enumerate([Kind.PAPER, Kind.BLOG, Kind.TOOL, Kind.REPO]):
        issue_item_add(
            issue=issue,
            submission=SubmissionFactory(
                state=Submission.State.ACCEPTED,
                kind=kind,
                title=f"Item {number}: quantised attention kernels for small GPUs",
                url=f"https://example.org/a/very/long/path/{'segment' * 12}/{number}",
                summary="Int4 attention with **no accuracy loss** on long contexts; "
                "`code` and [a link](https://example.org/x).",
            ),
            actor=editor,
        )
    return issue_publish(issue=issue, actor=editor)


def test_reader_subscribes_from_the_home_page_confirms_and_unsubscribes(open_tab):
    tab = open_tab("email")
    page = tab.page

    tab.go("/")
    card = page.locator(".subscribe-card")
    expect(card.get_by_role("heading")).to_have_text("Get each issue by email")
    card.get_by_label("Your email address").fill("Ada@Example.org")
    tab.shot("01-home-form")
    card.get_by_role("button", name="Subscribe").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Check your inbox")
    tab.shot("02-check-inbox")

    [message] = [m for m in mail.outbox if m.to == ["Ada@example.org"]]
    path = re.search(r"https?://[^/\s]+(/email/confirm/\S+/)", message.body).group(1)
    tab.go(path)
    tab.shot("03-confirm")
    page.get_by_role("button", name="Confirm").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("You are subscribed")
    subscriber = Subscriber.objects.get()
    assert subscriber.state == Subscriber.State.CONFIRMED

    # The footer link of an email is one click: opening it unsubscribes.
    tab.go(f"/email/unsubscribe/{unsubscribe_token(subscriber)}/")
    expect(page.get_by_role("heading", level=1)).to_have_text("You are unsubscribed")
    tab.shot("05-unsubscribed")
    subscriber.refresh_from_db()
    assert subscriber.state == Subscriber.State.UNSUBSCRIBED
    page.get_by_role("button", name="Subscribe again").click()
    expect(page.get_by_text("Welcome back")).to_be_visible()
    subscriber.refresh_from_db()
    assert subscriber.state == Subscriber.State.CONFIRMED

    # The footer's form, with bad input: the error is next to the field, nothing is stored.
    tab.go("/archive/")
    footer = page.locator(".site-footer")
    footer.get_by_label("Get each issue by email").fill("аda@example.org")
    footer.get_by_role("button", name="Subscribe").click()
    expect(page.locator(".errorlist")).to_contain_text("plain Latin letters")
    tab.shot("06-refused")
    # The form error comes with a 400, which the browser's console notes; nothing else may.
    refused = [e for e in tab.errors if "status of 400" in e and "/email/subscribe/" in e]
    assert len(refused) == 1
    tab.errors.remove(refused[0])
    tab.assert_clean()


def test_the_email_reads_well_at_600_and_390_pixels_in_light_and_dark(chromium, db):
    email = issue_email(published_issue())
    html = email.html.replace("unsubscribe-token-slot", "1:preview")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    context = chromium.new_context(java_script_enabled=False)
    try:
        page = context.new_page()
        for width in (600, 390):
            for scheme in ("light", "dark"):
                page.set_viewport_size({"width": width, "height": 900})
                page.emulate_media(color_scheme=scheme)
                page.set_content(html)
                wide = page.evaluate("document.documentElement.scrollWidth")
                assert wide <= width, f"{width} px ({scheme}): the email is {wide} px wide"
                page.screenshot(path=SCREENSHOTS / f"email-{width}-{scheme}.png", full_page=True)
                card = page.locator(".card")
                background = card.evaluate("e => getComputedStyle(e).backgroundColor")
                expected = "rgb(28, 33, 43)" if scheme == "dark" else "rgb(255, 255, 255)"
                assert background == expected, (width, scheme, background)
                title = page.locator("h1")
                assert title.bounding_box()["width"] <= width
                font = page.locator(".item-blurb p").first.evaluate(
                    "e => parseFloat(getComputedStyle(e).fontSize)"
                )
                assert font >= 16  # readable on a phone without zooming
    finally:
        context.close()
