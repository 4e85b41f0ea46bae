"""A Discord member with no account on the site shares a link from Discord, follows the link in
the reply, signs up with Discord (the stand-in's OAuth pages) and finds the submission sent."""

from playwright.sync_api import expect

from newsletter.models import Submission
from tests.browser.conftest import browser_test
from tests.stubs.discord_apps import discord_user

pytestmark = browser_test

DISCORD_ID = "1300000000000000077"


def test_share_from_discord_then_sign_up_with_discord(open_tab, discord_app, discord_login):
    discord_login.apps.oauth_user = {
        "id": DISCORD_ID,
        "username": "grace",
        "email": "grace@example.org",
        "verified": True,
    }
    # In Discord: /share, then the modal, typed with care.
    answer = discord_app.modal(
        "share",
        {
            "url": "https://example.org/compilers",
            "title": "Compilers, plainly",
            "summary": "A gentle **introduction**.",
            "kind": "blog",
        },
        user=discord_user(DISCORD_ID, "grace"),
    ).json()
    link = answer["data"]["components"][0]["components"][0]["url"]
    assert Submission.objects.count() == 0

    tab = open_tab("discord-link")
    page = tab.page
    page.goto(link)
    expect(page.get_by_role("heading", level=1)).to_contain_text("Send what you shared")
    expect(page.get_by_text("Compilers, plainly")).to_be_visible()
    tab.shot("01-link")
    page.get_by_role("link", name="Continue with Discord").click()

    # allauth asks before leaving for Discord; the stand-in's consent page, then back.
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Authorize access")
    page.get_by_role("link", name="Authorize").click()

    # Back on the site, signed up and signed in: one press sends it.
    expect(page.get_by_role("button", name="Send to the editors")).to_be_visible()
    tab.shot("02-ready")
    page.get_by_role("button", name="Send to the editors").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("My submissions")
    expect(page.get_by_text("submitted from Discord")).to_be_visible()
    tab.shot("03-sent")

    submission = Submission.objects.get()
    assert submission.title == "Compilers, plainly"
    assert submission.author.email == "grace@example.org"
    assert submission.author.socialaccount_set.get().uid == DISCORD_ID
    assert submission.source == Submission.Source.DISCORD

    tab.assert_clean()

    # The link worked once.
    response = page.goto(link)
    assert response.status == 410
    expect(page.get_by_text("This link was already used")).to_be_visible()
